using System.Globalization;
using LitePcie.Hil.Boards;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Dma;
using LitePcie.Hil.Platform;
using LitePcie.Hil.Reporting;

namespace LitePcie.Hil.Qualification;

/// <summary>What an attach/detach (or open/close) cycle works on, and what the caller checks.</summary>
public sealed record CycleBench
{
    /// <summary>The backend the board is enumerated on.</summary>
    public required IDeviceBackend Backend { get; init; }

    /// <summary>The board's address.</summary>
    public required string Address { get; init; }

    /// <summary>The profile the board must match after each attach.</summary>
    public required BoardProfile Profile { get; init; }

    /// <summary>Opens a session on the board (the fixture's own open, with its retries, or the CLI's).</summary>
    public required Func<CancellationToken, Task<IDeviceSession>> Open { get; init; }

    /// <summary>Attach/detach control (null for open/close cycles).</summary>
    public IAttachControl? Attach { get; init; }

    /// <summary>What a cycle does before the detach: <c>idle</c> (no session), <c>open</c> (a session) or <c>dma</c> (a transfer running).</summary>
    public Func<int, string> StateOf { get; init; } = _ => "open";

    /// <summary>
    /// Checks a freshly opened session: after an attach (<c>true</c>: identity, scratch, a short verified transfer) or in an
    /// open/close cycle (<c>false</c>). Default: <see cref="QualificationChecks.VerifyAsync"/>.
    /// </summary>
    public Func<IDeviceSession, int, bool, CancellationToken, Task>? Verify { get; init; }

    /// <summary>
    /// Starts the transfer a <c>dma</c> cycle detaches under (it runs until cancelled or the board is gone); null when the board
    /// cannot stream (the cycle detaches with the session open and nothing moving). Default: none.
    /// </summary>
    public Func<IDeviceSession, TimeSpan, CancellationToken, Task<StreamReport>?>? StartStream { get; init; }

