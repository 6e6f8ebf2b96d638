using System.Globalization;
using FluentAssertions;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Dma;
using LitePcie.Hil.Fixtures;
using LitePcie.Hil.Fixtures.Allure;
using LitePcie.Hil.Options;
using LitePcie.Hil.Platform;
using LitePcie.Hil.Qualification;
using LitePcie.Hil.Suites.Common;
using NUnit.Framework;

namespace LitePcie.Hil.Suites.Qualification;

/// <summary>
/// The attach/detach qualification (1,000 cycles by default): each cycle detaches the board idle, with a session
/// open, or mid-DMA (a surprise removal under load); checks the session reports the device gone within a bound
/// and no call hangs; attaches it; waits for re-enumeration; opens, checks identity and scratch, runs a short
/// verified DMA and closes. Resources are sampled every few cycles after a warm-up and judged on their growth
/// rate. Failed cycles are recorded and the run goes on; the verdict comes at the end. A journal makes a long
/// lab run resumable. Also: open/close cycling of the session with the same leak verdict.
/// The test process's resources (managed and C heap, private bytes, handles, threads) are judged per cycle of one
/// board, so the cycles of one board never run beside anything else: another board's activity in the same process
/// would read as this board's growth (docs/leak-verdicts.md).
/// </summary>
[TestFixtureSource(typeof(BoardSource), nameof(BoardSource.Targets))]
[Category("Qualification")]
[Feature("Attach/detach qualification")]
[Severity(AllureSeverity.Critical)]
[NonParallelizable]
public sealed class QualificationSuite(BoardTarget target) : DeviceSuite(target)
{
    private bool _dmaFallbackNoted;

    [Test]
    [Spec("HIL-qualification")]
    [Issue("enjoy-digital/litepcie", 95)]
    public async Task Attach_detach_cycles_always_recover_and_leak_nothing()
    {
        var attach = Context.Platform.Attach ?? throw new IgnoreException($"no attach/detach control: {Context.Platform.MissingReason}");
        var o = Context.Options;
        var header = new JournalHeader("Qualification.AttachDetach", Target.Backend.ToString().ToLowerInvariant(), Target.Board, Target.Address,
            o.Qualification.QualificationCycles, string.Create(CultureInfo.InvariantCulture, $"mix {o.Qualification.DetachMix}; io {o.Qualification.QualificationIoBuffers} buffers; faults {(o.Target.Backend == BackendKind.Sim ? o.Sim.SimFaults.ToString() : "-")}"));
        var cycle = new AttachDetachCycle(Bench(attach) with { StateOf = o.Qualification.DetachMix.StateOf, StartStream = StartStream });
        await RunCyclesAsync("attach/detach", "attach-detach", header, o.Qualification.QualificationCycles, o.Qualification.DetachMix.StateOf, cycle.RunAsync,
            async () =>
            {
                await cycle.EnsureAttachedAsync();
                Context.Log($"{cycle.RemovedMoving} 'dma' cycle(s) removed the board with its engines moving (each: {Context.Map.Layout.DmaChannels[0].Writer.LoopStatus.Name} advanced twice " +
                            $"in a row right before the detach; last: {cycle.LastMoving})");
            });
    }

    [Test]
    public async Task Open_close_cycles_leak_nothing()
    {
        var o = Context.Options;
        var header = new JournalHeader("Qualification.OpenClose", Target.Backend.ToString().ToLowerInvariant(), Target.Board, Target.Address, o.Qualification.SessionCycles, "open, identify, scratch, close");
        await RunCyclesAsync("open/close", "open-close", header, o.Qualification.SessionCycles, _ => "open-close", new AttachDetachCycle(Bench(null)).OpenCloseAsync, () => Task.CompletedTask);
    }

