using System.Globalization;
using LitePcie.Hil.Platform;
using LitePcie.Hil.Reporting;

namespace LitePcie.Hil.Qualification;

/// <summary>How a cycling run is paced and judged.</summary>
/// <param name="Cycles">Cycles to complete (a resumed run does the rest).</param>
/// <param name="WarmupCycles">Cycles before the first resource sample (caches, pools and JIT settle).</param>
/// <param name="SampleEvery">Sample resources every this many cycles after the warm-up.</param>
/// <param name="MaxConsecutiveFailures">Stop early after this many failed cycles in a row (the device is not coming back).</param>
/// <param name="Limits">The per-cycle growth each resource may show.</param>
public sealed record CycleOptions(int Cycles, int WarmupCycles, int SampleEvery, int MaxConsecutiveFailures, LeakLimits Limits)
{
    /// <summary>Fewest samples a resource's slope is judged on; below it the slope is reported, not judged (1 = every fit).</summary>
    public int MinSamples { get; init; } = 1;
}

/// <summary>
/// Who watches a cycling run as it goes (a progress line, a live table): after every cycle, and while one cycle runs long,
/// which phase it is waiting in — after <see cref="SlowAfter"/>, then every <see cref="SlowEvery"/> — instead of silence
/// until its wait's bound expires.
/// </summary>
public sealed record CycleObserver
{
    /// <summary>After each cycle, with the run so far and the cycle's record.</summary>
    public Action<CycleRun, CycleRecord>? Cycle { get; init; }

    /// <summary>A cycle still running: its number, the phase it is in (null between phases) and how long it has run.</summary>
    public Action<int, string?, TimeSpan>? Slow { get; init; }

    /// <summary>When a running cycle is first reported slow.</summary>
    public TimeSpan SlowAfter { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How often a slow cycle is reported again.</summary>
    public TimeSpan SlowEvery { get; init; } = TimeSpan.FromSeconds(5);
}

/// <summary>A cycle that failed: where and why.</summary>
public sealed record CycleFailure(int Cycle, string State, string Phase, string Message);

/// <summary>A phase of a cycle failed; carries the phase name for the journal and the summary.</summary>
public sealed class CyclePhaseException(string phase, Exception inner) : Exception($"{phase}: {inner.Message}", inner)
{
    /// <summary>The phase that failed (e.g. detach, attach, open, dma).</summary>
    public string Phase { get; } = phase;
}

/// <summary>Times the phases of one cycle and names the one that failed.</summary>
public sealed class CyclePhases(TimeProvider time)
{
    private readonly Dictionary<string, double> _ms = new(StringComparer.Ordinal);

    private volatile string? _current;

    /// <summary>Milliseconds per phase so far.</summary>
    public IReadOnlyDictionary<string, double> Milliseconds => _ms;

    /// <summary>The phase running now (null between phases), for progress lines while a slow phase waits.</summary>
    public string? Current => _current;

    /// <summary>Runs a phase; a failure becomes a <see cref="CyclePhaseException"/> naming it.</summary>
    public async Task RunAsync(string phase, Func<Task> action)
    {
        long t0 = time.GetTimestamp();
        _current = phase;
        try
        {
            await action().ConfigureAwait(false);
        }
        catch (Exception e) when (e is not CyclePhaseException and not OperationCanceledException)
        {
            throw new CyclePhaseException(phase, e);
        }
        finally
        {
            _ms[phase] = Math.Round(time.GetElapsedTime(t0).TotalMilliseconds, 3);
            _current = null;
        }
    }

    /// <summary>Runs a phase that returns a value.</summary>
    public async Task<T> RunAsync<T>(string phase, Func<Task<T>> action)
    {
        T result = default!;
        await RunAsync(phase, async () => { result = await action().ConfigureAwait(false); }).ConfigureAwait(false);
        return result;
    }
}

/// <summary>What a cycling run did and its verdict.</summary>
public sealed class CycleRun
{
    internal CycleRun(int planned)
    {
        Planned = planned;
        Times = new List<(int, double)>(planned);
        CpuTimes = new List<(int, double)>(planned);
    }

    /// <summary>Cycles the run was asked for.</summary>
    public int Planned { get; }

