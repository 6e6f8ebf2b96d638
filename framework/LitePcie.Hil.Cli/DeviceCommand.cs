using System.CommandLine;
using LitePcie.Hil.Boards;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Simulation.Faults;

namespace LitePcie.Hil.Cli;

/// <summary>What a device command's body gets: the parse, the validated shared options, the console and Ctrl+C.</summary>
internal sealed record CommandContext(ParseResult Parse, DeviceRequest Request, CliConsole Console, CancellationToken Cancel);

/// <summary>Where a command writes and whether stdout is a terminal.</summary>
internal sealed record CliIo(TextWriter Stdout, TextWriter Stderr, bool Terminal);

/// <summary>
/// Builds a device command: the shared options, and one place that turns failures into exit codes — a device or
/// transport failure is 3 with the device's message, an argument only found unusable at run time is 2 naming the
/// option, and Ctrl+C before any result is 130.
/// </summary>
internal static class DeviceCommand
{
    /// <summary>Ctrl+C before a command produced a result (the shell's 128 + SIGINT).</summary>
    public const int Interrupted = 130;

    public static Command Create(string name, string description, CliIo io, IEnumerable<Option> options, Func<CommandContext, Task<int>> body)
    {
        var shared = new DeviceOptions();
        var command = new Command(name, description);
        foreach (var option in options)
        {
            command.Options.Add(option);
        }

        shared.AddTo(command);
        command.SetAction(async (parse, cancel) =>
        {
            var request = shared.Read(parse);
            var console = new CliConsole(io.Stdout, io.Stderr, io.Terminal, request.Json);
            try
            {
                return await body(new CommandContext(parse, request, console, cancel)).ConfigureAwait(false);
            }
            catch (CliUsageException e)
            {
                console.Fail(name, ExitCodes.UsageError, "usage", e.Message);
                return ExitCodes.UsageError;
            }
            catch (BoardProfileException e)
            {
                console.Fail(name, ExitCodes.UsageError, "board", $"--board: {e.Message}");
                return ExitCodes.UsageError;
            }
            catch (CsrMapException e)
            {
                // The csr.json a profile names: one line with the file and the register, as board-header gives it.
                console.Fail(name, ExitCodes.UsageError, "csr-map", $"--board {request.BoardOrDefault}: {e.Message}");
                return ExitCodes.UsageError;
            }
            catch (FaultPlanException e)
            {
                console.Fail(name, ExitCodes.UsageError, "faults", $"--faults: {e.Message}");
                return ExitCodes.UsageError;
            }
            catch (DeviceException e)
            {
                // A failure before any device was chosen carries "-" as its device: say just what failed.
                string message = e.Device == "-" && e.Message.StartsWith("-: ", StringComparison.Ordinal) ? e.Message[3..] : e.Message;
                console.Fail(name, ExitCodes.DeviceError, "device", $"device error ({e.Code}): {message}");
                return ExitCodes.DeviceError;
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
                console.Fail(name, Interrupted, "interrupted", "interrupted");
                return Interrupted;
            }
        });
        return command;
    }
}
