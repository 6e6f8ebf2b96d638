using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using FluentAssertions;
using LitePcie.Hil.Fixtures;
using LitePcie.Hil.Fixtures.Allure;
using LitePcie.Hil.Reporting;
using LitePcie.Hil.Simulation.Faults;
using LitePcie.Hil.Qualification;
using LitePcie.Hil.Suites.Bar;
using LitePcie.Hil.Suites.Dma;
using LitePcie.Hil.Suites.Enumeration;
using LitePcie.Hil.Suites.Msi;
using LitePcie.Hil.Suites.Qualification;
using LitePcie.Hil.Suites.SleepWake;
using NUnit.Framework;

namespace LitePcie.Hil.Suites.FaultMatrix;

/// <summary>One row of the matrix: a fault, the suite that must catch it, and the words of the diagnosis.</summary>
public sealed record FaultCase(string Fault, Type Suite, string Diagnosis)
{
    /// <inheritdoc />
    public override string ToString() => Fault;
}

/// <summary>
/// Proof that the suites catch faults: each fault of the model that belongs to a suite makes that suite fail
/// with the matching diagnosis within a bounded time, and every suite passes on a clean board. The suites'
/// own tests run in-process (<see cref="InProcessSuiteRunner"/>); the matrix (fault, suite, detected, time to
/// detect, test and message) is written to the test output and to fault-matrix.md.
/// </summary>
[TestFixture]
[Category("FaultMatrix")]
[Feature("Fault detection of the suites")]
[NonParallelizable]
public sealed class FaultMatrixTests
{
    private static readonly ConcurrentDictionary<string, string> s_rows = new();

    /// <summary>Budget for one fault's suite run.</summary>
    private static readonly TimeSpan s_budget = TimeSpan.FromSeconds(60);

    public static IEnumerable<TestCaseData> Faults() =>
        Cases.Select(c => new TestCaseData(c).SetArgDisplayNames(c.Fault));

    public static IReadOnlyList<FaultCase> Cases { get; } =
    [
        new("msi-drop=0.3", typeof(MsiSuite), @"\blost\b"),
        new("msi-spurious=100", typeof(MsiSuite), "spurious"),
        new("dma-bitflip=0.01", typeof(DmaSuite), "corrupted"),
        new("dma-drop-buffer=0.002", typeof(DmaSuite), @"buffer\(s\) lost"),
        new("dma-duplicate-buffer=0.002", typeof(DmaSuite), "duplicate"),
        new("dma-stall=3000", typeof(DmaSuite), "no RX progress"),
        new("scratch-stuck-bit=3", typeof(BarSuite), "stuck at 0"),
        new("bar-alias", typeof(BarSuite), "aliases BAR0"),
        new("link-degrade=1", typeof(EnumerationSuite), "link width"),
        new("wrong-ident", typeof(EnumerationSuite), "identifier ROM"),
        new("wake-state-loss", typeof(SleepWakeSuite), "config space not restored"),
        new("wake-no-return", typeof(SleepWakeSuite), "re-enumerate"),
        new("attach-fail=7", typeof(QualificationSuite), @"cycles? [0-9, –]+ failed in enumerate: .*re-enumerate"),
        new("attach-leak=4096", typeof(QualificationSuite), @"leak: bus\.dma_memory_bytes: 4096 bytes/cycle"),
        new("surprise-removal=400", typeof(QualificationSuite), @"cycles? [0-9, –]+ failed in [a-z-]+: .*device gone"),
    ];

    public static IEnumerable<TestCaseData> Suites() =>
        Cases.Select(c => c.Suite).Distinct().Select(t => new TestCaseData(t).SetArgDisplayNames(t.Name));

    /// <summary>Smaller sizes than a full run: the matrix proves detection, the suites prove scale.</summary>
    private static HilOptions MatrixOptions() => HilRun.Options with
    {
        DmaBytes = 32L << 20,
        DmaThroughputSeconds = 0.3,
        DmaSustainedSeconds = 0.5,
        DmaTransferBuffers = [1, 33, 257],
        DmaIrqEveryGrid = [1, 32],
        DmaStartStopCycles = 5,
        DmaStallTimeoutMs = 500,
        LatencySamples = 500,
        MsiIdleMs = 200,
        MsiTransferBuffers = 4096,
        BarPatternBytes = 64 * 1024,
        DmaMinGbps = new Dictionary<string, double> { ["default"] = 0.01 },
        MsiMaxLatencyUs = 1e6, // the matrix proves detection; latency under a loaded CI machine is not a fault
        SleepWakeCycles = 4,
        SleepSeconds = 0.01,
        WakeTimeoutSeconds = 0.3,
        SleepIoBytes = 1L << 20,
        QualificationCycles = 60,
        SessionCycles = 60,
        QualificationIoBuffers = 8,
        ReenumerationTimeoutMs = 200,
        GoneTimeoutMs = 1000,
        MaxConsecutiveFailures = 2,
        LeakWarmupCycles = 10,
        LeakSampleEvery = 2,
        // Short runs: judge the driver and the bus (exact counters); the test process needs hundreds of cycles to settle.
        LeakMaxSlope = LeakLimits.Parse("driver.*=0.01;bus.dma_allocations=0.01;bus.dma_memory_bytes=16;driver.live_dma_bytes=16;driver.shared_bytes=16", []),
        QualificationJournal = Path.Combine(TestContext.CurrentContext.WorkDirectory, "fault-matrix-journals"),
        QualificationResume = false,
    };

