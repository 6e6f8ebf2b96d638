using System.Text;
using FluentAssertions;
using LitePcie.Hil.Fixtures;
using LitePcie.Hil.Fixtures.Allure;
using LitePcie.Hil.Options;
using LitePcie.Hil.Reporting;
using LitePcie.Hil.Reporting.Allure;
using LitePcie.Hil.Tests.Support;
using NUnit.Framework;
using NUnit.Framework.Interfaces;
using NUnit.Framework.Internal;

namespace LitePcie.Hil.Tests.Fixtures;

/// <summary>The Allure side of a run, against the in-memory writer: tests, fixture containers, unrun tests, environment.</summary>
[TestFixture]
public sealed class AllureNUnitRunTests
{
    private static readonly BoardTarget Ac701 = new(BackendKind.Sim, "0000:01:00.0", "sim-ac701-2ch");

    [Test]
    public void A_failed_test_is_written_when_it_ends_with_its_steps_attachments_log_and_container()
    {
        var writer = new InMemoryAllureResultsWriter();
        var time = new ManualTime(DateTimeOffset.FromUnixTimeMilliseconds(5_000));
        var run = new AllureNUnitRun(writer, time);
        var test = AllureLabelsTests.Build(Ac701, 1, 32);

        var fixture = run.FixtureReporter(test.Parent!);
        fixture.Step("open session on sim:sim-ac701-2ch@0000:01:00.0", () => fixture.Event("retry 1/5 in 100 ms: busy", new LitePcie.Hil.Devices.DeviceBusyException("0000:01:00.0", "busy")));

        var reporter = run.BeginTest(test);
        writer.Results.Should().BeEmpty("nothing is written before the test ends");
        reporter.Step("stream pcie_dma0", () => time.Advance(TimeSpan.FromMilliseconds(40)));
        reporter.Attach("pcie_dma0 register dump", Encoding.UTF8.GetBytes("pcie_dma0_writer_enable = 0x1"), "text/plain", ".txt");
        reporter.Log("RX buffer 3 corrupted");
        var outcome = test.MakeTestResult();
        outcome.SetResult(ResultState.Failure, "RX buffer 3 (sequence 3): corrupted", "at DmaSuite.Verify()");
        run.EndTest(test, outcome);

        var r = writer.Results.Should().ContainSingle().Subject;
        r.Status.Should().Be(AllureStatus.Failed);
        r.Stage.Should().Be(AllureStage.Finished);
        r.StatusDetails!.Message.Should().Be("RX buffer 3 (sequence 3): corrupted");
        r.StatusDetails.Trace.Should().Be("at DmaSuite.Verify()");
        (r.Stop - r.Start).Should().Be(40);
        r.Steps.Should().ContainSingle().Which.Name.Should().Be("stream pcie_dma0");
        r.Attachments.Select(a => a.Name).Should().Equal("pcie_dma0 register dump", "log");

        run.End(Root(test, outcome));
        var c = writer.Containers.Should().ContainSingle().Subject;
        c.Children.Should().Equal(r.Uuid);
        var before = c.Befores.Should().ContainSingle().Subject;
        before.Name.Should().StartWith("open session");
        before.Steps.Should().ContainSingle().Which.Status.Should().Be(AllureStatus.Broken, "a retried attempt is a broken step inside the setup");
        before.Status.Should().Be(AllureStatus.Passed);
    }

    [Test]
    public void The_message_is_the_verdicts_first_line_and_its_details_lead_the_trace()
    {
        var writer = new InMemoryAllureResultsWriter();
        var run = new AllureNUnitRun(writer, new ManualTime(DateTimeOffset.FromUnixTimeMilliseconds(5_000)));
        var test = AllureLabelsTests.Build(Ac701, 1, 32);
        var reporter = run.BeginTest(test);
        var outcome = test.MakeTestResult();
        outcome.SetResult(ResultState.Failure, "pcie_dma0 Loopback: corrupted buffers\n16 MiB of internal loopback on pcie_dma0: 2048 RX buffers verified, 338 bad\nfirst: RX buffer 7", "at DmaSuite.Verify()");
        run.EndTest(test, outcome);

        var r = writer.Results.Should().ContainSingle().Subject;
        r.StatusDetails!.Message.Should().Be("pcie_dma0 Loopback: corrupted buffers", "one message per failure kind: Allure groups a category by it");
        r.StatusDetails.Trace.Should().Be("16 MiB of internal loopback on pcie_dma0: 2048 RX buffers verified, 338 bad\nfirst: RX buffer 7\n\nat DmaSuite.Verify()");
        var log = r.Attachments.Should().ContainSingle(a => a.Name == "log", "a failed test carries its log even when it logged nothing").Subject;
        Encoding.UTF8.GetString(writer.Files[log.Source]).Should().Contain("✗ failed: pcie_dma0 Loopback: corrupted buffers\n16 MiB", "the log ends with the whole verdict");
    }

    [Test]
    public void Tests_that_never_ran_are_written_at_the_end_from_the_result_tree()
    {
        var writer = new InMemoryAllureResultsWriter();
        var run = new AllureNUnitRun(writer);
        var test = AllureLabelsTests.Build(Ac701 with { Backend = BackendKind.Linux }, 1, 8);
        var outcome = test.MakeTestResult();
        outcome.SetResult(new ResultState(TestStatus.Skipped, "Ignored", FailureSite.Parent), "OneTimeSetUp: no board to test: the Linux backend is not built into this test run");

        run.End(Root(test, outcome));

        var r = writer.Results.Should().ContainSingle().Subject;
        r.Status.Should().Be(AllureStatus.Skipped);
        r.StatusDetails!.Message.Should().Contain("no board to test");
        r.Labels.Should().Contain(new AllureLabel("parentSuite", "linux/sim-ac701-2ch"));
    }

    [Test]
    public void The_environment_file_grows_as_boards_open_and_never_repeats_a_key()
    {
        var writer = new InMemoryAllureResultsWriter();
        var run = new AllureNUnitRun(writer);
        run.Start([new("Backend", "sim")], "[]"u8.ToArray());
        run.SetEnvironment("Boards", "sim-ac701-2ch");
        run.SetEnvironment("Backend", "sim");
        run.SetEnvironment("Boards", "sim-ac701-2ch, sim-xcu1525-msix");
        Encoding.UTF8.GetString(writer.Files["environment.properties"]).Should().Be("Backend=sim\nBoards=sim-ac701-2ch, sim-xcu1525-msix\n");
        writer.Files.Should().ContainKey("categories.json");
    }

    private static TestSuiteResult Root(TestMethod test, TestResult outcome)
    {
        var fixtureResult = (TestSuiteResult)((TestSuite)test.Parent!).MakeTestResult();
        fixtureResult.AddResult(outcome);
        return fixtureResult;
    }
}
