using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace LitePcie.Hil.Cli;

/// <summary>
/// Where a command writes. Three shapes of output: <b>terminal</b> (Spectre.Console tables, colours unless
/// NO_COLOR is set, live redraw), <b>plain</b> (stdout is a file or pipe: the same text, no escape codes, one row
/// per sample instead of a redraw) and <b>JSON</b> (<c>--json</c>: nothing on stdout but one JSON document at the
/// end). Errors always go to stderr.
/// </summary>
internal sealed class CliConsole
{
    // Relaxed escaping: the documents are read by people and scripts, not embedded in HTML ('×', quotes and µ stay as they are).
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public CliConsole(TextWriter stdout, TextWriter stderr, bool terminal, bool json)
    {
        Out = stdout;
        Error = stderr;
        Json = json;
        Terminal = terminal && !json;
        bool colour = Terminal && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR"));
        Ansi = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(stdout),
            Ansi = Terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = colour ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = Terminal ? InteractionSupport.Detect : InteractionSupport.No,
        });
    }

    /// <summary>Standard output.</summary>
    public TextWriter Out { get; }

    /// <summary>Standard error.</summary>
    public TextWriter Error { get; }

    /// <summary>Machine-readable mode: one JSON document on stdout, nothing else there.</summary>
    public bool Json { get; }

    /// <summary>Stdout is an interactive terminal (live redraw and colours allowed).</summary>
    public bool Terminal { get; }

    /// <summary>Spectre console on stdout (plain text when not a terminal).</summary>
    public IAnsiConsole Ansi { get; }

    /// <summary>A line of human output (suppressed in JSON mode).</summary>
    public void Line(string text = "")
    {
        if (!Json)
        {
            Out.WriteLine(text);
        }
    }

    /// <summary>
    /// A Spectre renderable (table, grid) in human mode. Off a terminal it is rendered without escape codes and
    /// with trailing padding trimmed, so files and pipes get clean columns.
    /// </summary>
    public void Render(Spectre.Console.Rendering.IRenderable renderable)
    {
        if (Json)
        {
            return;
        }

        if (Terminal)
        {
            Ansi.Write(renderable);
            return;
        }

        using var text = new StringWriter();
        var plain = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(text),
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        plain.Profile.Width = 200;
        plain.Write(renderable);
        var lines = text.ToString().Split('\n').Select(l => l.TrimEnd()).ToList();
        while (lines.Count > 0 && lines[0].Length == 0)
        {
            lines.RemoveAt(0);
        }

        while (lines.Count > 0 && lines[^1].Length == 0)
        {
            lines.RemoveAt(lines.Count - 1);
        }

        foreach (var line in lines)
        {
            Out.WriteLine(line);
        }
    }

    /// <summary>A coloured verdict line: green when passed, red otherwise (plain text off a terminal).</summary>
    public void Verdict(bool passed, string text)
    {
        if (Json)
        {
            return;
        }

        if (Terminal)
        {
            Ansi.MarkupLine($"[{(passed ? "green" : "red")} bold]{Markup.Escape(text)}[/]");
        }
        else
        {
            Out.WriteLine(text);
        }
    }

    /// <summary>The JSON document of a command (JSON mode only).</summary>
    public void Document(JsonObject document)
    {
        if (Json)
        {
            Out.WriteLine(document.ToJsonString(Indented));
        }
    }

    /// <summary>An error line on stderr.</summary>
    public void Fail(string message) => Error.WriteLine($"error: {message}");

    /// <summary>
    /// A command ended with an error before it had a result: the error line on stderr and, in JSON mode, a JSON
    /// document on stdout too (a script that reads stdout gets a document on every exit).
    /// </summary>
    public void Fail(string command, int exitCode, string kind, string message)
    {
        Fail(message);
        if (Json)
        {
            WriteErrorDocument(Out, command, exitCode, kind, message);
        }
    }

    /// <summary>The JSON document of a command that ended with an error: command, passed = false, exit code, kind and message.</summary>
    public static void WriteErrorDocument(TextWriter stdout, string? command, int exitCode, string kind, string message) =>
        stdout.WriteLine(new JsonObject
        {
            ["command"] = command,
            ["passed"] = false,
            ["exitCode"] = exitCode,
            ["error"] = new JsonObject { ["kind"] = kind, ["message"] = message },
        }.ToJsonString(Indented));

    /// <summary>A note on stderr (does not change the result; kept off stdout so JSON stays parseable).</summary>
    public void Note(string message) => Error.WriteLine($"note: {message}");
}