    /// <summary>Cycles completed (including those of a resumed earlier run).</summary>
    public int Completed { get; internal set; }

    /// <summary>Cycles this process ran.</summary>
    public int RanHere { get; internal set; }

    /// <summary>Whether an earlier, unfinished run was resumed.</summary>
    public bool Resumed { get; internal set; }

    /// <summary>The first cycle this process ran after resuming (null when nothing was resumed).</summary>
    public int? ResumedAt { get; internal set; }

    /// <summary>Wall time of the cycles this process ran.</summary>
    public TimeSpan Elapsed { get; internal set; }

    /// <summary>Cycles run in this process per second of wall time.</summary>
    public double CyclesPerSecond => Elapsed.TotalSeconds > 0 ? RanHere / Elapsed.TotalSeconds : 0;

    /// <summary>Cycle number and its wall time in milliseconds.</summary>
    public List<(int Cycle, double Milliseconds)> Times { get; }

    /// <summary>Every failed cycle, with its phase and message.</summary>
    public List<CycleFailure> Failures { get; } = [];

    /// <summary>Samples per resource: (cycle, value).</summary>
    public Dictionary<string, (ResourceUnit Unit, List<(long Cycle, double Value)> Points)> Samples { get; } = new(StringComparer.Ordinal);

    /// <summary>The fitted trend of every sampled resource.</summary>
    public List<TrendFit> Trends { get; } = [];

    /// <summary>Resources whose slope exceeds their limit, with the limit.</summary>
    public List<(TrendFit Fit, double Limit)> Leaks { get; } = [];

    /// <summary>Why the run stopped before its planned cycles (null when it did not).</summary>
    public string? StoppedEarly { get; internal set; }

    /// <summary>No failed cycle, no leak over its limit, and the run was not stopped early.</summary>
    public bool Passed => Failures.Count == 0 && Leaks.Count == 0 && StoppedEarly is null;

    /// <summary>The run was cancelled (Ctrl+C, a test's timeout): what it holds is the cycles so far, and its journal is not marked complete.</summary>
    public bool Interrupted { get; internal set; }

    /// <summary>Cycle number and the CPU the test process spent on it in milliseconds (what the cycle cost, whatever else ran).</summary>
    public List<(int Cycle, double Milliseconds)> CpuTimes { get; }

    /// <summary>Samples per resource a full run takes (series are allocated at this size, so sampling retains nothing per cycle).</summary>
    internal int SampleCapacity { get; set; } = 16;

    /// <summary>
    /// Whether a cycle costs the same at the end as near the start: the median CPU time (wall time where no CPU time was
    /// recorded) of the first <paramref name="window"/> cycles from cycle 10 (after start-up effects) and of the last
    /// <paramref name="window"/> cycles, and their ratio. CPU, not wall time: other processes loading the machine late in
    /// the run stretch the wall clock of the late cycles without making them cost more. Null with fewer than
    /// 10 + 2 × window cycles timed.
    /// </summary>
    public CycleCost? Cost(int window = 50)
    {
        bool cpu = CpuTimes.Count >= Times.Count && CpuTimes.Count > 0;
        var ordered = (cpu ? CpuTimes : Times).OrderBy(t => t.Cycle).ToList();
        var early = ordered.Where(t => t.Cycle >= 10).Take(window).ToList();
        if (early.Count < window || ordered.Count < 10 + 2 * window)
        {
            return null;
        }

        var late = ordered[^window..];
        return new CycleCost(early[0].Cycle, LeakTrend.Median([.. early.Select(t => t.Milliseconds)]),
            late[0].Cycle, late[^1].Cycle, LeakTrend.Median([.. late.Select(t => t.Milliseconds)]), window) { Cpu = cpu };
    }

