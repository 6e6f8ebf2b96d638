using FluentAssertions;
using LitePcie.Hil.Cli;
using LitePcie.Hil.Qualification;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Cli;

/// <summary>
/// <c>litepcie-hil qualify</c> on the SIL: attach/detach and open/close cycles pass on a healthy board, an attach
/// leak is found from its slope, a journal records every cycle and Ctrl+C ends the run with the summary so far.
/// The process resources are given a wide limit here because the test host shares its heap with other tests; the
/// driver and bus resources keep their exact defaults.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class QualifyCommandTests
{
    private const string ProcessNoise = "process.*=1e12";

    [Test]
    public void Attach_detach_cycles_pass_on_a_healthy_board()
    {
        var run = CliRun.Of("qualify", "--cycles", "6", "--warmup", "2", "--sample-every", "1", "--leak-limit", ProcessNoise);

        run.Code.Should().Be(ExitCodes.Success, run.ToString());
        run.Out.Should().Contain("attach-detach: 6/6 cycles, 0 failed, 0 leaking resource(s)")
            .And.Contain("bus.dma_memory_bytes").And.Contain("driver.live_instances").And.Contain("qualify: PASS");
    }

    [Test]
    public void An_attach_leak_is_found_from_its_slope()
    {
        var run = CliRun.Of("qualify", "--cycles", "6", "--warmup", "2", "--sample-every", "1", "--leak-limit", ProcessNoise, "--faults", "attach-leak=4096");

        run.Code.Should().Be(ExitCodes.TestFailed, run.ToString());
        run.Out.Should().Contain("leak: bus.dma_memory_bytes: +4.00 KiB/cycle", "each attach leaks 4096 bytes of DMA memory")
            .And.Contain("qualify: FAIL");
        var json = CliRun.Of("qualify", "--cycles", "6", "--warmup", "2", "--sample-every", "1", "--leak-limit", ProcessNoise,
            "--faults", "attach-leak=4096", "--json").Json();
        var memory = json.GetProperty("resources").EnumerateArray().Single(r => r.GetProperty("name").GetString() == "bus.dma_memory_bytes");
        memory.GetProperty("slopePerCycle").GetDouble().Should().Be(4096);
        memory.GetProperty("leak").GetBoolean().Should().BeTrue();
        json.GetProperty("failed").GetInt32().Should().Be(0, "the leak does not break a cycle, only the verdict");
    }

    [Test]
    public void Failed_attaches_are_reported_by_cycle_and_phase()
    {
        var run = CliRun.Of("qualify", "--cycles", "4", "--warmup", "0", "--timeout", "0.3", "--leak-limit", ProcessNoise, "--faults", "attach-fail=2");

        run.Code.Should().Be(ExitCodes.TestFailed, run.ToString());
        run.Out.Should().Contain("cycle 2 failed in enumerate").And.Contain("the board to re-enumerate");
    }

    [Test]
    public void The_live_line_tells_warm_up_and_settling_slopes_from_judged_ones_and_gives_an_eta()
    {
        var run = CliRun.Of("qualify", "--kind", "open-close", "--cycles", "20", "--warmup", "4", "--sample-every", "2", "--leak-limit", ProcessNoise);

        run.Code.Should().Be(ExitCodes.Success, run.ToString());
        var status = run.Out.Split('\n').Where(l => l.StartsWith("cycle ", StringComparison.Ordinal)).ToList();
        status.Should().Contain(l => l.StartsWith("cycle 1/20", StringComparison.Ordinal) && l.Contains("warm-up: resources sampled from cycle 6", StringComparison.Ordinal),
            "cycles 1–4 are the warm-up: nothing is sampled, so no slope is shown");
        status.Should().Contain(l => l.StartsWith("cycle 8/20", StringComparison.Ordinal) && l.Contains("settling: 2 samples, judged from 3", StringComparison.Ordinal),
            "two samples give a slope, shown as settling, not judged");
        status.Last().Should().StartWith("cycle 20/20").And.Contain("; 8 samples)", "the end of the run rests on every sample");
        status.Where(l => !l.StartsWith("cycle 20/20", StringComparison.Ordinal)).Should().OnlyContain(l => l.Contains(" cycles/s, ETA ", StringComparison.Ordinal));
        run.Out.Should().Contain("slopes judged on all of them");
    }

    [Test]
    public void One_sample_is_not_judged_ok()
    {
        var run = CliRun.Of("qualify", "--kind", "open-close", "--cycles", "3", "--warmup", "1", "--sample-every", "2", "--leak-limit", ProcessNoise);

        run.Code.Should().Be(ExitCodes.Success, run.ToString());
        run.Out.Should().Contain("not judged (1 sample)").And.NotMatchRegex(@"(?m)\s1\s+ok\s*$", "a one-sample slope is no verdict");
        run.Out.Should().Contain("leak verdict: none — 1 sample after the warm-up of 1 cycle(s); a slope is judged on at least 3");
        var json = CliRun.Of("qualify", "--kind", "open-close", "--cycles", "3", "--warmup", "1", "--sample-every", "2", "--leak-limit", ProcessNoise, "--json").Json();
        json.GetProperty("resources").EnumerateArray().Should().OnlyContain(r => !r.GetProperty("judged").GetBoolean());
    }

    [Test]
    public void Two_samples_are_no_leak_verdict()
    {
        // attach-leak grows DMA memory by 4 KiB per cycle: with two samples that is one difference, not a trend.
        var run = CliRun.Of("qualify", "--cycles", "4", "--warmup", "2", "--sample-every", "1", "--leak-limit", ProcessNoise, "--faults", "attach-leak=4096");

        run.Code.Should().Be(ExitCodes.Success, run.ToString());
        run.Out.Should().Contain("not judged (2 samples)").And.NotContain("LEAK")
            .And.Contain("qualify: PASS (every cycle passed; no leak verdict: fewer than 3 samples)");
    }

    [Test]
    public void A_failing_cycle_says_where_it_waits_before_its_bound_expires()
    {
        var run = CliRun.Of("qualify", "--cycles", "2", "--warmup", "0", "--timeout", "2.5", "--leak-limit", ProcessNoise, "--faults", "attach-fail=2");

        run.Code.Should().Be(ExitCodes.TestFailed, run.ToString());
        var lines = run.Out.Split('\n').ToList();
        int slow = lines.FindIndex(l => l.StartsWith("… cycle 2: enumerate after ", StringComparison.Ordinal));
        int failed = lines.FindIndex(l => l.StartsWith("! cycle 2 failed in enumerate", StringComparison.Ordinal));
        slow.Should().BeGreaterThanOrEqualTo(0, "after a second the run says which phase it is waiting in\n" + run);
        failed.Should().BeGreaterThan(slow, "and then reports the failure itself as soon as the bound expires");
    }

    [Test]
    public void Open_close_cycles_pass_and_write_a_journal()
    {
        string journal = Path.Combine(Path.GetTempPath(), $"litepcie-hil-{Guid.NewGuid():N}.jsonl");
        try
        {
            var run = CliRun.Of("qualify", "--kind", "open-close", "--cycles", "5", "--warmup", "1", "--leak-limit", ProcessNoise, "--journal", journal, "--json");

            run.Code.Should().Be(ExitCodes.Success, run.ToString());
            run.Json().GetProperty("completed").GetInt32().Should().Be(5);
            var (header, records, done, _) = CycleJournal.Read(journal);
            header!.Suite.Should().Be("litepcie-hil qualify open-close");
            records.Should().HaveCount(5).And.OnlyContain(r => r.Ok);
            done.Should().BeTrue("a finished run is marked complete so it is not resumed");
        }
        finally
        {
            File.Delete(journal);
        }
    }

    [Test]
    public void Ctrl_c_ends_the_cycles_with_the_summary_so_far_and_the_board_on_the_bus()
    {
        var run = CliRun.Interrupted("cycle 2/40", "qualify", "--cycles", "40", "--warmup", "0", "--leak-limit", ProcessNoise);

        run.Out.Should().Contain("interrupted by Ctrl+C").And.Contain("2/40 cycles", run.ToString());
        run.Err.Should().NotContain("could not be brought back", "the board is left attached");
    }
}
