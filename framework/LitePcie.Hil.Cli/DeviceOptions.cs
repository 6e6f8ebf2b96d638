using System.CommandLine;
using LitePcie.Hil.Boards;
using LitePcie.Hil.Options;
using LitePcie.Hil.Simulation.Faults;

namespace LitePcie.Hil.Cli;

/// <summary>What the shared options of a device command asked for, validated.</summary>
/// <param name="Backend"><c>sim</c>, <c>linux</c> or <c>macos</c>.</param>
/// <param name="Board">Board profile name or path (null = the SIL's default board).</param>
/// <param name="Device">Device to use (null = the first board found).</param>
/// <param name="Faults">Fault string for the simulated board (sim only).</param>
/// <param name="Paced">Pace the simulated link to the board's payload rate (sim only).</param>
/// <param name="Json">Machine-readable output.</param>
internal sealed record DeviceRequest(string Backend, string? Board, string? Device, string? Faults, bool Paced, bool Json)
{
    /// <summary>Engine of the simulated gateware (sim only): <c>model</c> or <c>rtl</c>.</summary>
    public string Engine { get; init; } = DeviceOptions.Model;

    /// <summary>The board profile to load.</summary>
    public string BoardOrDefault => Board ?? BoardCatalog.DefaultBoard;
}

/// <summary>
/// The options every device command shares: <c>--backend</c>, <c>--board</c>, <c>--device</c>, <c>--faults</c>,
/// <c>--paced</c> and <c>--json</c>. Options that only make sense on the simulator are refused with another backend
/// (never silently ignored), and a fault string is checked with <see cref="FaultPlan"/> at parse time.
/// </summary>
internal sealed class DeviceOptions
{
    public const string Sim = "sim";
    public const string Linux = "linux";
    public const string MacOS = "macos";
    public const string Model = "model";
    public const string Rtl = "rtl";

    private readonly Option<string> _backend = CliOptions.Declared<string>(nameof(TargetOptions.Backend), "Backend: the simulator, the Linux litepcie driver or the macOS dext");
    private readonly Option<string?> _board = new("--board") { Description = $"Board profile name or path (default {BoardCatalog.DefaultBoard})" };
    private readonly Option<string?> _device = new("--device") { Description = "PCI address (0000:01:00.0), device node or registry id (default: the first board found)" };
    private readonly Option<string> _faults = CliOptions.Declared<string>(nameof(SimOptions.SimFaults), "Faults to inject into the simulated board, e.g. \"dma-bitflip=0.01;seed=7\" (sim only)");
    private readonly Option<bool> _paced = CliOptions.Declared<bool>(nameof(SimOptions.SimPaced), "Pace the simulated link to the board's payload rate (sim only)");
    private readonly Option<string> _engine = CliOptions.Declared<string>(nameof(SimOptions.SimEngine), "Engine of the simulated gateware: our model, or the board's real LitePCIe RTL under Verilator (sim only; docs/rtl.md)");
    private readonly Option<bool> _json = new("--json") { Description = "Machine-readable output: one JSON document on stdout, no colours, no live redraw" };

    /// <summary>Adds the options and their cross-checks to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        command.Options.Add(_backend);
        command.Options.Add(_board);
        command.Options.Add(_device);
        command.Options.Add(_faults);
        command.Options.Add(_paced);
        command.Options.Add(_engine);
        command.Options.Add(_json);
        command.Validators.Add(result =>
        {
            string backend;
            try
            {
                backend = result.GetValue(_backend) ?? Sim;
            }
            catch (InvalidOperationException)
            {
                return; // a bad --backend is reported already; the cross-checks need a valid one
            }

            string? faults;
            try
            {
                faults = result.GetValue(_faults); // checked by its declaration's parser (FaultPlan)
            }
            catch (InvalidOperationException)
            {
                return; // a bad --faults is reported already
            }

            if (faults is { Length: > 0 } && backend != Sim)
            {
                result.AddError($"--faults injects faults into the simulated board and applies only to --backend sim, not --backend {backend}");
            }

            if (result.GetValue(_paced) && backend != Sim)
            {
                result.AddError($"--paced paces the simulated link and applies only to --backend sim, not --backend {backend}");
            }

            string engine;
            try
            {
                engine = result.GetValue(_engine) ?? Model;
            }
            catch (InvalidOperationException)
            {
                return; // a bad --engine is reported already
            }

            if (engine != Model && backend != Sim)
            {
                result.AddError($"--engine selects the engine of the simulated gateware and applies only to --backend sim, not --backend {backend}");
            }
            else if (engine == Rtl && result.GetValue(_paced))
            {
                result.AddError("--paced paces the gateware model; --engine rtl runs at the RTL's own clock rate");
            }
        });
    }

    /// <summary>The validated request of a parse.</summary>
    public DeviceRequest Read(ParseResult parse) =>
        new(parse.GetValue(_backend) ?? Sim, parse.GetValue(_board), parse.GetValue(_device), parse.GetValue(_faults) is { Length: > 0 } faults ? faults : null,
            parse.GetValue(_paced), parse.GetValue(_json))
        {
            Engine = parse.GetValue(_engine) ?? Model,
        };
}