    /// <summary>Bound on the board leaving the bus, a session reporting it gone, a call returning after it.</summary>
    public TimeSpan Gone { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Bound on the board re-enumerating after an attach.</summary>
    public TimeSpan Reenumeration { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Where the cycles say what they did (removals under load, restore attempts).</summary>
    public Action<string>? Log { get; init; }

    /// <summary>
    /// The board was on the bus and answering when the cycles began (the suite's fixture held a session on it): a first
    /// cycle that finds it gone fails as a surprise removal instead of quietly bringing it back. False (the default) when
    /// nothing checked it, e.g. a resumed bench run after a crash mid-cycle.
    /// </summary>
    public bool StartsAttached { get; init; }
}

/// <summary>
/// The attach/detach qualification cycle, for the suite and for <c>litepcie-hil qualify</c> alike: each cycle detaches
/// the board idle, with a session open, or mid-DMA (a surprise removal under load); checks the session reports the device
/// gone within a bound and no call hangs; attaches it; waits for re-enumeration; opens, verifies and closes; and checks the
/// board is still on the bus. A cycle that starts with the board off the bus brings it back first (where a failed cycle
/// recovers). Run the cycles with <see cref="CycleRunner"/>.
/// </summary>
public sealed class AttachDetachCycle(CycleBench bench)
{
    private bool _previousCycleClean = bench.StartsAttached;
    private bool _anyCycle;

    /// <summary>Cycles whose 'dma' detach happened with the writer's loop_status advancing twice in a row right before it.</summary>
    public int RemovedMoving => _removedMoving;

    /// <summary>The last such cycle, in words.</summary>
    public string LastMoving { get; private set; } = "";

    /// <summary>Whether a 'dma' cycle had to detach without a transfer running (the board cannot stream).</summary>
    public bool StreamFallback { get; private set; }

    private int _removedMoving;

    private string Address => bench.Address;

    private IAttachControl Control => bench.Attach ?? throw new InvalidOperationException("an attach/detach cycle needs an attach control");

    /// <summary>Open, verify, close.</summary>
    public async Task<string> OpenCloseAsync(int cycle, CyclePhases phases, CancellationToken ct)
    {
        var session = await phases.RunAsync("open", () => bench.Open(ct)).ConfigureAwait(false);
        await using (session.ConfigureAwait(false))
        {
            await phases.RunAsync("verify", () => VerifyAsync(session, cycle, false, ct)).ConfigureAwait(false);
        }

        return "open-close";
    }

    /// <summary>One attach/detach cycle; returns the state it exercised.</summary>
    public async Task<string> RunAsync(int cycle, CyclePhases phases, CancellationToken ct)
    {
        var attach = Control;
        string state = bench.StateOf(cycle);
        var gone = bench.Gone;
        IDeviceSession? session = null;
        Task<StreamReport>? stream = null;
        bool planned = false; // between the planned detach and the attach, absence is expected
        using var streamStop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        try
        {
            bool previousClean = _previousCycleClean, first = !_anyCycle;
            _previousCycleClean = false;
            _anyCycle = true;
            if (!await IsEnumeratedAsync(ct).ConfigureAwait(false))
            {
                // Off the bus at the start: bring it back first (this is where a failed cycle recovers) ...
                await phases.RunAsync("recover", async () =>
                {
                    await attach.AttachAsync(Address, ct).ConfigureAwait(false);
                    await DeviceWaits.ReappearAsync(bench.Backend, Address, bench.Reenumeration, null, ct).ConfigureAwait(false);
                }).ConfigureAwait(false);

                // ... but after a cycle that ended with the board verified and on the bus, the board left by itself in between.
                if (previousClean)
                {
                    string since = first ? "after the run began with it on the bus" : $"after cycle {cycle - 1} ended clean";
                    throw new CyclePhaseException("between-cycles", new DeviceGoneException(Address,
                        $"the board left the bus {since} and before cycle {cycle} began (surprise removal) — device gone"));
                }
            }

            if (state != "idle")
            {
                session = await phases.RunAsync("open", () => bench.Open(ct)).ConfigureAwait(false);
            }

            if (state == "dma")
            {
                var open = session!;
                var ch = open.Channels[0];
                stream = bench.StartStream?.Invoke(open, gone * 4, streamStop.Token);
                if (stream is null)
                {
                    StreamFallback = true;
                }
                else
                {
                    var running = stream;
                    await phases.RunAsync("dma-running", () => EnginesMovingAsync(open, ch, running, gone, ct)).ConfigureAwait(false);
                }
            }

            planned = true;
            await phases.RunAsync("detach", () => attach.DetachAsync(Address, ct)).ConfigureAwait(false);
            if (session is not null)
            {
                var open = session;
                await phases.RunAsync("gone", async () =>
                {
                    await DeviceWaits.UntilAsync(() => open.IsDeviceGone, gone, Address, "the session to report the device gone", null, ct).ConfigureAwait(false);
                    var call = await DeviceWaits.ReturnsWithinAsync(Task.Run(() => open.Read32(open.Map.Layout.Ctrl.Scratch), ct), gone, Address,
                        "a register read on the detached device").ConfigureAwait(false);
                    if (call.IsCompletedSuccessfully)
                    {
                        throw new VerdictException("a read of ctrl_scratch on the detached device returned a value instead of reporting it gone");
                    }

                    if (stream is not null)
                    {
                        var ended = await DeviceWaits.ReturnsWithinAsync(stream, gone, Address, "the running DMA stream").ConfigureAwait(false);
                        if (ended.IsCompletedSuccessfully && (await stream.ConfigureAwait(false)).Clean)
                        {
                            throw new VerdictException("the DMA stream ended cleanly although the board was pulled mid-transfer");
                        }
                    }
                }).ConfigureAwait(false);
                await phases.RunAsync("close", async () => await DeviceWaits.ReturnsWithinAsync(open.DisposeAsync().AsTask(), gone, Address, "closing the session").ConfigureAwait(false))
                    .ConfigureAwait(false);
                session = null;
            }
            else
            {
                await phases.RunAsync("gone", () => DeviceWaits.AbsentAsync(bench.Backend, Address, gone, null, ct)).ConfigureAwait(false);
            }

            await phases.RunAsync("attach", () => attach.AttachAsync(Address, ct)).ConfigureAwait(false);
            planned = false;
            await phases.RunAsync("enumerate", () => DeviceWaits.ReappearAsync(bench.Backend, Address, bench.Reenumeration, null, ct)).ConfigureAwait(false);
            var fresh = await phases.RunAsync("reopen", () => bench.Open(ct)).ConfigureAwait(false);
            await using (fresh.ConfigureAwait(false))
            {
                await phases.RunAsync("verify", () => VerifyAsync(fresh, cycle, true, ct)).ConfigureAwait(false);
            }

            // Still on the bus once verified and closed: a removal in the tail of the cycle is this cycle's failure.
            await phases.RunAsync("still-attached", async () =>
            {
                if (!await IsEnumeratedAsync(ct).ConfigureAwait(false))
                {
                    throw new DeviceGoneException(Address, "the board left the bus after its verified DMA (surprise removal) — device gone");
                }
            }).ConfigureAwait(false);
            _previousCycleClean = true;
            return state;
        }
        catch (CyclePhaseException e) when (!planned && e.InnerException is not DeviceGoneException && !IsEnumerated())
        {
            // The board vanished outside the planned window (a surprise removal, a link drop): say so, whatever the
            // phase tripped over first (a stall, a refused call).
            throw new CyclePhaseException(e.Phase, new DeviceGoneException(Address,
                $"the device left the bus outside the planned detach (surprise removal) — device gone; first symptom: {e.InnerException?.Message ?? e.Message}"));
        }
        finally
        {
            await streamStop.CancelAsync().ConfigureAwait(false);
            if (stream is not null)
            {
                await DeviceWaits.CompletesWithinAsync(stream, gone).ConfigureAwait(false);
            }

            if (session is not null)
            {
                await DeviceWaits.CompletesWithinAsync(session.DisposeAsync().AsTask(), gone).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Whatever happened (a failed attach, a cancelled run), the board ends attached and enumerated for whoever comes next:
    /// up to three attach attempts, with a detach between them. Returns the last error, or null when the board is back.
    /// </summary>
    public async Task<DeviceException?> EnsureAttachedAsync()
    {
        var attach = Control;
        DeviceException? last = null;
        for (int attempt = 1; attempt <= 3; attempt++)
        {
            try
            {
                await attach.AttachAsync(Address, CancellationToken.None).ConfigureAwait(false);
                await DeviceWaits.ReappearAsync(bench.Backend, Address, bench.Reenumeration, null, CancellationToken.None).ConfigureAwait(false);
                return null;
            }
            catch (DeviceException e)
            {
                last = e;
                bench.Log?.Invoke($"restoring {Address} after the cycles, attempt {attempt}: {e.Message}");
                try
                {
                    await attach.DetachAsync(Address, CancellationToken.None).ConfigureAwait(false);
                }
                catch (DeviceGoneException)
                {
                    // not on the bus: the next attach is all that is needed
                }
            }
        }

        return last;
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
                var report = await stream.ConfigureAwait(false); // a fault can end it early: say why
                throw new VerdictException($"the DMA stream ended before the planned removal: {report.Stall ?? $"{report.Errors} bad buffers"}");
            }

            // The stream owns the writer's interrupt wait: watch the hardware's own count (bounded) instead.
            long now = last;
            await DeviceWaits.UntilAsync(() => stream.IsCompleted || (now = counter.Update(session.Read32(status))) > last, bound, Address,
                $"{status.Name} to advance past buffer {last} before the planned removal", null, ct).ConfigureAwait(false);
            if (now > last)
            {
                (last, advances) = (now, advances + 1);
            }
        }

        Interlocked.Increment(ref _removedMoving);
        LastMoving = $"{status.Name} advanced from buffer {first} to {last} just before the detach";
    }

    private Task VerifyAsync(IDeviceSession session, int cycle, bool afterAttach, CancellationToken ct) =>
        bench.Verify is { } verify ? verify(session, cycle, afterAttach, ct) : QualificationChecks.VerifyAsync(session, bench.Profile, cycle, afterAttach, bench.Gone, ct);

    private bool IsEnumerated() => IsEnumeratedAsync(CancellationToken.None).GetAwaiter().GetResult();

    private async Task<bool> IsEnumeratedAsync(CancellationToken ct) =>
        (await bench.Backend.EnumerateAsync(ct).ConfigureAwait(false)).Any(d => d.Address == Address);
}

/// <summary>The checks a cycle runs on a freshly opened session when its caller brings none of its own.</summary>
public static class QualificationChecks
{
    /// <summary>
    /// The same bitstream answers (identifier ROM, vendor:device), <c>ctrl_scratch</c> holds a per-cycle value, and after an
    /// attach on a design with loopback a 16-buffer transfer comes back intact (each wait bounded by <paramref name="stall"/>).
    /// </summary>
    public static async Task VerifyAsync(IDeviceSession session, BoardProfile profile, int cycle, bool afterAttach, TimeSpan stall, CancellationToken ct)
    {
        if (session.Info.Identifier != profile.CsrMap.Identifier || session.Info.Device.VendorId != profile.VendorId || session.Info.Device.DeviceId != profile.DeviceId)
        {
            throw new VerdictException($"identity after {(afterAttach ? "attach" : "open")}: \"{session.Info.Identifier}\" " +
                $"[{session.Info.Device.VendorId:x4}:{session.Info.Device.DeviceId:x4}], expected \"{profile.CsrMap.Identifier}\" [{profile.VendorId:x4}:{profile.DeviceId:x4}]");
        }

        var scratch = session.Map.Layout.Ctrl.Scratch;
        uint value = 0xC0DE_0000u ^ (uint)cycle;
        session.Write(scratch, value);
        uint read = session.Read32(scratch);
        if (read != value)
        {
            throw new VerdictException(string.Create(CultureInfo.InvariantCulture, $"ctrl_scratch: wrote 0x{value:X8}, read 0x{read:X8}"));
        }

        var ch = session.Channels[0];
        if (afterAttach && ch.Layout.LoopbackEnable is not null)
        {
            var report = await DmaStreamer.RunAsync(ch, new SequencePattern(ch.Geometry.BufferSize),
                new StreamOptions { Bytes = 16L * ch.Geometry.BufferSize, StallTimeout = stall }, ct).ConfigureAwait(false);
            if (!report.Clean)
            {
                throw new VerdictException($"16-buffer loopback DMA after attach: {report.Errors} bad buffer(s); " +
                    $"{(report.ErrorDetails.Count > 0 ? report.ErrorDetails[0].ToString() : report.Stall ?? "driver lost buffers")}");
            }
        }
    }
}
