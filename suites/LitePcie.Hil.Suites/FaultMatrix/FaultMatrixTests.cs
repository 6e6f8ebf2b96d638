using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using FluentAssertions;
using LitePcie.Hil.Boards;
using LitePcie.Hil.Fixtures;
using LitePcie.Hil.Fixtures.Allure;
using LitePcie.Hil.Options;
using LitePcie.Hil.Qualification;
using LitePcie.Hil.Reporting;
using LitePcie.Hil.Simulation.Faults;
using LitePcie.Hil.Suites.Bar;
using LitePcie.Hil.Suites.Dma;
using LitePcie.Hil.Suites.Enumeration;
using LitePcie.Hil.Suites.Msi;
using LitePcie.Hil.Suites.Qualification;
using LitePcie.Hil.Suites.SleepWake;
using NUnit.Framework;

namespace LitePcie.Hil.Suites.FaultMatrix;

/// <summary>How likely a suite run catches a fault on a board: the trials it is guaranteed and the chance each one shows it.</summary>
/// <param name="Trials">Independent chances the fault gets in one suite run (messages, buffers, bits), or 1 when it is certain.</param>
/// <param name="PerTrial">Probability that one trial shows the fault (1 for deterministic faults).</param>
/// <param name="What">The trials in words, for the matrix.</param>
public sealed record Detection(double Trials, double PerTrial, string What)
{
    /// <summary>1 − (1 − p)^N.</summary>
    public double Probability => PerTrial >= 1 ? 1 : 1 - Math.Exp(Trials * Math.Log(1 - PerTrial));

    /// <summary>A fault that always shows when the suite runs the path it is on.</summary>
    public static Detection Certain(string what) => new(1, 1, what);
}

/// <summary>One row of the matrix: a fault at its rate, the suite that must catch it, the words of the diagnosis, and on which boards.</summary>
/// <param name="Fault">The fault string (one fault, at a realistic rate).</param>
/// <param name="Suite">The suite that must fail on it.</param>
/// <param name="Diagnosis">A regular expression the failed assertion's message must match.</param>
/// <param name="NotApplicable">Why a board cannot show the fault (null: it can).</param>
/// <param name="Odds">The detection arithmetic for a board under the matrix options.</param>
public sealed record FaultCase(string Fault, Type Suite, string Diagnosis, Func<BoardProfile, string?> NotApplicable, Func<BoardProfile, HilOptions, Detection> Odds)
{
    /// <inheritdoc />
    public override string ToString() => Fault;
}

/// <summary>
/// Proof that the suites catch faults: each fault of the model, at a realistic rate, on every board that can show it,
/// makes the suite it belongs to fail — a failed assertion (broken is not detected) with the matching diagnosis — and
/// the test that caught it passes (not skipped: skipped is not clean) on a fresh board without the fault. The suites'
/// own tests run in-process (<see cref="InProcessSuiteRunner"/>), every case of a parameterised test included. The
/// transfer sizes of <see cref="MatrixOptions"/> give every probabilistic fault a detection probability of at least
/// 99.9% on every board (checked per case; docs/fault-matrix.md has the arithmetic). The matrix (fault, rate, board,
/// detection probability, detected, time, test, diagnosis) goes to the test output and fault-matrix.md.
/// </summary>
[TestFixture]
[Category("FaultMatrix")]
[Feature("Fault detection of the suites")]
[NonParallelizable]
public sealed class FaultMatrixTests
{
    /// <summary>The detection probability every case must reach with the matrix's sizes.</summary>
    public const double RequiredProbability = 0.999;

    private static readonly ConcurrentDictionary<string, string> s_rows = new();

    /// <summary>Bound on one fault's suite run (a hang guard; detection normally stops the run within seconds).</summary>
    private static readonly TimeSpan s_budget = TimeSpan.FromMinutes(3);

    private const int MatrixDmaBytes = 64 << 20;
    private const int EveryChannelBytes = 16 << 20; // DmaSuite.Every_channel_moves_data_intact
    private const int WriterOnlyBytes = 64 << 20;   // DmaSuite.Writer_only_stream_from_the_boards_user_logic_is_intact

    /// <summary>Buffers the board moves before it leaves the bus in the matrix's surprise-removal case.</summary>
    public const int SurpriseRemovalAfter = 100;