    /// <summary>The verdict in device terms: failing cycles grouped by phase and message, leaks with their slope and limit.</summary>
    public string Summary(string what)
    {
        var c = CultureInfo.InvariantCulture;
        var lines = new List<string>
        {
            string.Create(c, $"{what}: {Completed}/{Planned} cycles, {Failures.Count} failed, {Leaks.Count} leaking resource(s){(Resumed ? " (resumed)" : "")}, {CyclesPerSecond:0.#} cycles/s"),
        };
        if (StoppedEarly is not null)
        {
            lines.Add($"stopped early: {StoppedEarly}");
        }

        if (ResumedAt is { } resumedAt)
        {
            lines.Add(string.Create(c, $"resumed: test-process samples before the resume at cycle {resumedAt} dropped (another process); device-side samples kept"));
        }

        if (Cost() is { } cost)
        {
            lines.Add(cost.ToString());
        }

        foreach (var g in Failures.GroupBy(f => (f.Phase, Message: FirstLine(f.Message))))
        {
            var cycles = g.Select(f => f.Cycle).ToList();
            lines.Add($"cycle{(cycles.Count == 1 ? "" : "s")} {Ranges(cycles)} failed in {g.Key.Phase}: {g.Key.Message}");
        }

        foreach (var (fit, limit) in Leaks)
        {
            lines.Add(string.Create(c, $"leak: {fit.Describe()} exceeds the limit of {limit:0.###}/cycle"));
        }

        return string.Join(Environment.NewLine, lines);
    }

    /// <summary>"3, 10–12, 20" for a sorted list of cycle numbers.</summary>
    public static string Ranges(IReadOnlyList<int> cycles)
    {
        var parts = new List<string>();
        for (int i = 0; i < cycles.Count;)
        {
            int j = i;
            while (j + 1 < cycles.Count && cycles[j + 1] == cycles[j] + 1)
            {
                j++;
            }

            parts.Add(j == i ? cycles[i].ToString(CultureInfo.InvariantCulture)
                : string.Create(CultureInfo.InvariantCulture, $"{cycles[i]}–{cycles[j]}"));
            i = j + 1;
        }

        return string.Join(", ", parts);
    }

    private static string FirstLine(string s)
    {
        int nl = s.IndexOf('\n', StringComparison.Ordinal);
        return nl < 0 ? s : s[..nl];
    }
}

/// <summary>Per-cycle cost early and late in a run: medians of <paramref name="Window"/> cycles each.</summary>
public sealed record CycleCost(int EarlyFrom, double EarlyMedianMs, int LateFrom, int LateTo, double LateMedianMs, int Window)
{
    /// <summary>Whether the medians are CPU per cycle (else wall time).</summary>
    public bool Cpu { get; init; }

    /// <summary>Late median over early median (1.0 = flat).</summary>
    public double Ratio => EarlyMedianMs > 0 ? LateMedianMs / EarlyMedianMs : 1;

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"cycle cost ({(Cpu ? "CPU per cycle" : "wall time per cycle")}): median {EarlyMedianMs:0.00} ms over cycles {EarlyFrom}–{EarlyFrom + Window - 1}, {LateMedianMs:0.00} ms over cycles {LateFrom}–{LateTo} (late/early {Ratio:0.00})");
}

/// <summary>
/// Runs cycles (attach/detach, open/close, sleep/wake) with a journal, per-cycle phase timing, resource sampling
/// after a warm-up and a slope verdict. A failed cycle is recorded and the run goes on (the next cycle is where
/// the device recovers); only a run of consecutive failures stops it early.
/// </summary>
public static class CycleRunner
{
    private static TimeSpan ProcessCpu()
    {
        using var p = System.Diagnostics.Process.GetCurrentProcess();
        return p.TotalProcessorTime;
    }

    /// <summary>Resources of the test process itself: a resumed run is another process, so earlier samples of these are dropped.</summary>
    public const string ProcessPrefix = "process.";

