using System.CommandLine;

namespace LitePcie.Hil.Cli;

/// <summary>Entry point of <c>litepcie-hil</c>.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        // First Ctrl+C: the running command stops its DMA or cycles, closes the session and prints what it has.
        // A second one ends the process the usual way.
        using var interrupt = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            if (!interrupt.IsCancellationRequested)
            {
                e.Cancel = true;
                interrupt.Cancel();
            }
        };
        return Run(args, Console.Out, Console.Error, terminal: !Console.IsOutputRedirected, interrupt.Token);
    }

    /// <summary>Runs the command line with the given writers (tests capture them); output is plain (not a terminal).</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr) => Run(args, stdout, stderr, terminal: false, CancellationToken.None);

    /// <summary>Runs the command line; <paramref name="cancel"/> is Ctrl+C.</summary>
    internal static int Run(string[] args, TextWriter stdout, TextWriter stderr, bool terminal, CancellationToken cancel)
    {
        var io = new CliIo(stdout, stderr, terminal);
        var root = new RootCommand("litepcie-hil: bench tools for LitePCIe boards (simulated, Linux litepcie driver, macOS dext)")
        {
            ListCommand.Create(io),
            InfoCommand.Create(io),
            ScratchCommand.Create(io),
            DmaCommand.Create(io),
            LatencyCommand.Create(io),
            SleepCommand.Create(io),
            QualifyCommand.Create(io),
            BoardHeaderCommand.Create(stdout, stderr),
            LiteXHeadersCommand.Create(stdout, stderr),
            GuestReportCommand.Create(stdout, stderr),
        };
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            return UsageErrors(root, parse, args, stdout, stderr);
        }

        var config = new InvocationConfiguration { Output = stdout, Error = stderr, ProcessTerminationTimeout = null };
        return parse.InvokeAsync(config, cancel).GetAwaiter().GetResult();
    }

    /// <summary>
    /// Parse errors, one line each, then the help hint (exit 2). A word that is no command is named once, with the
    /// nearest command — not also as "Required command was not provided". With <c>--json</c> the errors are also one
    /// JSON document on stdout, so a script reading stdout always gets a document.
    /// </summary>
    private static int UsageErrors(RootCommand root, ParseResult parse, string[] args, TextWriter stdout, TextWriter stderr)
    {
        var command = parse.CommandResult.Command;
        var messages = new List<string>();
        if (command == root)
        {
            var commands = root.Subcommands.Select(c => c.Name).ToList();
            string? first = args.FirstOrDefault(a => !a.StartsWith('-'));
            if (first is not null && !commands.Contains(first, StringComparer.Ordinal))
            {
                string? near = Nearest.Of(first, commands);
                messages.Add($"unknown command '{first}'{(near is null ? "" : $" (did you mean '{near}'?)")}; commands: {string.Join(", ", commands)}");
            }
            else if (first is null && !args.Any(a => a is "--help" or "-h" or "-?" or "--version"))
            {
                messages.Add($"no command given; commands: {string.Join(", ", commands)}");
            }
            else
            {
                messages.AddRange(parse.Errors.Select(e => e.Message));
            }
        }
        else
        {
            // An option the command does not have: named once, with the nearest option it does have.
            var options = command.Options.Select(o => o.Name).ToList();
            var unknown = parse.UnmatchedTokens.Where(t => t.StartsWith('-')).ToList();
            messages.AddRange(unknown.Select(t => $"unknown option '{t}' for {command.Name}" +
                (Nearest.Of(t, options) is { } near ? $" (did you mean '{near}'?)" : "")));
            // The word after an unknown option is its value, not a second problem.
            var values = args.Select((a, i) => (a, i)).Where(x => unknown.Contains(x.a) && x.i + 1 < args.Length && !args[x.i + 1].StartsWith('-'))
                .Select(x => args[x.i + 1]).ToList();
            messages.AddRange(parse.Errors.Select(e => e.Message)
                .Where(m => !unknown.Concat(values).Any(t => m.Contains($"'{t}'", StringComparison.Ordinal))));
        }

        foreach (var message in messages)
        {
            stderr.WriteLine($"error: {message}");
        }

        string name = command == root ? "" : " " + command.Name;
        stderr.WriteLine($"Run 'litepcie-hil{name} --help' for usage.");
        if (args.Contains("--json", StringComparer.Ordinal))
        {
            CliConsole.WriteErrorDocument(stdout, command == root ? null : command.Name, ExitCodes.UsageError, "usage", string.Join("; ", messages));
        }

        return ExitCodes.UsageError;
    }
}
