using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Dma;
using LitePcie.Hil.Platform;
using LitePcie.Hil.Qualification;
using Spectre.Console;

namespace LitePcie.Hil.Cli;

/// <summary>
/// <c>litepcie-hil qualify</c>: attach/detach (or open/close) cycles with the framework's qualification types —
/// per-phase timing (<see cref="CyclePhases"/>), resource samples after a warm-up judged on their Theil–Sen slope
/// (<see cref="LeakTrend"/>, <see cref="LeakLimits"/>), an optional resumable <see cref="CycleJournal"/>. Each
/// attach/detach cycle pulls the board with a session open (a surprise removal), checks the session reports it gone,
/// attaches it, waits for re-enumeration, reopens and verifies identity, scratch and (with loopback) a short DMA.
/// A failed cycle is recorded and the run goes on. Exit 1 when a cycle failed or a resource grows faster than its limit.
/// </summary>
internal static class QualifyCommand
{
    private const string AttachDetach = "attach-detach";
    private const string OpenClose = "open-close";

    private static readonly Option<int> Cycles = CliOptions.Integer("--cycles", "Cycles to run", 100, 1, 1_000_000, "cycles");
    private static readonly Option<string> Kind = CliOptions.Choice("--kind", "What a cycle does", AttachDetach, AttachDetach, OpenClose);
    private static readonly Option<int> Warmup = CliOptions.Integer("--warmup", "Cycles before the first resource sample", 10, 0, 1_000_000, "cycles");
    private static readonly Option<int> SampleEvery = CliOptions.Integer("--sample-every", "Sample resources every this many cycles", 2, 1, 100_000, "cycles");
    private static readonly Option<int> MaxFailures = CliOptions.Integer("--max-failures", "Stop after this many consecutive failed cycles", 10, 1, 1_000_000, "cycles");
    private static readonly Option<double> Timeout = CliOptions.Number("--timeout", "Bound on each wait (gone, re-enumeration, DMA)", 10, 0.1, 600, "seconds");
    private static readonly Option<string?> LeakLimit = new("--leak-limit")
    {
        Description = $"Per-cycle growth limits 'resource=limit;prefix*=limit'; a matching rule overrides the defaults ({LeakLimits.Default})",
    };

    private static readonly Option<FileInfo?> Journal = new("--journal") { Description = "JSON-lines journal of every cycle; an unfinished journal of the same plan is resumed" };
    private static readonly LabCommandOptions Lab = new(attachDetach: true, sleep: false);

    public static Command Create(CliIo io)
    {
        var command = DeviceCommand.Create("qualify", "Attach/detach or open/close cycles with leak-slope verdict (progress, per-resource slopes)", io,
            [Cycles, Kind, Warmup, SampleEvery, MaxFailures, Timeout, LeakLimit, Journal, .. Lab.Options], RunAsync);
        command.Validators.Add(Lab.Validate);
        command.Validators.Add(result =>
        {
            if (result.GetValue(LeakLimit) is { } text)
            {
                var errors = new List<string>();
                LeakLimits.Parse(text, errors, "--leak-limit");
                foreach (var e in errors)
                {
                    result.AddError(e);
                }
            }
        });
        return command;
    }

