using System.Globalization;
using FluentAssertions;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Dma;
using LitePcie.Hil.Fixtures;
using LitePcie.Hil.Fixtures.Allure;
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
    private int _removedMoving;
    private bool _previousCycleClean;
    private string _lastMoving = "";

    [Test]
    [Spec("HIL-qualification")]
    [Issue("enjoy-digital/litepcie", 95)]
    public async Task Attach_detach_cycles_always_recover_and_leak_nothing()
    {
        var attach = Context.Platform.Attach ?? throw new IgnoreException($"no attach/detach control: {Context.Platform.MissingReason}");
        var o = Context.Options;
        var header = new JournalHeader("Qualification.AttachDetach", Target.Backend.ToString().ToLowerInvariant(), Target.Board, Target.Address,
            o.QualificationCycles, string.Create(CultureInfo.InvariantCulture, $"mix {o.DetachMix}; io {o.QualificationIoBuffers} buffers; faults {(o.Backend == BackendKind.Sim ? o.SimFaults.ToString() : "-")}"));
        await RunCyclesAsync("attach/detach", "attach-detach", header, o.QualificationCycles, o.DetachMix.StateOf,
            (c, phases, ct) => AttachDetachCycleAsync(c, attach, phases, ct),
            async () =>
            {
                await EnsureAttachedAsync(attach);
                Context.Log($"{_removedMoving} 'dma' cycle(s) removed the board with its engines moving (each: {Context.Map.Layout.DmaChannels[0].Writer.LoopStatus.Name} advanced twice " +
                            $"in a row right before the detach; last: {_lastMoving})");
            });
    }

    [Test]
    public async Task Open_close_cycles_leak_nothing()
    {
        var o = Context.Options;
        var header = new JournalHeader("Qualification.OpenClose", Target.Backend.ToString().ToLowerInvariant(), Target.Board, Target.Address, o.SessionCycles, "open, identify, scratch, close");
        await RunCyclesAsync("open/close", "open-close", header, o.SessionCycles, _ => "open-close", OpenCloseCycleAsync, () => Task.CompletedTask);
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

    private async Task<string> AttachDetachCycleAsync(int cycle, IAttachControl attach, CyclePhases phases, CancellationToken ct)
    {
        var o = Context.Options;
        string state = o.DetachMix.StateOf(cycle);
        var gone = TimeSpan.FromMilliseconds(o.GoneTimeoutMs);
        IDeviceSession? session = null;
        Task<StreamReport>? stream = null;
        bool planned = false; // between the planned detach and the attach, absence is expected
        using var streamStop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        try
        {
            bool previousClean = _previousCycleClean;
            _previousCycleClean = false;
            if (!await IsEnumeratedAsync(ct))
            {
                // Off the bus at the start: bring it back first (this is where a failed cycle recovers) ...
                await phases.RunAsync("recover", async () =>
                {
                    await attach.AttachAsync(Target.Address, ct);
                    await DeviceWaits.ReappearAsync(Context.Backend, Target.Address, TimeSpan.FromMilliseconds(o.ReenumerationTimeoutMs), null, ct);
                });

                // ... but after a cycle that ended with the board verified and on the bus, the board left by itself in between.
                if (previousClean)
                {
                    throw new CyclePhaseException("between-cycles", new DeviceGoneException(Target.Address,
                        $"the board left the bus after cycle {cycle - 1} ended clean and before cycle {cycle} began (surprise removal) — device gone"));
                }
            }

            if (state != "idle")
            {
                session = await phases.RunAsync("open", Context.OpenSessionAsync);
            }

            if (state == "dma")
            {
                var ch = session!.Channels[0];
                if (VerifiedIo.ModeFor(ch, Context.Profile).Mode is not { } mode)
                {
                    NoteDmaFallback();
                }
                else
                {
                    var open = session;
                    stream = VerifiedIo.WithUserStreamsReleasedIf(mode, open, ch, () => DmaStreamer.RunAsync(ch, new SequencePattern(ch.Geometry.BufferSize),
                        new StreamOptions { Mode = mode, Duration = TimeSpan.FromHours(1), StallTimeout = gone * 4 }, streamStop.Token));
                    await phases.RunAsync("dma-running", () => EnginesMovingAsync(open, ch, stream, gone, ct));
                }
            }

            planned = true;
            await phases.RunAsync("detach", () => attach.DetachAsync(Target.Address, ct));
            if (session is not null)
            {
                var open = session;
                await phases.RunAsync("gone", async () =>
                {
                    await DeviceWaits.UntilAsync(() => open.IsDeviceGone, gone, Target.Address, "the session to report the device gone", null, ct);
                    var call = await DeviceWaits.ReturnsWithinAsync(Task.Run(() => open.Read32(Context.Map.Layout.Ctrl.Scratch), ct), gone, Target.Address,
                        "a register read on the detached device");
                    if (call.IsCompletedSuccessfully)
                    {
                        throw new AssertionException($"a read of ctrl_scratch on the detached device returned a value instead of reporting it gone");
                    }

                    if (stream is not null)
                    {
                        var ended = await DeviceWaits.ReturnsWithinAsync(stream, gone, Target.Address, "the running DMA stream");
                        if (ended.IsCompletedSuccessfully && (await stream).Clean)
                        {
                            throw new AssertionException("the DMA stream ended cleanly although the board was pulled mid-transfer");
                        }
                    }
                });
                await phases.RunAsync("close", async () => await DeviceWaits.ReturnsWithinAsync(session.DisposeAsync().AsTask(), gone, Target.Address, "closing the session"));
                session = null;
            }
            else
            {
                await phases.RunAsync("gone", () => DeviceWaits.AbsentAsync(Context.Backend, Target.Address, gone, null, ct));
            }

            await phases.RunAsync("attach", () => attach.AttachAsync(Target.Address, ct));
            planned = false;
            await phases.RunAsync("enumerate", () => DeviceWaits.ReappearAsync(Context.Backend, Target.Address, TimeSpan.FromMilliseconds(o.ReenumerationTimeoutMs), null, ct));
            var fresh = await phases.RunAsync("reopen", Context.OpenSessionAsync);
            await using (fresh)
            {
                await phases.RunAsync("verify", () => VerifyAsync(fresh, cycle, ct));
            }

            // Still on the bus once verified and closed: a removal in the tail of the cycle is this cycle's failure.
            await phases.RunAsync("still-attached", async () =>
            {
                if (!await IsEnumeratedAsync(ct))
                {
                    throw new DeviceGoneException(Target.Address, "the board left the bus after its verified DMA (surprise removal) — device gone");
                }
            });
            _previousCycleClean = true;
            return state;
        }
        catch (CyclePhaseException e) when (!planned && e.InnerException is not DeviceGoneException && !IsEnumerated())
        {
            // The board vanished outside the planned window (a surprise removal, a link drop): say so, whatever the
            // phase tripped over first (a stall, a refused call).
            throw new CyclePhaseException(e.Phase, new DeviceGoneException(Target.Address,
                $"the device left the bus outside the planned detach (surprise removal) — device gone; first symptom: {e.InnerException?.Message ?? e.Message}"));
        }
        finally
        {
            await streamStop.CancelAsync();
            if (stream is not null)
            {
                await DeviceWaits.CompletesWithinAsync(stream, gone);
            }

            if (session is not null)
            {
                await DeviceWaits.CompletesWithinAsync(session.DisposeAsync().AsTask(), gone);
            }
        }
    }

    /// <summary>
    /// The planned removal happens mid-transfer: the writer's own <c>loop_status</c> (the hardware, not the driver's count)
    /// must advance twice in a row right before the detach. A stream that has not started, stalled or ended fails here
    /// instead of being removed idle.
    /// </summary>
    private async Task EnginesMovingAsync(IDeviceSession session, IDmaChannel ch, Task<StreamReport> stream, TimeSpan bound, CancellationToken ct)
    {
        var status = ch.Layout.Writer.LoopStatus;
        var counter = new HwCounter(ch.Geometry.BufferCount);
        long first = counter.Update(session.Read32(status)), last = first;
        for (int advances = 0; advances < 2;)
        {
            if (stream.IsCompleted)
            {
                var report = await stream; // a fault can end it early: say why
                throw new AssertionException($"the DMA stream ended before the planned removal: {report.Stall ?? $"{report.Errors} bad buffers"}");
            }

            // The stream owns the writer's interrupt wait: watch the hardware's own count (bounded) instead.
            long now = last;
            await DeviceWaits.UntilAsync(() => stream.IsCompleted || (now = counter.Update(session.Read32(status))) > last, bound, Target.Address,
                $"{status.Name} to advance past buffer {last} before the planned removal", null, ct);
            if (now > last)
            {
                (last, advances) = (now, advances + 1);
            }
        }

        Interlocked.Increment(ref _removedMoving);
        _lastMoving = $"{status.Name} advanced from buffer {first} to {last} just before the detach";
    }

    private bool IsEnumerated() => IsEnumeratedAsync(CancellationToken.None).GetAwaiter().GetResult();

    private async Task<bool> IsEnumeratedAsync(CancellationToken ct) =>
        (await Context.Backend.EnumerateAsync(ct)).Any(d => d.Address == Target.Address);

    private async Task<string> OpenCloseCycleAsync(int cycle, CyclePhases phases, CancellationToken ct)
    {
        var session = await phases.RunAsync("open", Context.OpenSessionAsync);
        await using (session)
        {
            await phases.RunAsync("verify", () =>
            {
                CheckIdentity(session);
                CheckScratch(session, cycle);
                return Task.CompletedTask;
            });
        }

        return "open-close";
    }

    /// <summary>After attach: the same bitstream answers, scratch works, and a short transfer is intact.</summary>
    private async Task VerifyAsync(IDeviceSession session, int cycle, CancellationToken ct)
    {
        CheckIdentity(session);
        CheckScratch(session, cycle);
        if (VerifiedIo.ModeFor(session.Channels[0], Context.Profile).Mode is not null)
        {
            long bytes = (long)Context.Options.QualificationIoBuffers * session.Channels[0].Geometry.BufferSize;
            await VerifiedIo.RunAsync(session, Context.Profile, bytes, TimeSpan.FromMilliseconds(Context.Options.DmaStallTimeoutMs), null,
                $"cycle {cycle}: {Context.Options.QualificationIoBuffers}-buffer verified DMA after attach", ct);
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
        session.Write(scratch, value);
        uint read = session.Read32(scratch);
        if (read != value)
        {
            throw new AssertionException($"ctrl_scratch: wrote 0x{value:X8}, read 0x{read:X8}");
        }
    }

    /// <summary>Whatever happened, the board ends attached and enumerated so the next suite finds it.</summary>
    private async Task EnsureAttachedAsync(IAttachControl attach)
    {
        var o = Context.Options;
        var bound = TimeSpan.FromMilliseconds(o.ReenumerationTimeoutMs);
        for (int attempt = 1; attempt <= 3; attempt++)
        {
            try
            {
                await attach.AttachAsync(Target.Address, CancellationToken.None);
                await DeviceWaits.ReappearAsync(Context.Backend, Target.Address, bound, null, CancellationToken.None);
                return;
            }
            catch (DeviceException e)
            {
                Context.Log($"restoring {Target} after the cycles, attempt {attempt}: {e.Message}");
                try
                {
                    await attach.DetachAsync(Target.Address, CancellationToken.None);
                }
                catch (DeviceGoneException)
                {
                    // not on the bus: the next attach is all that is needed
                }
            }
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
