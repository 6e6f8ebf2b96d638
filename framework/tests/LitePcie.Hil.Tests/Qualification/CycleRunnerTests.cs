using FluentAssertions;
using LitePcie.Hil.Platform;
using LitePcie.Hil.Qualification;
using LitePcie.Hil.Reporting;
using LitePcie.Hil.Tests.Support;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Qualification;

/// <summary>The cycle engine: failures recorded and the run goes on, early stop, leak verdict, resume, steps.</summary>
[TestFixture]
public sealed class CycleRunnerTests
{
    private string _dir = "";

    [SetUp]
    public void MakeDirectory() => _dir = Directory.CreateTempSubdirectory("cycles-").FullName;

    [TearDown]
    public void RemoveDirectory() => Directory.Delete(_dir, recursive: true);

    private CycleJournal Journal(int cycles, bool resume = false) =>
        CycleJournal.Open(Path.Combine(_dir, "j.jsonl"), new JournalHeader("t", "sim", "b", "d", cycles, "p"), resume);

    private static CycleOptions Options(int cycles, int maxConsecutive = 10, string limits = "driver.*=0.01") =>
        new(cycles, WarmupCycles: 10, SampleEvery: 5, maxConsecutive, LeakLimits.Parse(limits, []));

    /// <summary>A probe whose driver objects grow by <paramref name="perCycle"/> per sample call.</summary>
    private sealed class GrowingProbe(double perCycle) : IResourceProbe
    {
        public int Calls { get; private set; }

        public string Description => "fake";

        public IReadOnlyList<ResourceReading> Sample(string device) => [new("driver.objects", 4 + perCycle * 5 * Calls++, ResourceUnit.Count)];
    }

    [Test]
    public void Cycle_cost_is_judged_on_the_cpu_a_cycle_costs_so_a_machine_loaded_late_in_the_run_is_not_a_slowdown()
    {
        var run = new CycleRun(1000);
        for (int c = 1; c <= 1000; c++)
        {
            // Two busy processes start at cycle 900: every cycle takes four times as long on the wall clock, the same CPU.
            run.Times.Add((c, c > 900 ? 80 : 20));
            run.CpuTimes.Add((c, 12));
        }

        run.Cost()!.Ratio.Should().BeApproximately(1.0, 1e-9, "the cycle did the same work; the machine was busier");
        run.Summary("x").Should().Contain("CPU per cycle");
    }

    [Test]
    public void Cycle_cost_compares_the_median_of_cycles_10_to_59_with_the_last_50()
    {
        var run = new CycleRun(1000);
        for (int c = 1; c <= 1000; c++)
        {
            // start-up cycles are slow; then 20 ms with an outlier every 7th cycle; the last 50 cycles cost 30 ms
            run.Times.Add((c, c < 10 ? 500 : c > 950 ? 30 : c % 7 == 0 ? 90 : 20));
        }

        var cost = run.Cost()!;
        cost.EarlyFrom.Should().Be(10, "the window starts after start-up");
        cost.EarlyMedianMs.Should().Be(20, "medians ignore the outliers");
        (cost.LateFrom, cost.LateTo, cost.LateMedianMs).Should().Be((951, 1000, 30.0));
        cost.Ratio.Should().BeApproximately(1.5, 1e-9);
        run.Summary("attach/detach").Should().Contain("cycle cost (wall time per cycle): median 20.00 ms over cycles 10–59, 30.00 ms over cycles 951–1000 (late/early 1.50)");

        var brief = new CycleRun(100);
        for (int c = 1; c <= 100; c++)
        {
            brief.Times.Add((c, 20));
        }

        brief.Cost().Should().BeNull("100 cycles cannot fill two 50-cycle windows after cycle 10");
    }

    [Test]
    public async Task Failed_cycles_are_recorded_with_their_phase_and_the_run_goes_on_to_the_end()
    {
        using var journal = Journal(100);
        var run = await CycleRunner.RunAsync(Options(100), journal, new GrowingProbe(0), "d", async (c, phases, _) =>
        {
            await phases.RunAsync("detach", () => Task.CompletedTask);
            await phases.RunAsync("enumerate", () => c % 25 == 0 ? throw new TimeoutException("not back within 500 ms") : Task.CompletedTask);
            return "idle";
        }, _ => "idle");

        run.Completed.Should().Be(100, "a failed cycle does not stop the run");
        run.Failures.Select(f => (f.Cycle, f.Phase)).Should().Equal((25, "enumerate"), (50, "enumerate"), (75, "enumerate"), (100, "enumerate"));
        run.Passed.Should().BeFalse();
        run.Summary("attach/detach").Should().Contain("cycles 25, 50, 75, 100 failed in enumerate: not back within 500 ms");
        CycleJournal.Read(journal.Path).Done.Should().BeTrue();
    }