    /// <summary>
    /// Runs the cycles; <paramref name="cycle"/> returns the state it exercised, or throws (ideally a <see cref="CyclePhaseException"/>).
    /// Cancellation ends the run between or during a cycle (that cycle is not recorded): the run comes back
    /// <see cref="CycleRun.Interrupted"/>, with its verdict on the cycles so far.
    /// </summary>
    /// <param name="options">Cycles, warm-up, sampling, early stop and leak limits.</param>
    /// <param name="journal">Where each cycle is recorded as it ends (and earlier cycles come from when resuming); null = none.</param>
    /// <param name="probe">Resource probe sampled after the warm-up.</param>
    /// <param name="device">Device the probe reads.</param>
    /// <param name="cycle">One cycle; returns the state it exercised.</param>
    /// <param name="stateOf">The planned state of a cycle (recorded when the cycle fails before saying).</param>
    /// <param name="steps">Receives one step per block of <paramref name="stepEvery"/> cycles, failed when a cycle of it failed.</param>
    /// <param name="stepEvery">Cycles per reported step.</param>
    /// <param name="onFailure">Called with each failed cycle's record as it happens.</param>
    /// <param name="observer">Told after each cycle and while a cycle runs long; null = nobody watches.</param>
    /// <param name="time">Clock.</param>
    /// <param name="cancellationToken">Stops the run.</param>
    public static async Task<CycleRun> RunAsync(CycleOptions options, CycleJournal? journal, IResourceProbe probe, string device,
        Func<int, CyclePhases, CancellationToken, Task<string>> cycle, Func<int, string> stateOf, IStepReporter? steps = null, int stepEvery = 100,
        Action<CycleRecord>? onFailure = null, CycleObserver? observer = null, TimeProvider? time = null, CancellationToken cancellationToken = default)
    {
        time ??= TimeProvider.System;
        var run = new CycleRun(options.Cycles)
        {
            Resumed = journal?.Resumed ?? false,
            SampleCapacity = Math.Max(1, (options.Cycles - options.WarmupCycles) / Math.Max(1, options.SampleEvery) + 1),
        };
        var previous = journal?.Previous ?? [];
        foreach (var r in previous)
        {
            Absorb(run, r);
        }

        if (previous.Count > 0)
        {
            run.ResumedAt = journal!.NextCycle;
        }

        int consecutive = 0;
        long start = time.GetTimestamp();
        int blockFailures = 0;
        bool blockOpen = false;
        for (int c = journal?.NextCycle ?? 1; c <= options.Cycles; c++)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                run.Interrupted = true;
                break;
            }

            if (!blockOpen)
            {
                int end = Math.Min(((c - 1) / stepEvery + 1) * stepEvery, options.Cycles);
                steps?.StepStarted(string.Create(CultureInfo.InvariantCulture, $"cycles {c}–{end}"));
                (blockOpen, blockFailures) = (true, 0);
            }

            var phases = new CyclePhases(time);
            var cpu0 = ProcessCpu();
            long t0 = time.GetTimestamp();
            string state = stateOf(c);
            string? failedPhase = null, failure = null;
            try
            {
                var running = cycle(c, phases, cancellationToken);
                state = observer?.Slow is null ? await running.ConfigureAwait(false)
                    : await WatchAsync(running, c, phases, t0, observer, time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                run.Interrupted = true;
                break;
            }
            catch (CyclePhaseException e)
            {
                (failedPhase, failure) = (e.Phase, e.InnerException?.Message ?? e.Message);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                (failedPhase, failure) = ("cycle", $"{e.GetType().Name}: {e.Message}");
            }

            double ms = time.GetElapsedTime(t0).TotalMilliseconds;
            double cpuMs = (ProcessCpu() - cpu0).TotalMilliseconds;
            Dictionary<string, double>? samples = null;
            if (c > options.WarmupCycles && (c - options.WarmupCycles) % options.SampleEvery == 0)
            {
                samples = new Dictionary<string, double>(StringComparer.Ordinal);
                foreach (var reading in probe.Sample(device))
                {
                    samples[reading.Name] = reading.Value;
                    Series(run, reading.Name, reading.Unit).Add((c, reading.Value));
                }
            }

            var record = new CycleRecord
            {
                Cycle = c,
                State = state,
                Ok = failure is null,
                Milliseconds = Math.Round(ms, 3),
                CpuMilliseconds = Math.Round(cpuMs, 3),
                FailedPhase = failedPhase,
                Failure = failure,
                Phases = new Dictionary<string, double>(phases.Milliseconds, StringComparer.Ordinal),
                Samples = samples,
            };
            journal?.Append(record);
            run.Times.Add((c, record.Milliseconds));
            run.CpuTimes.Add((c, record.CpuMilliseconds ?? 0));
            run.Completed = c;
            run.RanHere++;
            run.Elapsed = time.GetElapsedTime(start);
            if (failure is not null)
            {
                run.Failures.Add(new CycleFailure(c, state, failedPhase!, failure));
                blockFailures++;
                onFailure?.Invoke(record);
                consecutive++;
            }
            else
            {
                consecutive = 0;
            }

            bool stop = consecutive >= options.MaxConsecutiveFailures;
            if (stop)
            {
                run.StoppedEarly = $"{consecutive} consecutive cycles failed (up to cycle {c}); the device did not recover";
            }

            if (blockOpen && (c % stepEvery == 0 || c == options.Cycles || stop))
            {
                steps?.StepFinished(blockFailures == 0 ? null : new VerdictException($"{blockFailures} cycle(s) failed"));
                blockOpen = false;
            }

            observer?.Cycle?.Invoke(run, record);
            if (stop)
            {
                break;
            }
        }

