using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Options;
using LitePcie.Hil.Pci;
using LitePcie.Hil.Platform;
using LitePcie.Hil.Qualification;

namespace LitePcie.Hil.Cli;

/// <summary>
/// <c>litepcie-hil sleep</c>: one sleep/wake cycle through the platform's power control (SIL: D3hot with the OS's
/// config save/restore; Linux: rtcwake; macOS: pmset), with every transition timestamped; then the board must
/// re-enumerate within a bound, reopen, and answer with the same identity, BAR assignment and a working scratch
/// register. Exit 1 when it does not come back or comes back different; 3 when the platform has no power control.
/// </summary>
internal static class SleepCommand
{
    private static readonly Option<double> SleepSeconds = CliOptions.Declared<double>(nameof(SleepOptions.SleepSeconds), "How long to stay asleep", "seconds");
    private static readonly Option<double> Timeout = CliOptions.Declared<double>(nameof(SleepOptions.WakeTimeoutSeconds), "Bound on the board re-enumerating after wake", "seconds");

    private static readonly LabCommandOptions Lab = new(attachDetach: false, sleep: true);

    private sealed record Identity(string Identifier, ushort VendorId, ushort DeviceId, string Bars);

    public static Command Create(CliIo io)
    {
        var command = DeviceCommand.Create("sleep", "One sleep/wake cycle through the platform's power control; verify the board comes back the same", io,
            [SleepSeconds, Timeout, .. Lab.Options], RunAsync);
        command.Validators.Add(Lab.Validate);
        return command;
    }

    private static async Task<int> RunAsync(CommandContext ctx)
    {
        var c = ctx.Console;
        await using var bench = await Bench.OpenAsync(ctx.Request, ctx.Cancel).ConfigureAwait(false);
        var platform = bench.Platform(Lab.Read(ctx.Parse));
        var power = platform.Power ?? throw new DeviceCapabilityException(bench.Device.Address, "sleep/wake control", platform.MissingReason);
        var before = await IdentifyAsync(bench, bench.Device, ctx.Cancel).ConfigureAwait(false);
        c.Line($"{bench.Device.Backend}:{bench.Device.Address} \"{before.Identifier}\", BARs {before.Bars}");
        c.Line($"power control: {power.Description}");

        var events = new List<PowerEvent>();
        await power.SleepAsync(TimeSpan.FromSeconds(ctx.Parse.GetValue(SleepSeconds)), e =>
        {
            events.Add(e);
            c.Line($"  +{Text.F(e.At.TotalMilliseconds, "0.0"),9} ms  {e.Transition,-9} {e.Detail}");
        }, ctx.Cancel).ConfigureAwait(false);

#pragma warning disable RS0030 // measures how long after wake the board re-enumerated (a measurement; the wait itself is DeviceWaits')
        var clock = Stopwatch.StartNew();
#pragma warning restore RS0030
        var bound = TimeSpan.FromSeconds(ctx.Parse.GetValue(Timeout));
        DeviceDescriptor? back = null;
        string? missing = null;
        try
        {
            back = await DeviceWaits.ReappearAsync(bench.Backend, bench.Device.Address, bound, null, ctx.Cancel).ConfigureAwait(false);
        }
        catch (DeviceTimeoutException e)
        {
            missing = $"the board did not come back after wake: {e.Message}";
        }

        var problems = new List<string>();
        Identity? after = null;
        if (back is null)
        {
            problems.Add(missing ?? "the board did not come back after wake");
        }
        else
        {
            c.Line($"  re-enumerated {Text.F(clock.Elapsed.TotalMilliseconds, "0.0")} ms after wake");
            after = await IdentifyAsync(bench, back, ctx.Cancel, problems).ConfigureAwait(false);
            Compare(problems, "identifier", before.Identifier, after.Identifier);
            Compare(problems, "vendor:device", $"{before.VendorId:x4}:{before.DeviceId:x4}", $"{after.VendorId:x4}:{after.DeviceId:x4}");
            Compare(problems, "BAR assignment", before.Bars, after.Bars);
        }

        bool passed = problems.Count == 0;
        foreach (var p in problems)
        {
            c.Line($"  ! {p}");
        }

        c.Verdict(passed, $"sleep: {(passed ? "PASS (same identity, BARs restored, scratch works)" : "FAIL")}");
        c.Document(new JsonObject
        {
            ["command"] = "sleep",
            ["address"] = bench.Device.Address,
            ["passed"] = passed,
            ["powerControl"] = power.Description,
            ["transitions"] = new JsonArray([.. events.Select(e => (JsonNode)new JsonObject
            {
                ["transition"] = e.Transition.ToString(), ["atMs"] = Math.Round(e.At.TotalMilliseconds, 3), ["detail"] = e.Detail,
            })]),
            ["reenumeratedMs"] = back is null ? null : Math.Round(clock.Elapsed.TotalMilliseconds, 3),
            ["identifier"] = after?.Identifier,
            ["problems"] = new JsonArray([.. problems.Select(p => (JsonNode)p)]),
        });
        return passed ? ExitCodes.Success : ExitCodes.TestFailed;
    }

    private static void Compare(List<string> problems, string what, string before, string after)
    {
        if (before != after)
        {
            problems.Add($"{what} changed across sleep: before \"{before}\", after \"{after}\"");
        }
    }

    /// <summary>Opens, reads identity and BAR assignment, checks scratch (a failed write/read-back is added to <paramref name="problems"/>), closes.</summary>
    private static async Task<Identity> IdentifyAsync(Bench bench, DeviceDescriptor device, CancellationToken cancel, List<string>? problems = null)
    {
        var session = await bench.Backend.OpenAsync(device, cancel).ConfigureAwait(false);
        await using (session.ConfigureAwait(false))
        {
            var config = session.ReadConfigSpace();
            string bars = string.Join(" ", config.Bars.Select(b => $"BAR{b.Index}=0x{b.Address:x}"));
            if (problems is not null)
            {
                var scratch = session.Map.Layout.Ctrl.Scratch;
                uint saved = session.Read32(scratch);
                session.Write(scratch, 0x5A5AA5A5u);
                uint read = session.Read32(scratch);
                session.Write(scratch, saved);
                if (read != 0x5A5AA5A5u)
                {
                    problems.Add($"ctrl_scratch after wake: wrote 0x5A5AA5A5, read {Text.Hex32(read)}");
                }

                if ((config.Command & PciCommand.MemorySpace) == 0)
                {
                    problems.Add("memory decoding (Command.MemorySpace) is off after wake: the config space was not restored");
                }
            }

            return new Identity(session.Info.Identifier, session.Info.Device.VendorId, session.Info.Device.DeviceId, bars);
        }
    }
}