    [Test]
    public async Task A_device_that_never_comes_back_stops_the_run_early()
    {
        using var journal = Journal(1000);
        var run = await CycleRunner.RunAsync(Options(1000, maxConsecutive: 3), journal, new GrowingProbe(0), "d",
            (c, phases, _) => c >= 7 ? throw new CyclePhaseException("attach", new IOException("link down")) : Task.FromResult("idle"), _ => "idle");

        run.Completed.Should().Be(9);
        run.StoppedEarly.Should().Be("3 consecutive cycles failed (up to cycle 9); the device did not recover");
        run.Summary("x").Should().Contain("cycles 7–9 failed in attach: link down");
        CycleJournal.Read(journal.Path).Done.Should().BeFalse("an early stop can be resumed once the bench is fixed");
    }

    [Test]
    public async Task A_steady_ramp_after_the_warm_up_is_a_leak_naming_resource_and_slope()
    {
        using var journal = Journal(110);
        var run = await CycleRunner.RunAsync(Options(110), journal, new GrowingProbe(1), "d", (_, _, _) => Task.FromResult("idle"), _ => "idle");

        run.Failures.Should().BeEmpty();
        run.Leaks.Should().ContainSingle().Which.Fit.Slope.Should().Be(1, "one object per cycle");
        run.Summary("x").Should().Contain("leak: driver.objects: 1 objects/cycle").And.Contain("exceeds the limit of 0.01/cycle");
        run.Samples["driver.objects"].Points.Select(p => p.Cycle).Should().StartWith([15L, 20L, 25L], "sampled every 5 cycles after a warm-up of 10");
    }

    [Test]
    public async Task A_resumed_run_keeps_the_earlier_cycles_and_does_only_the_rest()
    {
        using (var first = Journal(50, resume: true))
        {
            await CycleRunner.RunAsync(Options(50, maxConsecutive: 1), first, new GrowingProbe(0), "d",
                (c, _, _) => c == 30 ? throw new InvalidOperationException("host lost power") : Task.FromResult("idle"), _ => "idle");
        }

        int ran = 0;
        using var second = Journal(50, resume: true);
        second.NextCycle.Should().Be(31);
        var run = await CycleRunner.RunAsync(Options(50), second, new GrowingProbe(0), "d", (_, _, _) => { ran++; return Task.FromResult("idle"); }, _ => "idle");
        ran.Should().Be(20);
        run.Resumed.Should().BeTrue();
        run.Completed.Should().Be(50);
        run.Failures.Should().ContainSingle().Which.Message.Should().Contain("host lost power", "the earlier run's failure stays in the verdict");
    }

    /// <summary>A probe of the test process, at a fixed size (a new process after a resume has another).</summary>
    private sealed class ProcessProbe(double privateBytes) : IResourceProbe
    {
        public string Description => "fake process";

        public IReadOnlyList<ResourceReading> Sample(string device) =>
            [new("process.private_bytes", privateBytes, ResourceUnit.Bytes), new("driver.objects", 4, ResourceUnit.Count)];
    }

    [Test]
    public async Task A_resumed_run_judges_the_test_process_on_its_own_samples_only()
    {
        using (var first = Journal(50, resume: true))
        {
            await CycleRunner.RunAsync(Options(50, maxConsecutive: 1), first, new ProcessProbe(100e6), "d",
                (c, _, _) => c == 30 ? throw new InvalidOperationException("host lost power") : Task.FromResult("idle"), _ => "idle");
        }

        using var second = Journal(50, resume: true);
        var run = await CycleRunner.RunAsync(Options(50, limits: "driver.*=0.01;process.private_bytes=16"), second, new ProcessProbe(200e6), "d",
            (_, _, _) => Task.FromResult("idle"), _ => "idle");
        run.Samples["process.private_bytes"].Points.Should().OnlyContain(p => p.Cycle > 30,
            "the earlier process's samples describe another process: a resumed run drops them instead of reading the jump as a leak");
        run.Samples["driver.objects"].Points.Should().Contain(p => p.Cycle <= 30, "the device side is the same device across the resume: its samples are kept");
        run.Leaks.Should().BeEmpty();
        run.Summary("x").Should().Contain("test-process samples before the resume at cycle 31 dropped");
    }