    private static async Task<int> RunAsync(CommandContext ctx)
    {
        var p = ctx.Parse;
        var c = ctx.Console;
        var plan = new QualifyPlan(p.GetValue(Kind)!, p.GetValue(Cycles), p.GetValue(Warmup), p.GetValue(SampleEvery), p.GetValue(MaxFailures),
            TimeSpan.FromSeconds(p.GetValue(Timeout)),
            LeakLimits.Parse(p.GetValue(LeakLimit) ?? "", []), LeakLimits.Parse(LeakLimits.Default, []));
        await using var bench = await Bench.OpenAsync(ctx.Request, ctx.Cancel).ConfigureAwait(false);
        var platform = bench.Platform(Lab.Read(p));
        IAttachControl? attach = null;
        if (plan.Kind == AttachDetach)
        {
            attach = platform.Attach ?? throw new DeviceCapabilityException(bench.Device.Address, "attach/detach control", $"{platform.MissingReason} (give the lab's --detach-command and --attach-command, or --kind open-close, which needs none)");
        }

        if (plan.Cycles - plan.Warmup < QualifyRun.SettledSamples * plan.SampleEvery)
        {
            c.Note($"--cycles {plan.Cycles} with --warmup {plan.Warmup} and --sample-every {plan.SampleEvery} gives fewer than {QualifyRun.SettledSamples} resource samples: no leak verdict");
        }

        var header = new JournalHeader($"litepcie-hil qualify {plan.Kind}", bench.Backend.Name, bench.Profile.Name, bench.Device.Address, plan.Cycles,
            string.Create(CultureInfo.InvariantCulture, $"warmup {plan.Warmup}; sample every {plan.SampleEvery}; faults {ctx.Request.Faults ?? "-"}"));
        using var journal = p.GetValue(Journal) is { } file ? CycleJournal.Open(file.FullName, header, resume: true) : null;
        var run = new QualifyRun(plan, platform.Probe, bench.Device.Address);
        if (journal is not null)
        {
            run.Absorb(journal.Previous);
            c.Line(journal.Resumed ? $"journal {journal.Path}: resuming at cycle {journal.NextCycle}" : $"journal {journal.Path}{(journal.Note is null ? "" : $" (new: {journal.Note})")}");
        }

        c.Line($"qualify {plan.Kind} on {bench.Device.Backend}:{bench.Device.Address}: {plan.Cycles} cycles, warm-up {plan.Warmup}, sample every {plan.SampleEvery}; probe: {platform.Probe.Description}");
        var cycle = new QualifyCycle(bench, attach, plan.Timeout);
        int first = journal?.NextCycle ?? 1;
        try
        {
            if (c.Terminal)
            {
                await c.Ansi.Progress().AutoClear(false)
                    .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                    .StartAsync(async progress =>
                    {
                        var task = progress.AddTask(Markup.Escape(run.Status()), maxValue: plan.Cycles);
                        task.Value = first - 1;
                        await run.CyclesAsync(first, cycle, journal, new QualifyProgress(
                            OnCycle: () =>
                            {
                                task.Value = run.Completed;
                                task.Description = Markup.Escape(run.Status());
                            },
                            OnFailure: failure => c.Ansi.MarkupLine($"[red]! {Markup.Escape(failure)}[/]"),
                            OnSlow: slow => task.Description = Markup.Escape($"{run.Status()} — {slow}")), ctx.Cancel).ConfigureAwait(false);
                    }).ConfigureAwait(false);
            }
            else
            {
                int every = Math.Max(1, plan.Cycles / 20);
                await run.CyclesAsync(first, cycle, journal, new QualifyProgress(
                    OnCycle: () =>
                    {
                        if (run.Completed % every == 0 || run.Completed == plan.Cycles)
                        {
                            c.Line(run.Status());
                        }
                    },
                    OnFailure: failure => c.Line($"! {failure}"),
                    OnSlow: slow => c.Line($"… {slow}")), ctx.Cancel).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ctx.Cancel.IsCancellationRequested)
        {
            run.Interrupted = true;
        }
        finally
        {
            if (attach is not null)
            {
                await cycle.EnsureAttachedAsync(c).ConfigureAwait(false);
            }
        }

        var verdict = run.Finish();
        if (journal is not null && run.StoppedEarly is null && !run.Interrupted)
        {
            journal.Complete(run.Completed, run.Failures.Count);
        }

        Report(c, run, verdict);
        return run.Passed ? ExitCodes.Success : ExitCodes.TestFailed;
    }

    private static void Report(CliConsole c, QualifyRun run, IReadOnlyList<(TrendFit Fit, double? Limit)> trends)
    {
        var plan = run.Plan;
        c.Line();
        c.Line($"[> qualify summary{(run.Interrupted ? " (interrupted by Ctrl+C: cycles so far)" : "")}");
        c.Line(string.Create(CultureInfo.InvariantCulture,
            $"  {plan.Kind}: {run.Completed}/{plan.Cycles} cycles, {run.Failures.Count} failed, {run.Leaks.Count} leaking resource(s), {run.CyclesPerSecond:0.#} cycles/s"));
        if (run.StoppedEarly is not null)
        {
            c.Line($"  stopped early: {run.StoppedEarly}");
        }

        foreach (var g in run.Failures.GroupBy(f => (f.Phase, f.Message)))
        {
            c.Line($"  ! cycle(s) {CycleRun.Ranges([.. g.Select(f => f.Cycle)])} failed in {g.Key.Phase}: {g.Key.Message}");
        }

        if (trends.Count == 0)
        {
            c.Line($"  leak verdict: none — no resource sample after the warm-up of {plan.Warmup} cycle(s)");
        }
        else
        {
            int samples = trends.Max(t => t.Fit.Samples);
            c.Line(samples < QualifyRun.SettledSamples
                ? $"  leak verdict: none — {samples} sample{(samples == 1 ? "" : "s")} after the warm-up of {plan.Warmup} cycle(s); a slope is judged on at least {QualifyRun.SettledSamples}"
                : $"  resources sampled every {plan.SampleEvery} cycle(s) after a warm-up of {plan.Warmup} (not sampled): {samples} samples, slopes judged on all of them");
        }

        // Numbers right-aligned; byte counts for people (the JSON keeps the exact figures).
        var table = new Table().Border(TableBorder.Simple);
        table.AddColumn("RESOURCE");
        foreach (var header in new[] { "SLOPE/CYCLE", "LIMIT", "FIRST → LAST", "SAMPLES" })
        {
            table.AddColumn(new TableColumn(header).RightAligned());
        }

        table.AddColumn("VERDICT");
        foreach (var (fit, limit) in trends)
        {
            bool leak = limit is { } l && fit.Samples >= QualifyRun.SettledSamples && fit.Slope > l;
            string verdict = leak ? (c.Terminal ? "[red]LEAK[/]" : "LEAK")
                : fit.Samples < QualifyRun.SettledSamples ? $"not judged ({fit.Samples} sample{(fit.Samples == 1 ? "" : "s")})"
                : limit is null ? "reported"
                : "ok";
            table.AddRow(Markup.Escape(fit.Resource), QualifyRun.Amount(fit.Unit, fit.Slope), limit is null ? "-" : QualifyRun.Amount(fit.Unit, limit.Value),
                $"{QualifyRun.Amount(fit.Unit, fit.First)} → {QualifyRun.Amount(fit.Unit, fit.Last)}", fit.Samples.ToString(CultureInfo.InvariantCulture),
                verdict);
        }

        if (trends.Count > 0)
        {
            c.Render(table);
        }

        foreach (var (fit, limit) in run.Leaks)
        {
            c.Line($"  ! leak: {fit.Resource}: +{QualifyRun.Amount(fit.Unit, fit.Slope)}/cycle (least squares {QualifyRun.Amount(fit.Unit, fit.LeastSquaresSlope)}; " +
                $"{QualifyRun.Amount(fit.Unit, fit.First)} → {QualifyRun.Amount(fit.Unit, fit.Last)} over {fit.Samples} samples) exceeds the limit of {QualifyRun.Amount(fit.Unit, limit)}/cycle");
        }

        bool judged = trends.Any(t => t.Limit is not null && t.Fit.Samples >= QualifyRun.SettledSamples);
        c.Verdict(run.Passed, run.Passed && !judged
            ? $"qualify: PASS (every cycle passed; no leak verdict: fewer than {QualifyRun.SettledSamples} samples)"
            : $"qualify: {(run.Passed ? "PASS" : "FAIL")}");
        c.Document(new JsonObject
        {
            ["command"] = "qualify",
            ["kind"] = plan.Kind,
            ["passed"] = run.Passed,
            ["interrupted"] = run.Interrupted,
            ["cycles"] = plan.Cycles,
            ["warmup"] = plan.Warmup,
            ["sampleEvery"] = plan.SampleEvery,
            ["completed"] = run.Completed,
            ["failed"] = run.Failures.Count,
            ["stoppedEarly"] = run.StoppedEarly,
            ["cyclesPerSecond"] = Math.Round(run.CyclesPerSecond, 3),
            ["failures"] = new JsonArray([.. run.Failures.Select(f => (JsonNode)new JsonObject { ["cycle"] = f.Cycle, ["phase"] = f.Phase, ["message"] = f.Message })]),
            ["resources"] = new JsonArray([.. trends.Select(t => (JsonNode)new JsonObject
            {
                ["name"] = t.Fit.Resource,
                ["unit"] = t.Fit.Unit.ToString(),
                ["slopePerCycle"] = t.Fit.Slope,
                ["leastSquaresSlope"] = t.Fit.LeastSquaresSlope,
                ["limit"] = t.Limit,
                ["first"] = t.Fit.First,
                ["last"] = t.Fit.Last,
                ["samples"] = t.Fit.Samples,
                ["judged"] = t.Limit is not null && t.Fit.Samples >= QualifyRun.SettledSamples,
                ["leak"] = t.Limit is { } l && t.Fit.Samples >= QualifyRun.SettledSamples && t.Fit.Slope > l,
            })]),
        });
    }
}

/// <summary>Where a qualify run reports: after each cycle, each failure as it happens, and a cycle that is taking long.</summary>
internal sealed record QualifyProgress(Action OnCycle, Action<string> OnFailure, Action<string> OnSlow);

/// <summary>How a qualify run is paced and judged.</summary>
internal sealed record QualifyPlan(string Kind, int Cycles, int Warmup, int SampleEvery, int MaxConsecutiveFailures, TimeSpan Timeout, LeakLimits User, LeakLimits Defaults)
{
    /// <summary>A resource's limit: a matching <c>--leak-limit</c> rule wins over the defaults; null = reported, not judged.</summary>
    public double? LimitFor(string resource) => User.LimitFor(resource) ?? Defaults.LimitFor(resource);
}

/// <summary>The cycles run so far: failures, resource series and the live worst slope.</summary>
internal sealed class QualifyRun(QualifyPlan plan, IResourceProbe probe, string device)
{
    private readonly Dictionary<string, (ResourceUnit Unit, List<(long Cycle, double Value)> Points)> _series = new(StringComparer.Ordinal);
    private readonly Stopwatch _clock = new();
    private int _ranHere;
    private string _worst = "no sample yet";

