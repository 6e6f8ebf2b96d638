using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Options;
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

    private static readonly Option<int> Cycles = CliOptions.Declared<int>(nameof(QualificationOptions.QualificationCycles), "Cycles to run", "cycles");
    private static readonly Option<string> Kind = CliOptions.Choice("--kind", "What a cycle does", AttachDetach, AttachDetach, OpenClose);
    private static readonly Option<int> Warmup = CliOptions.Declared<int>(nameof(CyclingOptions.LeakWarmupCycles), "Cycles before the first resource sample", "cycles");
    private static readonly Option<int> SampleEvery = CliOptions.Declared<int>(nameof(CyclingOptions.LeakSampleEvery), "Sample resources every this many cycles", "cycles");
    private static readonly Option<int> MaxFailures = CliOptions.Declared<int>(nameof(CyclingOptions.MaxConsecutiveFailures), "Stop after this many consecutive failed cycles", "cycles");
    private static readonly Option<double> Timeout = CliOptions.Number("--timeout", "Bound on each wait (gone, re-enumeration, DMA)", 10, 0.1, 600, "seconds");
    private static readonly Option<string> LeakLimit = CliOptions.Declared<string>(nameof(CyclingOptions.LeakMaxSlope),
        "Per-cycle growth limits 'resource=limit;prefix*=limit'; a matching rule overrides the defaults (LeakMaxSlope's)");

    private static readonly Option<FileInfo?> Journal = new("--journal") { Description = "JSON-lines journal of every cycle; an unfinished journal of the same plan is resumed" };
    private static readonly LabCommandOptions Lab = new(attachDetach: true, sleep: false);

    public static Command Create(CliIo io)
    {
        var command = DeviceCommand.Create("qualify", "Attach/detach or open/close cycles with leak-slope verdict (progress, per-resource slopes)", io,
            [Cycles, Kind, Warmup, SampleEvery, MaxFailures, Timeout, LeakLimit, Journal, .. Lab.Options], RunAsync);
        command.Validators.Add(Lab.Validate);
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

        if (plan.Cycles - plan.Warmup < QualifyView.SettledSamples * plan.SampleEvery)
        {
            c.Note($"--cycles {plan.Cycles} with --warmup {plan.Warmup} and --sample-every {plan.SampleEvery} gives fewer than {QualifyView.SettledSamples} resource samples: no leak verdict");
        }

        var header = new JournalHeader($"litepcie-hil qualify {plan.Kind}", bench.Backend.Name, bench.Profile.Name, bench.Device.Address, plan.Cycles,
            string.Create(CultureInfo.InvariantCulture, $"warmup {plan.Warmup}; sample every {plan.SampleEvery}; faults {ctx.Request.Faults ?? "-"}"));
        using var journal = p.GetValue(Journal) is { } file ? CycleJournal.Open(file.FullName, header, resume: true) : null;
        if (journal is not null)
        {
            c.Line(journal.Resumed ? $"journal {journal.Path}: resuming at cycle {journal.NextCycle}" : $"journal {journal.Path}{(journal.Note is null ? "" : $" (new: {journal.Note})")}");
        }

        c.Line($"qualify {plan.Kind} on {bench.Device.Backend}:{bench.Device.Address}: {plan.Cycles} cycles, warm-up {plan.Warmup}, sample every {plan.SampleEvery}; probe: {platform.Probe.Description}");
        // The framework's cycle (the suite's): the CLI's bench opens the session, --timeout bounds every wait.
        var cycle = new AttachDetachCycle(new CycleBench
        {
            Backend = bench.Backend,
            Address = bench.Device.Address,
            Profile = bench.Profile,
            Open = bench.SessionAsync,
            Attach = attach,
            Gone = plan.Timeout,
            Reenumeration = plan.Timeout,
            StartsAttached = journal is not { Resumed: true }, // the bench found it enumerated; a resumed run may find it where a crash left it
        });
        var view = new QualifyView(plan);
        Func<int, CyclePhases, CancellationToken, Task<string>> one = plan.Kind == OpenClose ? cycle.OpenCloseAsync : cycle.RunAsync;
        CycleRun run;
        int first = journal?.NextCycle ?? 1;
        try
        {
            if (c.Terminal)
            {
                run = null!;
                await c.Ansi.Progress().AutoClear(false)
                    .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                    .StartAsync(async progress =>
                    {
                        var task = progress.AddTask(Markup.Escape(view.Status(null)), maxValue: plan.Cycles);
                        task.Value = first - 1;
                        run = await RunCyclesAsync(plan, journal, platform.Probe, bench.Device.Address, one, new CycleObserver
                        {
                            Cycle = (r, record) =>
                            {
                                view.Saw(r, record);
                                task.Value = r.Completed;
                                task.Description = Markup.Escape(view.Status(r));
                            },
                            Slow = (n, phase, elapsed) => task.Description = Markup.Escape($"{view.Status(null)} — {view.Slow(n, phase, elapsed)}"),
                        }, failure => c.Ansi.MarkupLine($"[red]! {Markup.Escape(failure)}[/]"), ctx.Cancel).ConfigureAwait(false);
                    }).ConfigureAwait(false);
            }
            else
            {
                int every = Math.Max(1, plan.Cycles / 20);
                run = await RunCyclesAsync(plan, journal, platform.Probe, bench.Device.Address, one, new CycleObserver
                {
                    Cycle = (r, record) =>
                    {
                        view.Saw(r, record);
                        if (r.Completed % every == 0 || r.Completed == plan.Cycles)
                        {
                            c.Line(view.Status(r));
                        }
                    },
                    Slow = (n, phase, elapsed) => c.Line($"… {view.Slow(n, phase, elapsed)}"),
                }, failure => c.Line($"! {failure}"), ctx.Cancel).ConfigureAwait(false);
            }
        }
        finally
        {
            if (attach is not null && await cycle.EnsureAttachedAsync().ConfigureAwait(false) is { } lost)
            {
                c.Note($"the board could not be brought back on the bus after the cycles: {lost.Message}");
            }
        }

        Report(c, plan, run, view.Judged(run));
        return run.Passed ? ExitCodes.Success : ExitCodes.TestFailed;
    }

    /// <summary>The framework's cycle engine with the command's plan: no steps, failures said as they happen.</summary>
    private static Task<CycleRun> RunCyclesAsync(QualifyPlan plan, CycleJournal? journal, IResourceProbe probe, string device,
        Func<int, CyclePhases, CancellationToken, Task<string>> cycle, CycleObserver observer, Action<string> onFailure, CancellationToken cancel) =>
        CycleRunner.RunAsync(new CycleOptions(plan.Cycles, plan.Warmup, plan.SampleEvery, plan.MaxConsecutiveFailures, plan.Limits) { MinSamples = QualifyView.SettledSamples },
            journal, probe, device, cycle, _ => plan.Kind, onFailure: r => onFailure($"cycle {r.Cycle} failed in {r.FailedPhase}: {r.Failure}"),
            observer: observer, cancellationToken: cancel);

    private static void Report(CliConsole c, QualifyPlan plan, CycleRun run, IReadOnlyList<(TrendFit Fit, double? Limit)> trends)
    {
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
            c.Line(samples < QualifyView.SettledSamples
                ? $"  leak verdict: none — {samples} sample{(samples == 1 ? "" : "s")} after the warm-up of {plan.Warmup} cycle(s); a slope is judged on at least {QualifyView.SettledSamples}"
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
            bool leak = limit is { } l && fit.Samples >= QualifyView.SettledSamples && fit.Slope > l;
            string verdict = leak ? (c.Terminal ? "[red]LEAK[/]" : "LEAK")
                : fit.Samples < QualifyView.SettledSamples ? $"not judged ({fit.Samples} sample{(fit.Samples == 1 ? "" : "s")})"
                : limit is null ? "reported"
                : "ok";
            table.AddRow(Markup.Escape(fit.Resource), QualifyView.Amount(fit.Unit, fit.Slope), limit is null ? "-" : QualifyView.Amount(fit.Unit, limit.Value),
                $"{QualifyView.Amount(fit.Unit, fit.First)} → {QualifyView.Amount(fit.Unit, fit.Last)}", fit.Samples.ToString(CultureInfo.InvariantCulture),
                verdict);
        }

        if (trends.Count > 0)
        {
            c.Render(table);
        }

        foreach (var (fit, limit) in run.Leaks)
        {
            c.Line($"  ! leak: {fit.Resource}: +{QualifyView.Amount(fit.Unit, fit.Slope)}/cycle (least squares {QualifyView.Amount(fit.Unit, fit.LeastSquaresSlope)}; " +
                $"{QualifyView.Amount(fit.Unit, fit.First)} → {QualifyView.Amount(fit.Unit, fit.Last)} over {fit.Samples} samples) exceeds the limit of {QualifyView.Amount(fit.Unit, limit)}/cycle");
        }

        bool judged = trends.Any(t => t.Limit is not null && t.Fit.Samples >= QualifyView.SettledSamples);
        c.Verdict(run.Passed, run.Passed && !judged
            ? $"qualify: PASS (every cycle passed; no leak verdict: fewer than {QualifyView.SettledSamples} samples)"
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
                ["judged"] = t.Limit is not null && t.Fit.Samples >= QualifyView.SettledSamples,
                ["leak"] = t.Limit is { } l && t.Fit.Samples >= QualifyView.SettledSamples && t.Fit.Slope > l,
            })]),
        });
    }
}