    [Test]
    public async Task Blocks_of_cycles_are_reported_as_steps_failed_when_a_cycle_failed()
    {
        using var journal = Journal(25);
        var steps = new RecordingStepReporter();
        await CycleRunner.RunAsync(Options(25), journal, new GrowingProbe(0), "d",
            (c, _, _) => c == 12 ? throw new InvalidOperationException("x") : Task.FromResult("idle"), _ => "idle", steps, stepEvery: 10);
        steps.Finished.Select(s => (s.Name, Failed: s.Error is VerdictException)).Should().Equal(("cycles 1–10", false), ("cycles 11–20", true), ("cycles 21–25", false));
    }

    [Test]
    public async Task Without_a_journal_the_run_is_the_same_and_the_observer_sees_every_cycle()
    {
        var seen = new List<(int Completed, int Cycle, bool Sampled)>();
        var run = await CycleRunner.RunAsync(Options(20), null, new GrowingProbe(1), "d", (_, _, _) => Task.FromResult("idle"), _ => "idle",
            observer: new CycleObserver { Cycle = (r, record) => seen.Add((r.Completed, record.Cycle, record.Samples is not null)) });

        run.Completed.Should().Be(20);
        run.Leaks.Should().ContainSingle("one object per cycle, as with a journal");
        seen.Select(s => s.Cycle).Should().Equal(Enumerable.Range(1, 20), "after every cycle, in order");
        seen.Should().OnlyContain(s => s.Completed == s.Cycle);
        seen.Where(s => s.Sampled).Select(s => s.Cycle).Should().Equal(15, 20);
    }

    [Test]
    public async Task A_slope_on_fewer_samples_than_MinSamples_is_reported_not_judged()
    {
        var options = Options(20) with { MinSamples = 3 };
        var run = await CycleRunner.RunAsync(options, null, new GrowingProbe(1), "d", (_, _, _) => Task.FromResult("idle"), _ => "idle");
        run.Trends.Should().ContainSingle().Which.Samples.Should().Be(2);
        run.Leaks.Should().BeEmpty("two samples are one difference, not a trend");
    }

    [Test]
    public async Task A_cycle_that_runs_long_is_reported_with_its_phase_until_it_ends()
    {
        var released = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var slow = new List<(int Cycle, string? Phase)>();
        var run = await CycleRunner.RunAsync(Options(2), null, new GrowingProbe(0), "d",
            async (c, phases, _) =>
            {
                await phases.RunAsync("enumerate", () => c == 2 ? released.Task : Task.CompletedTask);
                return "idle";
            }, _ => "idle",
            observer: new CycleObserver
            {
                SlowAfter = TimeSpan.FromMilliseconds(20),
                SlowEvery = TimeSpan.FromMilliseconds(20),
                Slow = (c, phase, _) =>
                {
                    slow.Add((c, phase));
                    if (slow.Count == 2)
                    {
                        released.TrySetResult(); // the cycle ends once it was said twice
                    }
                },
            });

        run.Completed.Should().Be(2);
        run.Failures.Should().BeEmpty();
        slow.Should().HaveCountGreaterThanOrEqualTo(2).And.OnlyContain(s => s.Cycle == 2 && s.Phase == "enumerate");
    }

    [Test]
    public async Task Cancelling_returns_the_cycles_so_far_interrupted_and_the_journal_stays_open_for_resuming()
    {
        using var cts = new CancellationTokenSource();
        using (var journal = Journal(50, resume: true))
        {
            var run = await CycleRunner.RunAsync(Options(50), journal, new GrowingProbe(0), "d",
                async (c, _, ct) =>
                {
                    if (c == 5)
                    {
                        await cts.CancelAsync();
                        ct.ThrowIfCancellationRequested();
                    }

                    return "idle";
                }, _ => "idle", cancellationToken: cts.Token);

            run.Interrupted.Should().BeTrue();
            run.Completed.Should().Be(4, "the cancelled cycle is not recorded");
            run.Failures.Should().BeEmpty("a cancelled cycle is not a failed one");
        }

        using var again = Journal(50, resume: true);
        again.Resumed.Should().BeTrue();
        again.NextCycle.Should().Be(5);
    }

    [Test]
    public void User_limits_win_over_the_defaults_and_the_defaults_cover_the_rest()
    {
        var limits = LeakLimits.Parse("process.*=1e12", []).Over(LeakLimits.Parse(LeakLimits.Default, []));
        limits.LimitFor("process.managed_bytes").Should().Be(1e12);
        limits.LimitFor("bus.dma_memory_bytes").Should().Be(16);
        limits.LimitFor("nobody.covers_this").Should().BeNull();
    }

    [Test]
    public void Ranges_compress_consecutive_cycles() =>
        CycleRun.Ranges([3, 10, 11, 12, 20]).Should().Be("3, 10–12, 20");
}
