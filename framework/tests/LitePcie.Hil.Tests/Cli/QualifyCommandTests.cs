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
        run.Out.Should().Contain("leak: bus.dma_memory_bytes: 4096 bytes/cycle", "each attach leaks 4096 bytes of DMA memory")
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