    public QualifyPlan Plan => plan;

    public int Completed { get; private set; }

    public List<CycleFailure> Failures { get; } = [];

    public List<(TrendFit Fit, double Limit)> Leaks { get; } = [];

    public string? StoppedEarly { get; private set; }

    public bool Interrupted { get; set; }

    public double CyclesPerSecond => _clock.Elapsed.TotalSeconds > 0 ? _ranHere / _clock.Elapsed.TotalSeconds : 0;

    public bool Passed => Failures.Count == 0 && Leaks.Count == 0 && StoppedEarly is null;

    /// <summary>
    /// Fewest samples a slope is judged on. Between two samples there is one difference, not a trend (Theil–Sen's
    /// median of pairwise slopes starts to resist an outlier at three); below this a slope is shown as settling and
    /// the summary says "not judged".
    /// </summary>
    public const int SettledSamples = 3;

    /// <summary>
    /// One status line: cycle, failures, rate and time left, then either the warm-up (nothing sampled yet) or the
    /// worst resource so far with its sample count — "settling" while it has fewer than <see cref="SettledSamples"/>;
    /// the verdict itself is taken once, at the end, on every sample.
    /// </summary>
    public string Status()
    {
        string head = $"cycle {Completed}/{plan.Cycles}, {Failures.Count} failed";
        if (_ranHere > 0 && _clock.Elapsed.TotalSeconds > 0 && Completed < plan.Cycles)
        {
            double rate = _ranHere / _clock.Elapsed.TotalSeconds;
            head += string.Create(CultureInfo.InvariantCulture, $", {rate:0.#} cycles/s, ETA {Eta((plan.Cycles - Completed) / rate)}");
        }

        string tail = Completed <= plan.Warmup
            ? $"warm-up: resources sampled from cycle {plan.Warmup + plan.SampleEvery}"
            : _worst;
        return $"{head}; {tail}";
    }

