using System.Globalization;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Fixtures;
using LitePcie.Hil.Fixtures.Allure;
using LitePcie.Hil.Options;
using LitePcie.Hil.Pci;
using LitePcie.Hil.Platform;
using LitePcie.Hil.Qualification;
using LitePcie.Hil.Suites.Common;
using NUnit.Framework;

namespace LitePcie.Hil.Suites.SleepWake;

/// <summary>
/// Sleep with I/O before and after (Windows HLK Device Fundamentals' pattern): per cycle, verify the device and
/// do verified DMA; sleep; wake; wait (bounded, Polly) for the device; re-verify identity, link and config space
/// against the pre-sleep snapshot; check the driver moved to a new generation with every channel stopped; restart
/// DMA and verify again. System sleep reaches every board, so this suite never runs beside another.
/// </summary>
[TestFixtureSource(typeof(BoardSource), nameof(BoardSource.Targets))]
[Category("SleepWake")]
[Feature("Sleep/wake")]
[Severity(AllureSeverity.Critical)]
[NonParallelizable]
public sealed class SleepWakeSuite(BoardTarget target) : DeviceSuite(target)
{
    [Test]
    [Spec("P19")]
    public async Task Sleep_with_verified_io_before_and_after()
    {
        var power = Context.Platform.Power ?? throw new IgnoreException($"no sleep/wake control: {Context.Platform.MissingReason}");
        var o = Context.Options;
        var header = new JournalHeader("SleepWake.SleepWithIo", Target.Backend.ToString().ToLowerInvariant(), Target.Board, Target.Address, o.Sleep.SleepWakeCycles,
            string.Create(CultureInfo.InvariantCulture, $"sleep {o.Sleep.SleepSeconds} s; io {o.Sleep.SleepIoBytes} bytes; faults {(o.Target.Backend == BackendKind.Sim ? o.Sim.SimFaults.ToString() : "-")}"));
        await CycleReports.RunAsync(Context, "sleep/wake", "sleep-wake", header, o.Sleep.SleepWakeCycles, _ => "sleep",
            (c, phases, ct) => SleepCycleAsync(c, power, phases, ct), stepEvery: Math.Max(1, o.Sleep.SleepWakeCycles / 5), after: () => Task.CompletedTask);
    }

    private async Task<string> SleepCycleAsync(int cycle, IPowerControl power, CyclePhases phases, CancellationToken ct)
    {
        var o = Context.Options;
        var stall = TimeSpan.FromMilliseconds(o.Dma.DmaStallTimeoutMs);
        await phases.RunAsync("session", EnsureSessionAsync);
        var session = Context.Session;
        var before = await phases.RunAsync("verify-before", () => Task.FromResult(Snapshot.Take(session, Context.Map)));
        await phases.RunAsync("io-before", () => VerifiedIo.RunAsync(session, Context.Profile, o.Sleep.SleepIoBytes, stall, null, $"cycle {cycle}: I/O before sleep", ct));
        long generation = session.Generation;

        var transitions = new List<string>();
        await phases.RunAsync("sleep", () => power.SleepAsync(TimeSpan.FromSeconds(o.Sleep.SleepSeconds),
            e => transitions.Add(string.Create(CultureInfo.InvariantCulture, $"{e.At.TotalMilliseconds:0} ms {e.Transition}: {e.Detail}")), ct));

        var wake = TimeSpan.FromSeconds(o.Sleep.WakeTimeoutSeconds);
        await phases.RunAsync("reappear", async () =>
        {
            await DeviceWaits.ReappearAsync(Context.Backend, Target.Address, wake, cycle == 1 ? Context.Reporter : null, ct);
            if (session.IsDeviceGone)
            {
                // Re-enumerated as a new instance: a new session is the client's way back.
                await Context.ReacquireSessionAsync();
                session = Context.Session;
            }
        });
        await phases.RunAsync("verify-after", () =>
        {
            var after = Snapshot.Take(session, Context.Map);
            var differences = before.Compare(after);
            if (differences.Count > 0)
            {
                throw new AssertionException($"cycle {cycle}: after wake the device is not what it was before sleep: {string.Join("; ", differences)} (transitions: {string.Join(" | ", transitions)})");
            }

            return Task.CompletedTask;
        });
        await phases.RunAsync("driver-state", () =>
        {
            if (session.Generation == generation)
            {
                throw new AssertionException($"cycle {cycle}: the session generation is still {generation} after a sleep/wake: the driver did not signal the power transition");
            }

            var running = session.Channels.SelectMany(ch => new[] { DmaDirection.Writer, DmaDirection.Reader }
                .Where(d => ch.GetCounters(d).Running).Select(d => $"pcie_dma{ch.Index} {d.Describe()}")).ToList();
            if (running.Count > 0)
            {
                throw new AssertionException($"cycle {cycle}: after wake the driver reports {string.Join(", ", running)} still started (it must stop every engine across sleep)");
            }

            return Task.CompletedTask;
        });
        await phases.RunAsync("io-after", () => VerifiedIo.RunAsync(session, Context.Profile, o.Sleep.SleepIoBytes, stall, null, $"cycle {cycle}: I/O after wake", ct));
        return "sleep";
    }

    /// <summary>A cycle starts with a usable session: reopen after a cycle that lost the device (if it is back).</summary>
    private async Task EnsureSessionAsync()
    {
        if (Context.CurrentSession is not { IsDeviceGone: false })
        {
            await DeviceWaits.ReappearAsync(Context.Backend, Target.Address, TimeSpan.FromSeconds(Context.Options.Sleep.WakeTimeoutSeconds), null, Context.Cancellation);
            await Context.ReacquireSessionAsync();
        }
    }