    public static IReadOnlyList<FaultCase> Cases { get; } =
    [
        // A lost message shows as a source's count short of its loop_status ('N lost'), or, when it was the last one before a
        // flow-controlled writer filled its ring, as the stream stopping with nothing left to raise another ('interrupts lost?').
        new("msi-drop=0.001", typeof(MsiSuite), @"\d+ lost|no progress for \d+ ms \(interrupts lost\?\)", NoInterruptSource,
            (p, o) => new(o.Msi.MsiTransferBuffers, 0.001, $"≥ {o.Msi.MsiTransferBuffers} messages (MsiTransferBuffers at irqEvery 1)")),
        new("msi-spurious=1", typeof(MsiSuite), "spurious", NoInterruptSource,
            (p, o) => Detection.Certain($"one every 1 s, every {o.Msi.MsiIdleMs} ms idle window holds one")),
        new("dma-ber=1e-6", typeof(DmaSuite), "corrupted", NoVerifiedDma,
            (p, o) => new(VerifiedBuffers(p, o) * p.DmaGeometry.BufferSize * 8.0, 1e-6, $"≥ {VerifiedBuffers(p, o)} verified buffers × {p.DmaGeometry.BufferSize * 8} bits")),
        new("dma-lost-write=0.001", typeof(DmaSuite), "corrupted|out of order|stale", NoVerifiedDma,
            (p, o) => new(VerifiedBuffers(p, o), 0.001, $"≥ {VerifiedBuffers(p, o)} verified buffers")),
        new("dma-drop-buffer=0.001", typeof(DmaSuite), @"buffer\(s\) lost", NoLoopback,
            (p, o) => new(LoopbackBuffers(p, o), 0.001, $"≥ {LoopbackBuffers(p, o)} loopback buffers")),
        new("dma-duplicate-buffer=0.001", typeof(DmaSuite), "duplicate", NoLoopback,
            (p, o) => new(LoopbackBuffers(p, o), 0.001, $"≥ {LoopbackBuffers(p, o)} loopback buffers")),
        new("dma-stall=1000", typeof(DmaSuite), "no RX progress", NoVerifiedDma,
            (p, o) => Detection.Certain($"the engines stop at buffer 1000 of ≥ {VerifiedBuffers(p, o)}")),
        new("scratch-stuck-bit=3", typeof(BarSuite), "stuck at 0", _ => null, (_, _) => Detection.Certain("walking ones")),
        new("bar-alias", typeof(BarSuite), "aliases BAR0", p => p.Bars.Any(b => b.Role == BarRole.Memory) ? null : "a single BAR: nothing to alias",
            (_, _) => Detection.Certain("every BAR written, then read")),
        new("link-degrade=1", typeof(EnumerationSuite), "link width", p => p.LinkWidth > 1 ? null : "an x1 link cannot train narrower",
            (_, _) => Detection.Certain("Link Status read once")),
        new("wrong-ident", typeof(EnumerationSuite), "identifier ROM", _ => null, (_, _) => Detection.Certain("identifier ROM read once")),
        new("wake-state-loss", typeof(SleepWakeSuite), "config space not restored", _ => null, (_, o) => Detection.Certain($"{o.Sleep.SleepWakeCycles} sleep cycles")),
        new("wake-msi-loss", typeof(SleepWakeSuite), "MSI capability not restored", _ => null, (_, o) => Detection.Certain($"{o.Sleep.SleepWakeCycles} sleep cycles")),
        new("wake-no-return", typeof(SleepWakeSuite), "re-enumerate", _ => null, (_, o) => Detection.Certain($"{o.Sleep.SleepWakeCycles} sleep cycles")),
        new("attach-fail=7", typeof(QualificationSuite), @"cycles? [0-9, –]+ failed in enumerate: .*re-enumerate", _ => null,
            (_, o) => Detection.Certain($"every 7th of {o.Qualification.QualificationCycles} attaches")),
        new("attach-leak=4096", typeof(QualificationSuite), @"leak: bus\.dma_memory_bytes: 4096 bytes/cycle", _ => null,
            (_, o) => Detection.Certain($"exact counter, {o.Qualification.QualificationCycles} cycles")),
        new("driver-native-leak=64", typeof(QualificationSuite), @"leak: driver\.native_(bytes|allocations)", _ => null,
            (_, o) => Detection.Certain($"exact counter, {o.Qualification.QualificationCycles} cycles")),
        // Certain only if the run surely moves that many buffers: each attach cycle's verified I/O moves at least
        // QualificationIoBuffers (writer-only on a board without loopback; what the engines free-run beyond that depends
        // on timing: a CI run whose 30 cycles took 0.64 s never reached 400 buffers).
        new("surprise-removal=" + SurpriseRemovalAfter, typeof(QualificationSuite), @"cycles? [0-9, –]+ failed in [a-z-]+: .*device gone", _ => null,
            (_, o) => SurpriseRemovalOdds(o.Qualification.QualificationCycles, o.Qualification.QualificationIoBuffers)),
    ];

    private static Detection SurpriseRemovalOdds(long cycles, long ioBuffers)
    {
        long moved = cycles * ioBuffers;
        return new Detection(moved >= SurpriseRemovalAfter ? 1 : 0, 1,
            $"the board leaves the bus once, after {SurpriseRemovalAfter} buffers; {cycles} attach cycles × at least {ioBuffers} verified buffers each = {moved}");
    }