    /// <summary>Remaining time as "4.2 s", "3 min 12 s" or "2 h 05 min".</summary>
    public static string Eta(double seconds) => seconds switch
    {
        < 60 => string.Create(CultureInfo.InvariantCulture, $"{seconds:0.0} s"),
        < 3600 => string.Create(CultureInfo.InvariantCulture, $"{(int)(seconds / 60)} min {(int)(seconds % 60):00} s"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{(int)(seconds / 3600)} h {(int)(seconds % 3600 / 60):00} min"),
    };

    /// <summary>A resource amount: bytes for people ("1.66 MiB", "382.5 B"), counts as numbers.</summary>
    public static string Amount(ResourceUnit unit, double value) =>
        unit == ResourceUnit.Bytes ? Text.Bytes(value) : Text.F(value, "0.###");

    /// <summary>Takes in the cycles of a resumed journal.</summary>
    public void Absorb(IReadOnlyList<CycleRecord> previous)
    {
        foreach (var r in previous)
        {
            Completed = r.Cycle;
            if (!r.Ok)
            {
                Failures.Add(new CycleFailure(r.Cycle, r.State, r.FailedPhase ?? "cycle", r.Failure ?? "failed"));
            }

            foreach (var (name, value) in r.Samples ?? new Dictionary<string, double>())
            {
                Series(name, name.EndsWith("_bytes", StringComparison.Ordinal) ? ResourceUnit.Bytes : ResourceUnit.Count).Add((r.Cycle, value));
            }
        }
    }

    /// <summary>
    /// Runs cycles <paramref name="first"/>..N. <see cref="QualifyProgress.OnCycle"/> after each; a failure is reported
    /// as it happens, and a cycle that runs long says which phase it is waiting in (after 1 s, then every 5 s) instead
    /// of going silent until its wait's bound expires.
    /// </summary>
    public async Task CyclesAsync(int first, QualifyCycle cycle, CycleJournal? journal, QualifyProgress progress, CancellationToken cancel)
    {
        _clock.Start();
        int consecutive = 0;
        try
        {
            for (int n = first; n <= plan.Cycles; n++)
            {
                cancel.ThrowIfCancellationRequested();
                var phases = new CyclePhases(TimeProvider.System);
                long t0 = Stopwatch.GetTimestamp();
                string? phase = null, failure = null;
                try
                {
                    var running = plan.Kind == "open-close" ? cycle.OpenCloseAsync(n, phases, cancel) : cycle.AttachDetachAsync(n, phases, cancel);
                    await WatchAsync(running, n, phases, t0, progress, cancel).ConfigureAwait(false);
                }
                catch (CyclePhaseException e)
                {
                    (phase, failure) = (e.Phase, e.InnerException?.Message ?? e.Message);
                }

                var samples = n > plan.Warmup && (n - plan.Warmup) % plan.SampleEvery == 0 ? Sample(n) : null;
                journal?.Append(new CycleRecord
                {
                    Cycle = n,
                    State = plan.Kind,
                    Ok = failure is null,
                    Milliseconds = Math.Round(Stopwatch.GetElapsedTime(t0).TotalMilliseconds, 3),
                    FailedPhase = phase,
                    Failure = failure,
                    Phases = new Dictionary<string, double>(phases.Milliseconds, StringComparer.Ordinal),
                    Samples = samples,
                });
                Completed = n;
                _ranHere++;
                consecutive = failure is null ? 0 : consecutive + 1;
                if (failure is not null)
                {
                    Failures.Add(new CycleFailure(n, plan.Kind, phase!, failure));
                    progress.OnFailure($"cycle {n} failed in {phase}: {failure}");
                }

                progress.OnCycle();
                if (consecutive >= plan.MaxConsecutiveFailures)
                {
                    StoppedEarly = $"{consecutive} consecutive cycles failed (up to cycle {n}); the device did not recover";
                    break;
                }
            }
        }
        finally
        {
            _clock.Stop();
        }
    }

    /// <summary>Waits for a cycle; while it runs past 1 s, says every 5 s which phase it is in and for how long.</summary>
    private async Task WatchAsync(Task running, int n, CyclePhases phases, long t0, QualifyProgress progress, CancellationToken cancel)
    {
        var next = TimeSpan.FromSeconds(1);
        using var done = new CancellationTokenSource();
        while (true)
        {
            // The cycle itself observes Ctrl+C; this only waits for it (a progress timer, not a synchronisation).
            // The timer is cancelled as soon as the cycle ends, so fast cycles leave no pending timers behind.
            var wait = next - Stopwatch.GetElapsedTime(t0);
            if (wait > TimeSpan.Zero)
            {
                var timer = Task.Delay(wait, done.Token);
                if (await Task.WhenAny(running, timer).ConfigureAwait(false) == running)
                {
                    await done.CancelAsync().ConfigureAwait(false);
                    break;
                }
            }

            if (running.IsCompleted || cancel.IsCancellationRequested)
            {
                break;
            }

            progress.OnSlow(string.Create(CultureInfo.InvariantCulture,
                $"cycle {n}: {phases.Current ?? "between phases"} after {Stopwatch.GetElapsedTime(t0).TotalSeconds:0.0} s (each wait is bounded by --timeout {plan.Timeout.TotalSeconds:0.###} s)"));
            next += TimeSpan.FromSeconds(5);
        }

        await running.ConfigureAwait(false);
    }

    /// <summary>Fits every resource and records the leaks; returns each fit with its limit (null = reported, not judged).</summary>
    public IReadOnlyList<(TrendFit Fit, double? Limit)> Finish()
    {
        var fits = Fits();
        Leaks.Clear();
        Leaks.AddRange(fits.Where(f => f.Limit is { } l && f.Fit.Samples >= SettledSamples && f.Fit.Slope > l).Select(f => (f.Fit, f.Limit!.Value)));
        return fits;
    }

    private List<(TrendFit Fit, double? Limit)> Fits() =>
        [.. _series.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => (LeakTrend.Fit(s.Key, s.Value.Unit, s.Value.Points), plan.LimitFor(s.Key)))];