    /// <summary>The cycles take the board over: the fixture's session is closed first and reopened at the end.</summary>
    private async Task RunCyclesAsync(string what, string journalName, JournalHeader header, int cycles, Func<int, string> stateOf,
        Func<int, CyclePhases, CancellationToken, Task<string>> cycle, Func<Task> restore)
    {
        await Context.ReleaseSessionAsync();
        await CycleReports.RunAsync(Context, what, journalName, header, cycles, stateOf, cycle, stepEvery: Math.Max(1, cycles / 10), after: async () =>
        {
            await restore();
            await Context.ReacquireSessionAsync();
        });
    }

    /// <summary>The board as the framework's cycle sees it: the fixture's open (with its retries), the options' bounds, this suite's checks.</summary>
    private CycleBench Bench(IAttachControl? attach) => new()
    {
        Backend = Context.Backend,
        Address = Target.Address,
        Profile = Context.Profile,
        Open = _ => Context.OpenSessionAsync(),
        Attach = attach,
        Verify = VerifyAsync,
        Gone = TimeSpan.FromMilliseconds(Context.Options.Qualification.GoneTimeoutMs),
        Reenumeration = TimeSpan.FromMilliseconds(Context.Options.Qualification.ReenumerationTimeoutMs),
        Log = Context.Log,
        StartsAttached = true, // the fixture held a session on it until the cycles took the board over
    };

    /// <summary>The transfer a 'dma' cycle removes the board under: as the Dma suite streams it, for an hour (the detach ends it).</summary>
    private Task<StreamReport>? StartStream(IDeviceSession session, TimeSpan stall, CancellationToken stop)
    {
        var ch = session.Channels[0];
        if (VerifiedIo.ModeFor(ch, Context.Profile).Mode is not { } mode)
        {
            NoteDmaFallback();
            return null;
        }

        return VerifiedIo.WithUserStreamsReleasedIf(mode, session, ch, () => DmaStreamer.RunAsync(ch, new SequencePattern(ch.Geometry.BufferSize),
            new StreamOptions { Mode = mode, Duration = TimeSpan.FromHours(1), StallTimeout = stall }, stop));
    }

    /// <summary>After attach: the same bitstream answers, scratch works, and a short transfer is intact. In open/close cycles: identity and scratch.</summary>
    private async Task VerifyAsync(IDeviceSession session, int cycle, bool afterAttach, CancellationToken ct)
    {
        CheckIdentity(session);
        CheckScratch(session, cycle);
        if (afterAttach && VerifiedIo.ModeFor(session.Channels[0], Context.Profile).Mode is not null)
        {
            long bytes = (long)Context.Options.Qualification.QualificationIoBuffers * session.Channels[0].Geometry.BufferSize;
            await VerifiedIo.RunAsync(session, Context.Profile, bytes, TimeSpan.FromMilliseconds(Context.Options.Dma.DmaStallTimeoutMs), null,
                $"cycle {cycle}: {Context.Options.Qualification.QualificationIoBuffers}-buffer verified DMA after attach", ct);
        }
    }

    private void CheckIdentity(IDeviceSession session)
    {
        session.Info.Identifier.Should().Be(Context.Map.Identifier, "the identifier ROM after attach must be the loaded csr.json's config_identifier");
        (session.Info.Device.VendorId, session.Info.Device.DeviceId).Should().Be((Context.Profile.VendorId, Context.Profile.DeviceId), "vendor:device after attach");
    }

    private void CheckScratch(IDeviceSession session, int cycle)
    {
        var scratch = Context.Map.Layout.Ctrl.Scratch;
        uint value = 0x5A5A_0000u ^ (uint)cycle;
        uint before = session.Read32(scratch);
        session.Write(scratch, value);
        uint read = session.Read32(scratch);
        session.Write(scratch, before); // restored, as every suite test that writes ctrl_scratch does (the Bar suite may run next)
        if (read != value)
        {
            throw new AssertionException($"ctrl_scratch: wrote 0x{value:X8}, read 0x{read:X8}");
        }
    }

    private void NoteDmaFallback()
    {
        if (!_dmaFallbackNoted)
        {
            _dmaFallbackNoted = true;
            Context.Log($"{Context.Profile.Name} has no DMA loopback: 'dma' cycles detach with a session open but no transfer running");
        }
    }
}
