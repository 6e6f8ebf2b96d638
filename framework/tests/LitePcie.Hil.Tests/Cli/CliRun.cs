using System.Text.Json;
using LitePcie.Hil.Cli;

namespace LitePcie.Hil.Tests.Cli;

/// <summary>One run of <c>litepcie-hil</c> in process: exit code and what it wrote.</summary>
internal sealed record CliRun(int Code, string Out, string Err)
{
    /// <summary>Runs the command line with captured writers (plain output, as in a pipe).</summary>
    public static CliRun Of(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = Program.Run(args, stdout, stderr);
        return new CliRun(code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>
    /// Runs the command line and presses Ctrl+C as soon as stdout shows a line containing <paramref name="trigger"/>
    /// (deterministic: tied to the command's own progress, not to a clock).
    /// </summary>
    public static CliRun Interrupted(string trigger, params string[] args)
    {
        using var interrupt = new CancellationTokenSource();
        var stdout = new InterruptingWriter(trigger, interrupt);
        var stderr = new StringWriter();
        int code = Program.Run(args, stdout, stderr, terminal: false, interrupt.Token);
        return new CliRun(code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Stdout as a JSON document.</summary>
    public JsonElement Json()
    {
        using var doc = JsonDocument.Parse(Out);
        return doc.RootElement.Clone();
    }

    /// <summary>Everything written, for assertion messages.</summary>
    public override string ToString() => $"exit {Code}\n--- stdout\n{Out}\n--- stderr\n{Err}";

    private sealed class InterruptingWriter(string trigger, CancellationTokenSource interrupt) : StringWriter
    {
        public override void WriteLine(string? value)
        {
            base.WriteLine(value);
            if (value is not null && value.Contains(trigger, StringComparison.Ordinal))
            {
                interrupt.Cancel();
            }
        }
    }
}
