using System.CommandLine;
using LitePcie.Hil.Lab;

namespace LitePcie.Hil.Cli;

/// <summary>
/// <c>litepcie-hil guest-report</c>: the last step of lab/linux-guest/run.sh. Adds a guest run (one folder per
/// boot) to an Allure results folder — the guest's results and the host's checks of each boot — and prints
/// <c>linux-guest: N passed, N failed, N skipped</c>. Exit 0 when nothing failed and something ran.
/// </summary>
internal static class GuestReportCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var run = new Option<DirectoryInfo>("--run") { Description = "The run folder run.sh wrote (one sub-folder per boot)", Required = true };
        var allure = new Option<DirectoryInfo>("--allure") { Description = "Allure results folder to add the run to", Required = true };
        var board = new Option<string>("--board") { Description = "Board profile the run used", DefaultValueFactory = _ => Boards.BoardCatalog.DefaultBoard };
        var faults = new Option<string?>("--faults") { Description = "Faults the device server injected" };
        var command = new Command("guest-report", "Collect a Linux guest run (lab/linux-guest/run.sh) into Allure results and count its checks") { run, allure, board, faults };
        command.SetAction(parse =>
        {
            try
            {
                var counts = new GuestRunReport(parse.GetValue(run)!.FullName, parse.GetValue(allure)!.FullName, stdout)
                    .Write(parse.GetValue(board)!, parse.GetValue(faults));
                return counts.Failed == 0 && counts.Passed + counts.Skipped > 0 ? ExitCodes.Success : ExitCodes.TestFailed;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException or InvalidOperationException or KeyNotFoundException)
            {
                stderr.WriteLine($"error: {e.Message}");
                stdout.WriteLine("linux-guest: 0 passed, 1 failed, 0 skipped");
                return ExitCodes.TestFailed;
            }
        });
        return command;
    }
}