/// <summary>How a qualify run is paced and judged.</summary>
internal sealed record QualifyPlan(string Kind, int Cycles, int Warmup, int SampleEvery, int MaxConsecutiveFailures, TimeSpan Timeout, LeakLimits User, LeakLimits Defaults)
{
    /// <summary>The limits: a matching <c>--leak-limit</c> rule wins over the defaults; a resource neither covers is reported, not judged.</summary>
    public LeakLimits Limits { get; } = User.Over(Defaults);
}

/// <summary>What the command shows of a run while it goes: the status line with rate, ETA and the worst slope so far.</summary>
internal sealed class QualifyView(QualifyPlan plan)
{
    private string _worst = "no sample yet";

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
    public string Status(CycleRun? run)
    {
        _last = run ?? _last;
        int completed = _last?.Completed ?? 0;
        string head = $"cycle {completed}/{plan.Cycles}, {_last?.Failures.Count ?? 0} failed";
        if (_last is { RanHere: > 0, CyclesPerSecond: > 0 } && completed < plan.Cycles)
        {
            double rate = _last.CyclesPerSecond;
            head += string.Create(CultureInfo.InvariantCulture, $", {rate:0.#} cycles/s, ETA {Eta((plan.Cycles - completed) / rate)}");
        }

        string tail = completed <= plan.Warmup
            ? $"warm-up: resources sampled from cycle {plan.Warmup + plan.SampleEvery}"
            : _worst;
        return $"{head}; {tail}";
    }