    /// <summary>Every (fault, board) pair the run's boards can show.</summary>
    public static IEnumerable<TestCaseData> Faults()
    {
        if (HilRun.OptionsError is not null)
        {
            yield break;
        }

        foreach (var c in Cases)
        {
            foreach (string board in HilRun.Options.Target.Boards)
            {
                if (c.NotApplicable(BoardCatalog.Load(board)) is null)
                {
                    yield return new TestCaseData(c, board).SetArgDisplayNames(c.Fault, board);
                }
            }
        }
    }

    /// <summary>Smaller sizes than a full run where detection allows, larger where a realistic rate needs the trials.</summary>
    public static HilOptions MatrixOptions()
    {
        var o = HilRun.Options;
        return o with
        {
            Dma = o.Dma with
            {
                DmaBytes = MatrixDmaBytes,
                DmaThroughputSeconds = 0.3,
                DmaSustainedSeconds = 0.5,
                DmaTransferBuffers = [1, 33, 257],
                DmaIrqEveryGrid = [1, 32],
                DmaStartStopCycles = 5,
                DmaStallTimeoutMs = 1000,
                DmaMinGbps = new Dictionary<string, double> { ["default"] = 0.01 },
            },
            Register = o.Register with
            {
                LatencySamples = 500,
                BarPatternBytes = 64 * 1024,
                RegisterMaxLatencyUs = 1e6,
            },
            Msi = o.Msi with
            {
                MsiIdleMs = 1500,
                MsiTransferBuffers = 8192,
                MsiMaxLatencyUs = 1e6, // the matrix proves detection of faults; latency under a loaded CI machine is not one
            },
            Sleep = o.Sleep with
            {
                SleepWakeCycles = 4,
                SleepSeconds = 0.01,
                WakeTimeoutSeconds = 0.3,
                SleepIoBytes = 1L << 20,
            },
            Qualification = o.Qualification with
            {
                QualificationCycles = 30,
                SessionCycles = 30,
                QualificationIoBuffers = 8,
                ReenumerationTimeoutMs = 200,
                GoneTimeoutMs = 1000,
            },
            Cycling = o.Cycling with
            {
                MaxConsecutiveFailures = 2,
                LeakWarmupCycles = 10,
                LeakSampleEvery = 2,
                // Short runs: judge the driver and the bus (exact counters); the test process's verdicts need long runs (docs/leak-verdicts.md).
                LeakMaxSlope = LeakLimits.Parse("driver.*=0.01;bus.dma_allocations=0.01;bus.dma_memory_bytes=16;driver.live_dma_bytes=16;driver.shared_bytes=16;driver.native_bytes=16", []),
                QualificationJournal = Path.Combine(TestContext.CurrentContext.WorkDirectory, "fault-matrix-journals"),
                QualificationResume = false,
            },
        };
    }

    [TestCaseSource(nameof(Faults))]
    public async Task Fault_is_detected_by_its_suite_with_the_matching_diagnosis(FaultCase c, string board)
    {
        FaultPlan.Parse(c.Fault); // the case itself must be a valid fault string
        var options = MatrixOptions();
        var profile = BoardCatalog.Load(board);
        var odds = c.Odds(profile, options);
        odds.Probability.Should().BeGreaterThanOrEqualTo(RequiredProbability,
            $"{c.Fault} on {board}: {odds.What} give a detection probability of {odds.Probability:P4}; size the matrix so it is at least {RequiredProbability:P1}");

        var diagnosis = new Regex(c.Diagnosis, RegexOptions.IgnoreCase);
        bool Detected(InProcessOutcome o) => o.Status == InProcessStatus.Failed && diagnosis.IsMatch(o.Message);
        var outcomes = await InProcessSuiteRunner.RunAsync(c.Suite, board, $"{c.Fault};seed=7", options, s_budget, TimeSpan.FromSeconds(60), stop: Detected);
        var hit = outcomes.FirstOrDefault(Detected);

        // The control: the test that caught it passes on a fresh board without the fault (and is not skipped).
        InProcessOutcome? control = null;
        if (hit is not null)
        {
            control = (await InProcessSuiteRunner.RunAsync(c.Suite, board, "", options, s_budget, TimeSpan.FromSeconds(60), only: hit.Test)).SingleOrDefault();
        }

        string row = Row(c, board, odds, hit, control);
        s_rows[$"{Cases.ToList().IndexOf(c):D2} {board}"] = row;
        TestContext.Out.WriteLine(row);
        foreach (var o in outcomes)
        {
            TestContext.Out.WriteLine($"  {o.Status,-7} {o.Test} @ {o.At.TotalSeconds:0.00} s: {(hit is null ? o.Message : FirstLine(o.Message))}");
        }

        hit.Should().NotBeNull($"fault {c.Fault} on {board} must make {c.Suite.Name} fail (an assertion, not broken) with a diagnosis matching /{c.Diagnosis}/; outcomes: " +
            string.Join("; ", outcomes.Where(o => o.Status != InProcessStatus.Passed).Select(o => $"{o.Test}: {o.Status} {FirstLine(o.Message)}")));
        control.Should().NotBeNull($"the detecting test {hit!.Test} must run on a clean {board}");
        control!.Status.Should().Be(InProcessStatus.Passed, $"{hit.Test} caught {c.Fault}, so it must pass on a clean {board} (skipped is not clean): {FirstLine(control.Message)}");
    }