    /// <summary>A PHY link-status read: the decoded value, or why it could not be read (never a string to compare).</summary>
    private sealed record PhyRead(PhyLinkStatus? Status, string? Error)
    {
        public override string ToString() => Error is not null ? $"unreadable ({Error})" : Status?.ToString() ?? "(no PHY status CSR)";
    }

    /// <summary>
    /// What must survive a sleep: identity, power state, link (config space and PHY CSR), config header and BARs, the
    /// MSI/MSI-X capability (enable, address, data — what interrupts need), and the device's CSR view of that
    /// configuration with its idle state (PHY mirrors of bus mastering and MSI enable, MPS/MRRS; no MSI source enabled, every
    /// engine disabled with an empty table).
    /// </summary>
    private sealed record Snapshot(string Identifier, ushort Vendor, ushort Device, uint ClassCode, ushort Command, IReadOnlyList<(int Index, ulong Address)> Bars,
        PciPowerState? Power, PciLinkSpeed Speed, int Width, PhyRead Phy, string Interrupts, IReadOnlyList<(string Name, ulong Value)> Csrs)
    {
        public static Snapshot Take(IDeviceSession session, CsrMap map)
        {
            var cs = session.ReadConfigSpace();
            var pcie = cs.Find<PciExpressCapability>();
            PhyRead phy;
            try
            {
                phy = new PhyRead(session.ReadLinkStatus(), null);
            }
            catch (DeviceException e)
            {
                phy = new PhyRead(null, e.Message);
            }

            string interrupts = cs.Find<MsiXCapability>() is { } msix
                ? $"MSI-X {(msix.Enabled ? "enabled" : "disabled")}, function mask {(msix.FunctionMask ? "set" : "clear")}, table BIR {msix.TableBir} +0x{msix.TableOffset:X}"
                : cs.Find<MsiCapability>() is { } msi
                    ? $"MSI {(msi.Enabled ? "enabled" : "disabled")}, {msi.GrantedVectors} vector(s), address 0x{msi.MessageAddress:X}, data 0x{msi.MessageData:X4}"
                    : "no MSI capability";
            return new Snapshot(session.ReadIdentifier(), cs.VendorId, cs.DeviceId, cs.ClassCode, (ushort)cs.Command,
                [.. cs.Bars.Select(b => (b.Index, b.Address))], cs.Find<PowerManagementCapability>()?.PowerState,
                pcie?.LinkSpeed ?? PciLinkSpeed.Unknown, pcie?.LinkWidth ?? 0, phy, interrupts, ReadCsrs(session, map));
        }

        /// <summary>The device's registers that mirror the restored configuration, and its idle DMA/MSI state.</summary>
        private static List<(string Name, ulong Value)> ReadCsrs(IDeviceSession session, CsrMap map)
        {
            var l = map.Layout;
            var regs = new List<CsrRegister?> { l.Phy?.MsiEnable, l.Phy?.MsixEnable, l.Phy?.BusMasterEnable, l.Phy?.MaxPayloadSize, l.Phy?.MaxRequestSize, l.Msi.Enable };
            foreach (var ch in l.DmaChannels)
            {
                regs.Add(ch.Writer.Enable);
                regs.Add(ch.Writer.Level);
                regs.Add(ch.Reader.Enable);
                regs.Add(ch.Reader.Level);
            }

            return [.. regs.OfType<CsrRegister>().Select(r => (r.Name, session.Read(r)))];
        }

        public List<string> Compare(Snapshot after)
        {
            var d = new List<string>();
            foreach (var (index, address) in Bars)
            {
                var now = after.Bars.FirstOrDefault(b => b.Index == index);
                if (now.Address != address)
                {
                    d.Add($"BAR{index} 0x{now.Address:X8}, was 0x{address:X8} — config space not restored");
                }
            }

            if (after.Command != Command)
            {
                d.Add($"Command 0x{after.Command:X4}, was 0x{Command:X4}");
            }

            if ((after.Vendor, after.Device, after.ClassCode) != (Vendor, Device, ClassCode))
            {
                d.Add($"IDs {after.Vendor:x4}:{after.Device:x4} class {after.ClassCode:x6}, were {Vendor:x4}:{Device:x4} class {ClassCode:x6}");
            }

            if (after.Power != PciPowerState.D0 || after.Power != Power)
            {
                d.Add($"power state {after.Power?.ToString() ?? "unknown (no PM capability)"}, was {Power?.ToString() ?? "unknown"} — the function must be back in D0");
            }

            if (after.Interrupts != Interrupts)
            {
                d.Add($"{after.Interrupts}, was {Interrupts} — MSI capability not restored: interrupts would go nowhere");
            }

            if ((after.Speed, after.Width) != (Speed, Width))
            {
                d.Add($"link {after.Speed.Describe()} x{after.Width}, was {Speed.Describe()} x{Width}");
            }

            // A PHY status that cannot be read is a difference, whatever it was before (two failures are not equal states).
            if (after.Phy.Error is not null || Phy.Error is not null || after.Phy.Status != Phy.Status)
            {
                d.Add($"PHY link status {after.Phy}, was {Phy}");
            }

            foreach (var ((name, was), (_, now)) in Csrs.Zip(after.Csrs))
            {
                if (now != was)
                {
                    d.Add($"{name} 0x{now:X}, was 0x{was:X}");
                }
            }

            if (after.Identifier != Identifier)
            {
                d.Add($"identifier ROM \"{after.Identifier}\", was \"{Identifier}\"");
            }

            return d;
        }
    }
}