    private CycleRun? _last;

    /// <summary>A cycle still running: which phase it waits in, and for how long.</summary>
    public string Slow(int cycle, string? phase, TimeSpan elapsed) => string.Create(CultureInfo.InvariantCulture,
        $"cycle {cycle}: {phase ?? "between phases"} after {elapsed.TotalSeconds:0.0} s (each wait is bounded by --timeout {plan.Timeout.TotalSeconds:0.###} s)");

    /// <summary>After a cycle that sampled: the resource closest to (or furthest over) its limit, with how many samples it rests on.</summary>
    public void Saw(CycleRun run, CycleRecord record)
    {
        _last = run;
        if (record.Samples is null)
        {
            return;
        }

        var worst = Fits(run).Where(f => f.Fit.Samples >= 2).OrderByDescending(f => f.Limit is { } l ? f.Fit.Slope / Math.Max(l, 1e-9) : 0).FirstOrDefault();
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
    }

    /// <summary>Every resource's fit with its limit (null = reported, not judged), as the engine judged them.</summary>
    public IReadOnlyList<(TrendFit Fit, double? Limit)> Judged(CycleRun run) =>
        [.. run.Trends.Select(f => (f, plan.Limits.LimitFor(f.Resource, f.SampledCycles)))];

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

    private List<(TrendFit Fit, double? Limit)> Fits(CycleRun run) =>
        [.. run.Samples.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s =>
        {
            var fit = LeakTrend.Fit(s.Key, s.Value.Unit, s.Value.Points);
            return (fit, plan.Limits.LimitFor(s.Key, fit.SampledCycles));
        })];
}