    [OneTimeTearDown]
    public void WriteMatrix()
    {
        if (s_rows.IsEmpty)
        {
            return;
        }

        var sb = new StringBuilder();
        sb.AppendLine("| Fault (rate) | Suite | Board | Trials per run | Detection probability | Detected | Time to detect | Test | Diagnosis | Clean control |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (var (_, row) in s_rows.OrderBy(r => r.Key, StringComparer.Ordinal))
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

    /// <summary>Verified buffers the Dma suite is guaranteed to move on a board under the matrix options (time-bound tests not counted).</summary>
    public static long VerifiedBuffers(BoardProfile p, HilOptions o)
    {
        int size = p.DmaGeometry.BufferSize;
        bool loopback = p.CsrMap.Layout.DmaChannels[0].LoopbackEnable is not null;
        bool writer = p.WriterSource == UserWriterSource.SequencePattern;
        long n = (loopback || writer ? (long)EveryChannelBytes / size * p.CsrMap.Layout.DmaChannels.Count : 0)
                 + (loopback ? o.Dma.DmaBytes / size : 0)
                 + (writer ? WriterOnlyBytes / size : 0);
        return n;
    }

    /// <summary>Loopback buffers the Dma suite is guaranteed to move (every channel, then the integrity transfer).</summary>
    public static long LoopbackBuffers(BoardProfile p, HilOptions o) =>
        (long)EveryChannelBytes / p.DmaGeometry.BufferSize * p.CsrMap.Layout.DmaChannels.Count + o.Dma.DmaBytes / p.DmaGeometry.BufferSize;

    private static string? NoLoopback(BoardProfile p) =>
        p.CsrMap.Layout.DmaChannels[0].LoopbackEnable is null ? "no loopback: the reader's data goes to the board's sink, unverified" : null;

    private static string? NoVerifiedDma(BoardProfile p) =>
        p.CsrMap.Layout.DmaChannels[0].LoopbackEnable is null && p.WriterSource != UserWriterSource.SequencePattern ? "no loopback and no writer source: no verified DMA" : null;

    private static string? NoInterruptSource(BoardProfile p) =>
        p.CsrMap.Layout.DmaChannels[0].LoopbackEnable is null && p.WriterSource != UserWriterSource.SequencePattern && p.ReaderSink == UserReaderSink.None
            ? "nothing raises DMA interrupts" : null;

    private static string Row(FaultCase c, string board, Detection odds, InProcessOutcome? hit, InProcessOutcome? control) =>
        string.Create(CultureInfo.InvariantCulture,
            $"| {c.Fault} | {c.Suite.Name.Replace("Suite", "", StringComparison.Ordinal)} | {board} | {odds.What} | {(odds.PerTrial >= 1 ? "1 (deterministic)" : odds.Probability.ToString("0.######", CultureInfo.InvariantCulture))} | " +
            $"{(hit is null ? "**no**" : "yes")} | {(hit is null ? "-" : $"{hit.At.TotalSeconds:0.00} s")} | {hit?.Test ?? "-"} | " +
            $"{(hit is null ? "not detected" : MatchingLine(hit.Message, new Regex(c.Diagnosis, RegexOptions.IgnoreCase))).Replace("|", "\\|", StringComparison.Ordinal)} | " +
            $"{(control is null ? "-" : control.Status == InProcessStatus.Passed ? "passes" : $"**{control.Status.ToString().ToLowerInvariant()}**")} |");

    /// <summary>The line of a (multi-line) verdict that carries the diagnosis.</summary>
    private static string MatchingLine(string message, Regex diagnosis)
    {
        string line = message.Split('\n').Select(l => l.Trim()).FirstOrDefault(diagnosis.IsMatch) ?? FirstLine(message);
        return line.Length > 220 ? line[..220] + "…" : line;
    }

    private static string FirstLine(string s)
    {
        int nl = s.IndexOf('\n', StringComparison.Ordinal);
        string line = nl < 0 ? s : s[..nl];
        return line.Length > 220 ? line[..220] + "…" : line;
    }
}