    private Dictionary<string, double> Sample(int n)
    {
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var r in probe.Sample(device))
        {
            samples[r.Name] = r.Value;
            Series(r.Name, r.Unit).Add((n, r.Value));
        }

        // The live view: the resource closest to (or furthest over) its limit, with how many samples it rests on.
        var worst = Fits().Where(f => f.Fit.Samples >= 2).OrderByDescending(f => f.Limit is { } l ? f.Fit.Slope / Math.Max(l, 1e-9) : 0).FirstOrDefault();
        if (worst.Fit is { } fit)
        {
            string limit = worst.Limit is { } l ? Amount(fit.Unit, l) : "-";
            string basis = fit.Samples < SettledSamples ? $"settling: {fit.Samples} samples, judged from {SettledSamples}" : $"{fit.Samples} samples";
            string slope = (fit.Slope > 0 ? "+" : "") + Amount(fit.Unit, fit.Slope);
            _worst = $"worst slope so far {fit.Resource} {slope}/cycle (limit {limit}; {basis})";
        }
        else
        {
            _worst = "1 sample: no slope yet";
        }

        return samples;
    }

    private List<(long Cycle, double Value)> Series(string name, ResourceUnit unit)
    {
        if (!_series.TryGetValue(name, out var s))
        {
            // Sized up front: the run's own bookkeeping must not read as process.managed_bytes growth.
            s = (unit, new List<(long, double)>(Math.Min(plan.Cycles / plan.SampleEvery + 1, 100_000)));
            _series[name] = s;
        }

        return s.Points;
    }
}