        if (blockOpen)
        {
            steps?.StepFinished(new OperationCanceledException("the run was cancelled"));
        }

        run.Elapsed = time.GetElapsedTime(start);
        foreach (var (name, (unit, points)) in run.Samples.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            var fit = LeakTrend.Fit(name, unit, points);
            run.Trends.Add(fit);
            if (fit.Samples >= options.MinSamples && options.Limits.LimitFor(name, fit.SampledCycles) is { } limit && fit.Slope > limit)
            {
                run.Leaks.Add((fit, limit));
            }
        }

        if (run.StoppedEarly is null && !run.Interrupted)
        {
            journal?.Complete(run.Completed, run.Failures.Count);
        }

        return run;
    }

    /// <summary>Waits for a cycle; while it runs long, tells the observer which phase it is in (a progress timer, not a synchronisation).</summary>
    private static async Task<string> WatchAsync(Task<string> running, int c, CyclePhases phases, long t0, CycleObserver observer, TimeProvider time,
        CancellationToken cancellationToken)
    {
        var next = observer.SlowAfter;
        using var done = new CancellationTokenSource();
        while (!running.IsCompleted && !cancellationToken.IsCancellationRequested)
        {
            // The timer is cancelled as soon as the cycle ends, so fast cycles leave no pending timers behind.
            var wait = next - time.GetElapsedTime(t0);
            if (wait > TimeSpan.Zero)
            {
                var timer = Task.Delay(wait, time, done.Token);
                if (await Task.WhenAny(running, timer).ConfigureAwait(false) == running)
                {
                    await done.CancelAsync().ConfigureAwait(false);
                    break;
                }
            }

            if (running.IsCompleted || cancellationToken.IsCancellationRequested)
            {
                break;
            }

            observer.Slow!(c, phases.Current, time.GetElapsedTime(t0));
            next += observer.SlowEvery;
        }

        return await running.ConfigureAwait(false);
    }

    private static void Absorb(CycleRun run, CycleRecord r)
    {
        run.Times.Add((r.Cycle, r.Milliseconds));
        if (r.CpuMilliseconds is { } cpu)
        {
            run.CpuTimes.Add((r.Cycle, cpu));
        }
        run.Completed = r.Cycle;
        if (!r.Ok)
        {
            run.Failures.Add(new CycleFailure(r.Cycle, r.State, r.FailedPhase ?? "cycle", r.Failure ?? "failed"));
        }

        foreach (var (name, value) in r.Samples ?? new Dictionary<string, double>())
        {
            if (name.StartsWith(ProcessPrefix, StringComparison.Ordinal))
            {
                continue; // another process's heap, handles and threads: not this run's trend
            }

            // The unit is not journaled per sample; names carry it (…_bytes).
            Series(run, name, name.EndsWith("_bytes", StringComparison.Ordinal) ? ResourceUnit.Bytes : ResourceUnit.Count).Add((r.Cycle, value));
        }
    }

    private static List<(long Cycle, double Value)> Series(CycleRun run, string name, ResourceUnit unit)
    {
        if (!run.Samples.TryGetValue(name, out var s))
        {
            // Sized for the whole run up front: a series that grows as it samples would itself read as managed-heap growth
            // (a dozen resources × 16 bytes per sample, doubling: about 30 bytes per cycle at one sample every 10 cycles).
            s = (unit, new List<(long, double)>(run.SampleCapacity));
            run.Samples[name] = s;
        }

        return s.Points;
    }
}
