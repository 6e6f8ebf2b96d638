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
            foreach (var error in parse.Errors)
            {
                stderr.WriteLine($"error: {error.Message}");
            }

            string command = parse.CommandResult.Command == root ? "" : " " + parse.CommandResult.Command.Name;
            stderr.WriteLine($"Run 'litepcie-hil{command} --help' for usage.");
            return ExitCodes.UsageError;
        }

        var config = new InvocationConfiguration { Output = stdout, Error = stderr, ProcessTerminationTimeout = null };
        return parse.InvokeAsync(config, cancel).GetAwaiter().GetResult();
    }
}
