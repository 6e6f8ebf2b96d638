using System.Globalization;
using System.Text;
using LitePcie.Hil.Fixtures;
using LitePcie.Hil.Platform;
using LitePcie.Hil.Qualification;
using LitePcie.Hil.Reporting.Charts;
using NUnit.Framework;

namespace LitePcie.Hil.Suites.Common;

/// <summary>What the cycling suites attach: journal, cycle times, samples, trends and their charts.</summary>
internal static class CycleReports
{
    /// <summary>The journal file of a cycling test on a board (directory from QualificationJournal, default TestResults/journals/).</summary>
    public static string JournalPath(SuiteContext context, string test)
    {
        string dir = HilRun.RepositoryPath(context.Options.Cycling.QualificationJournal.Length > 0 ? context.Options.Cycling.QualificationJournal : Path.Combine("TestResults", "journals"));
        string device = string.Concat(context.Target.Address.Select(c => char.IsLetterOrDigit(c) ? c : '-'));
        return Path.Combine(dir, $"{test}-{context.Target.Board}-{device}.jsonl");
    }

    /// <summary>
    /// Runs a cycling test on the context's board: opens (or resumes) its journal, runs the cycles with the options'
    /// warm-up, sampling, early stop and leak limits, runs <paramref name="after"/> whatever happened, attaches the
    /// evidence and fails with the summary when a cycle failed or a resource leaked.
    /// </summary>
    public static async Task RunAsync(SuiteContext context, string what, string journalName, JournalHeader header, int cycles, Func<int, string> stateOf,
        Func<int, CyclePhases, CancellationToken, Task<string>> cycle, int stepEvery, Func<Task> after)
    {
        var o = context.Options;
        string path = JournalPath(context, journalName);
        CycleRun run;
        using (var journal = CycleJournal.Open(path, header, o.Cycling.QualificationResume))
        {
            context.Log(journal.Resumed
                ? $"resuming {path} at cycle {journal.NextCycle} ({journal.Previous.Count} cycles done earlier)"
                : $"journal {path}{(journal.Note is null ? "" : $" (the file found there was not resumed: {journal.Note})")}");
            try
            {
                run = await CycleRunner.RunAsync(new CycleOptions(cycles, o.Cycling.LeakWarmupCycles, o.Cycling.LeakSampleEvery, o.Cycling.MaxConsecutiveFailures, o.Cycling.LeakMaxSlope),
                    journal, context.Platform.Probe, context.Target.Address, cycle, stateOf, context.Reporter, stepEvery,
                    onFailure: r => context.Log($"cycle {r.Cycle} ({r.State}) failed in {r.FailedPhase}: {r.Failure}"), cancellationToken: context.Cancellation);
            }
            finally
            {
                await after();
            }
        }

        if (run.Interrupted)
        {
            throw new OperationCanceledException($"{what}: cancelled after cycle {run.Completed}", context.Cancellation);
        }

        context.Log(run.Summary(what));
        Attach(context, run, what, path);
        if (!run.Passed)
        {
            throw new AssertionException(run.Summary(what));
        }

        // A cycle that gets slower as the run goes on is a leak of time (a list scanned per cycle, a growing
        // registry): judged on a ratio measured in this run, so a loaded machine slows both windows alike.
        if (run.Cost() is { } cost && o.Cycling.CycleCostMaxRatio > 0 && cost.Ratio > o.Cycling.CycleCostMaxRatio)
        {
            throw new AssertionException($"{what}: cycles got slower over the run — {cost}, above CycleCostMaxRatio {o.Cycling.CycleCostMaxRatio.ToString(CultureInfo.InvariantCulture)}");
        }
    }

    /// <summary>Attaches everything a reviewer needs to judge a cycling run.</summary>
    public static void Attach(SuiteContext context, CycleRun run, string what, string journalPath)
    {
        var c = CultureInfo.InvariantCulture;
        var trend = new StringBuilder();
        trend.AppendLine(run.Summary(what));
        trend.AppendLine();
        trend.AppendLine("resource trends (Theil–Sen slope per cycle, judged against LeakMaxSlope):");
        foreach (var fit in run.Trends)
        {
            double? limit = context.Options.Cycling.LeakMaxSlope.LimitFor(fit.Resource, fit.SampledCycles);
            trend.AppendLine(string.Create(c, $"  {fit.Describe()} — limit {(limit is null ? "none (reported only)" : limit.Value.ToString("0.###", c))}{(limit is not null && fit.Slope > limit ? "  ← LEAK" : "")}"));
        }

        if (run.Trends.Count == 0)
        {
            trend.AppendLine(string.Create(c, $"  none: no cycle after the warm-up of {context.Options.Cycling.LeakWarmupCycles} was sampled"));
        }

        context.AttachText($"{what}: verdict and trends", trend.ToString());
        context.AttachSvg($"{what}: cycle time", ReportCharts.PerCycle($"{what}: time per cycle, {context.Target}", "ms",
            new ChartSeries("cycle time", [.. run.Times.Select(t => ((double)t.Cycle, t.Milliseconds))])));
        foreach (var unit in new[] { ResourceUnit.Bytes, ResourceUnit.Count })
        {
            var series = run.Samples.Where(s => s.Value.Unit == unit).OrderBy(s => s.Key, StringComparer.Ordinal)
                .Select(s => new ChartSeries(s.Key, [.. s.Value.Points.Select(p => ((double)p.Cycle, (p.Value - s.Value.Points[0].Value) / (unit == ResourceUnit.Bytes ? 1024 : 1)))]))
                .ToArray();
            if (series.Length > 0)
            {
                context.AttachSvg($"{what}: resource growth ({(unit == ResourceUnit.Bytes ? "KiB" : "objects")})",
                    ReportCharts.PerCycle($"{what}: growth since the first sample, {context.Target}", unit == ResourceUnit.Bytes ? "KiB" : "objects", series));
            }
        }

        var csv = new StringBuilder("cycle,milliseconds\n");
        foreach (var (cycle, ms) in run.Times)
        {
            csv.Append(c, $"{cycle},{ms}\n");
        }

        context.AttachCsv($"{what}: cycle times", csv.ToString());
        if (File.Exists(journalPath))
        {
            // The JSON lines are what a resumed run reads; the report previews the same cycles as a table beside them.
            context.AttachCsv($"{what}: journal (one row per cycle)", CycleJournal.Table(CycleJournal.Read(journalPath).Records));
            context.Reporter.Attach($"{what}: journal ({Path.GetFileName(journalPath)})", File.ReadAllBytes(journalPath), "application/x-ndjson", ".jsonl");
        }
    }
}