    [TestCaseSource(nameof(Faults))]
    public async Task Fault_is_detected_by_its_suite_with_the_matching_diagnosis(FaultCase c)
    {
        FaultPlan.Parse(c.Fault); // the case itself must be a valid fault string
        var diagnosis = new Regex(c.Diagnosis, RegexOptions.IgnoreCase);
        var outcomes = await InProcessSuiteRunner.RunAsync(c.Suite, $"{c.Fault};seed=7", MatrixOptions(), s_budget, TimeSpan.FromSeconds(30),
            stop: o => o.Status is InProcessStatus.Failed or InProcessStatus.Broken && diagnosis.IsMatch(o.Message));
        var hit = outcomes.FirstOrDefault(o => o.Status is InProcessStatus.Failed or InProcessStatus.Broken && diagnosis.IsMatch(o.Message));
        string row = hit is null
            ? Row(c, "**no**", "-", "-", "not detected")
            : Row(c, "yes", $"{hit.At.TotalSeconds:0.00} s", hit.Test, MatchingLine(hit.Message, diagnosis));
        s_rows[c.Fault] = row;
        TestContext.Out.WriteLine(row);
        foreach (var o in outcomes)
        {
            TestContext.Out.WriteLine($"  {o.Status,-7} {o.Test} @ {o.At.TotalSeconds:0.00} s: {(hit is null ? o.Message : FirstLine(o.Message))}");
        }

        hit.Should().NotBeNull($"fault {c.Fault} must make {c.Suite.Name} fail with a diagnosis matching /{c.Diagnosis}/ within {s_budget.TotalSeconds:0} s; outcomes: " +
            string.Join("; ", outcomes.Where(o => o.Status != InProcessStatus.Passed).Select(o => $"{o.Test}: {o.Status} {FirstLine(o.Message)}")));
        hit!.At.Should().BeLessThan(s_budget, "detection happened within the bound");
    }

    [TestCaseSource(nameof(Suites))]
    public async Task Suite_passes_on_a_clean_board(Type suite)
    {
        var outcomes = await InProcessSuiteRunner.RunAsync(suite, "", MatrixOptions(), TimeSpan.FromMinutes(3), TimeSpan.FromSeconds(30));
        var bad = outcomes.Where(o => o.Status is InProcessStatus.Failed or InProcessStatus.Broken).ToList();
        s_rows[$"clean {suite.Name}"] = $"| (none) | {suite.Name.Replace("Suite", "", StringComparison.Ordinal)} | {(bad.Count == 0 ? "clean run passes" : "**clean run fails**")} | " +
            string.Create(CultureInfo.InvariantCulture, $"{(outcomes.Count > 0 ? outcomes[^1].At.TotalSeconds : 0):0.00} s") +
            $" | {outcomes.Count} tests | {(bad.Count == 0 ? "" : FirstLine(bad[0].Message))} |";
        bad.Should().BeEmpty($"{suite.Name} must pass without faults: " + string.Join("; ", bad.Select(o => $"{o.Test}: {FirstLine(o.Message)}\n{o.Log}")));
        outcomes.Should().Contain(o => o.Status == InProcessStatus.Passed, "the suite ran tests");
    }

    [OneTimeTearDown]
    public void WriteMatrix()
    {
        if (s_rows.IsEmpty)
        {
            return;
        }

        var sb = new StringBuilder();
        sb.AppendLine("| Fault | Suite | Detected | Time to detect | Test | Diagnosis |");
        sb.AppendLine("|---|---|---|---|---|---|");
        foreach (var c in Cases)
        {
            if (s_rows.TryGetValue(c.Fault, out var row))
            {
                sb.AppendLine(row);
            }
        }

        foreach (var (key, row) in s_rows.Where(r => r.Key.StartsWith("clean ", StringComparison.Ordinal)).OrderBy(r => r.Key, StringComparer.Ordinal))
        {
            sb.AppendLine(row);
        }

        string path = Path.Combine(TestContext.CurrentContext.WorkDirectory, "fault-matrix.md");
        var reporter = NUnitReporter.ForCurrentTest();
        reporter.Step("write the fault matrix", () =>
        {
            File.WriteAllText(path, sb.ToString());
            reporter.Attach("fault matrix", Encoding.UTF8.GetBytes(sb.ToString()), "text/markdown", ".md");
        });
        TestContext.Progress.WriteLine($"fault matrix ({path}):");
        TestContext.Progress.WriteLine(sb.ToString());
    }

    private static string Row(FaultCase c, string detected, string time, string test, string message) =>
        string.Create(CultureInfo.InvariantCulture, $"| {c.Fault} | {c.Suite.Name.Replace("Suite", "", StringComparison.Ordinal)} | {detected} | {time} | {test} | {message.Replace("|", "\\|", StringComparison.Ordinal)} |");

    /// <summary>The line of a (multi-line) verdict that carries the diagnosis.</summary>
    private static string MatchingLine(string message, Regex diagnosis) =>
        message.Split('\n').Select(l => l.Trim()).FirstOrDefault(diagnosis.IsMatch) ?? FirstLine(message);

    private static string FirstLine(string s)
    {
        int nl = s.IndexOf('\n', StringComparison.Ordinal);
        string line = nl < 0 ? s : s[..nl];
        return line.Length > 220 ? line[..220] + "…" : line;
    }
}