/// <summary>What one cycle does to the board.</summary>
internal sealed class QualifyCycle(Bench bench, IAttachControl? attach, TimeSpan bound)
{
    private string Address => bench.Device.Address;

    /// <summary>Open, verify identity and scratch, close.</summary>
    public async Task OpenCloseAsync(int n, CyclePhases phases, CancellationToken cancel)
    {
        var session = await phases.RunAsync("open", () => bench.SessionAsync(cancel)).ConfigureAwait(false);
        await using (session.ConfigureAwait(false))
        {
            await phases.RunAsync("verify", () => VerifyAsync(session, n, dma: false, cancel)).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Open; detach under the session (surprise removal); the session must report the device gone; close; attach;
    /// re-enumerate; reopen; verify identity, scratch and a short DMA; close.
    /// </summary>
    public async Task AttachDetachAsync(int n, CyclePhases phases, CancellationToken cancel)
    {
        var control = attach!;
        if (await bench.FindAgainAsync(cancel).ConfigureAwait(false) is null)
        {
            // An earlier cycle left the board off the bus: bringing it back is part of this cycle.
            await phases.RunAsync("recover", async () =>
            {
                await control.AttachAsync(Address, cancel).ConfigureAwait(false);
                await bench.WaitForAsync(present: true, bound, cancel).ConfigureAwait(false);
            }).ConfigureAwait(false);
        }

        var session = await phases.RunAsync("open", () => bench.SessionAsync(cancel)).ConfigureAwait(false);
        try
        {
            await phases.RunAsync("detach", () => control.DetachAsync(Address, cancel)).ConfigureAwait(false);
            await phases.RunAsync("gone", async () =>
            {
                var clock = Stopwatch.StartNew();
                while (!session.IsDeviceGone)
                {
                    if (clock.Elapsed > bound)
                    {
                        throw new DeviceTimeoutException(Address, "the open session to report the device gone after the detach", bound);
                    }

                    await Task.Delay(5, cancel).ConfigureAwait(false);
                }
            }).ConfigureAwait(false);
        }
        finally
        {
            await session.DisposeAsync().ConfigureAwait(false);
        }

        await phases.RunAsync("attach", () => control.AttachAsync(Address, cancel)).ConfigureAwait(false);
        await phases.RunAsync("enumerate", () => bench.WaitForAsync(present: true, bound, cancel)).ConfigureAwait(false);
        var fresh = await phases.RunAsync("reopen", () => bench.SessionAsync(cancel)).ConfigureAwait(false);
        await using (fresh.ConfigureAwait(false))
        {
            await phases.RunAsync("verify", () => VerifyAsync(fresh, n, dma: true, cancel)).ConfigureAwait(false);
        }
    }

    /// <summary>Whatever happened (a failed attach, Ctrl+C mid-cycle), the board ends on the bus for the next user.</summary>
    public async Task EnsureAttachedAsync(CliConsole console)
    {
        try
        {
            if (await bench.FindAgainAsync(CancellationToken.None).ConfigureAwait(false) is null)
            {
                await attach!.AttachAsync(Address, CancellationToken.None).ConfigureAwait(false);
                await bench.WaitForAsync(present: true, bound, CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (DeviceException e)
        {
            console.Note($"the board could not be brought back on the bus after the cycles: {e.Message}");
        }
    }

    private async Task VerifyAsync(IDeviceSession session, int n, bool dma, CancellationToken cancel)
    {
        var profile = bench.Profile;
        if (session.Info.Identifier != profile.CsrMap.Identifier || session.Info.Device.VendorId != profile.VendorId || session.Info.Device.DeviceId != profile.DeviceId)
        {
            throw new InvalidOperationException($"identity after {(dma ? "attach" : "open")}: \"{session.Info.Identifier}\" " +
                $"[{session.Info.Device.VendorId:x4}:{session.Info.Device.DeviceId:x4}], expected \"{profile.CsrMap.Identifier}\" [{profile.VendorId:x4}:{profile.DeviceId:x4}]");
        }

        var scratch = session.Map.Layout.Ctrl.Scratch;
        uint value = 0xC0DE_0000u ^ (uint)n;
        session.Write(scratch, value);
        uint read = session.Read32(scratch);
        if (read != value)
        {
            throw new InvalidOperationException($"ctrl_scratch: wrote {Text.Hex32(value)}, read {Text.Hex32(read)}");
        }

        var ch = session.Channels[0];
        if (dma && ch.Layout.LoopbackEnable is not null)
        {
            var report = await DmaStreamer.RunAsync(ch, new SequencePattern(ch.Geometry.BufferSize),
                new StreamOptions { Bytes = 16L * ch.Geometry.BufferSize, StallTimeout = bound }, cancel).ConfigureAwait(false);
            if (!report.Clean)
            {
                throw new InvalidOperationException($"16-buffer loopback DMA after attach: {report.Errors} bad buffer(s); " +
                    $"{(report.ErrorDetails.Count > 0 ? report.ErrorDetails[0].ToString() : report.Stall ?? "driver lost buffers")}");
            }
        }
    }
}
