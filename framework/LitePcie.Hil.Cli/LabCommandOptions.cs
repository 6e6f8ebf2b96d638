using System.CommandLine;
using System.CommandLine.Parsing;
using LitePcie.Hil.Backends;
using LitePcie.Hil.Options;

namespace LitePcie.Hil.Cli;

/// <summary>
/// <c>--detach-command</c>/<c>--attach-command</c> (qualify) and <c>--sleep-command</c> (sleep) with
/// <c>--command-timeout</c>: what a lab host without a platform control (macOS, a Linux host without hot-plug)
/// uses, as the suites' AttachCommand/DetachCommand/SleepCommand do. The simulator has its own controls, so the
/// commands are refused there rather than ignored; attach and detach come as a pair.
/// </summary>
internal sealed class LabCommandOptions(bool attachDetach, bool sleep)
{
    private readonly Option<string> _detach = CliOptions.Declared<string>(nameof(LabOptions.DetachCommand), "Lab command that takes the board off the bus ({device} = its PCI address); needs --attach-command");
    private readonly Option<string> _attach = CliOptions.Declared<string>(nameof(LabOptions.AttachCommand), "Lab command that puts the board back ({device} = its PCI address); needs --detach-command");
    private readonly Option<string> _sleep = CliOptions.Declared<string>(nameof(LabOptions.SleepCommand), "Lab command that sleeps the host and returns after wake ({seconds} = duration)");
    private readonly Option<double> _timeout = CliOptions.Declared<double>(nameof(LabOptions.AttachCommandTimeoutSeconds), "Bound on each lab command", "seconds");

    public IReadOnlyList<Option> Options =>
        [.. (attachDetach ? new Option[] { _detach, _attach } : []), .. (sleep ? new Option[] { _sleep } : []), _timeout];

    /// <summary>Cross-checks: attach and detach as a pair, none of them on the simulator.</summary>
    public void Validate(CommandResult result)
    {
        string? backend;
        try
        {
            backend = result.GetValue<string>("--backend");
        }
        catch (InvalidOperationException)
        {
            return; // a bad --backend is reported already
        }

        var given = Options.Where(o => o != _timeout && result.GetResult(o) is not null).Select(o => o.Name).ToList();
        if (given.Count > 0 && (backend ?? DeviceOptions.Sim) == DeviceOptions.Sim)
        {
            result.AddError($"{string.Join(", ", given)}: the simulator has its own attach and power controls; lab commands apply to --backend linux or macos");
        }

        if (attachDetach && (result.GetResult(_detach) is null) != (result.GetResult(_attach) is null))
        {
            result.AddError("--detach-command and --attach-command come as a pair: give both or neither");
        }
    }

    public LabCommands Read(ParseResult parse) => new(
        attachDetach ? parse.GetValue(_detach) ?? "" : "",
        attachDetach ? parse.GetValue(_attach) ?? "" : "",
        sleep ? parse.GetValue(_sleep) ?? "" : "",
        TimeSpan.FromSeconds(parse.GetValue(_timeout)));
}
