using FluentAssertions;
using LitePcie.Hil.Fixtures;
using LitePcie.Hil.Fixtures.Allure;
using LitePcie.Hil.Options;
using LitePcie.Hil.Reporting.Allure;
using NUnit.Framework;
using NUnit.Framework.Interfaces;
using NUnit.Framework.Internal;
using NUnit.Framework.Internal.Builders;

namespace LitePcie.Hil.Tests.Fixtures;

/// <summary>How an NUnit test of a suite becomes an Allure result (identity, labels, parameters, links, status).</summary>
[TestFixture]
public sealed class AllureLabelsTests
{
    private static readonly BoardTarget Ac701 = new(BackendKind.Sim, "0000:01:00.0", "sim-ac701-2ch");

    [Test]
    public void Identity_labels_parameters_and_links_come_from_the_test_its_fixture_and_the_board()
    {
        var r = AllureLabels.Create(Build(Ac701, 4096, 32));

        r.FullName.Should().Be("LitePcie.Hil.Tests:LitePcie.Hil.Tests.Fixtures.AllureLabelsTests+SampleSuite.Grid(System.Int32,System.Int32)");
        r.TestCaseId.Should().Be(AllureIds.TestCaseId(r.FullName));
        r.Name.Should().Be("Grid (buffers=4096, irqEvery=32)", "a parameterised case shows its parameters: the grid is not rows of identical names");
        r.Parameters.Should().Equal(
            new AllureParameter("buffers", "4096"), new AllureParameter("irqEvery", "32"),
            new AllureParameter("board", "sim-ac701-2ch"), new AllureParameter("device", "0000:01:00.0") { Excluded = true });
        string Label(string name) => r.Labels.Single(l => l.Name == name).Value;
        Label("parentSuite").Should().Be("sim/sim-ac701-2ch");
        Label("suite").Should().Be("Dma");
        Label("subSuite").Should().EndWith("SampleSuite");
        Label("severity").Should().Be("minor", "the method's severity overrides the suite's");
        Label("feature").Should().Be("DMA integrity and throughput");
        Label("spec").Should().Be("P8");
        Label("backend").Should().Be("sim");
        Label("board").Should().Be("sim-ac701-2ch");
        r.Labels.Where(l => l.Name == "tag").Select(l => l.Value).Should().Equal("Dma");
        r.TitlePath.Should().Equal("sim/sim-ac701-2ch", "Dma", Label("subSuite"));
        r.Links.Should().Equal(new AllureLink("litepcie#167", "https://github.com/enjoy-digital/litepcie/issues/167", "issue"));
    }

    [Test]
    public void History_follows_the_board_profile_not_the_bus_address()
    {
        string h = AllureLabels.Create(Build(Ac701, 1, 8)).HistoryId!;
        AllureLabels.Create(Build(Ac701 with { Address = "0000:05:00.0" }, 1, 8)).HistoryId.Should().Be(h, "re-enumeration at another address is the same board");
        AllureLabels.Create(Build(Ac701 with { Board = "sim-xcu1525-msix" }, 1, 8)).HistoryId.Should().NotBe(h, "another board has its own history");
        AllureLabels.Create(Build(Ac701, 1, 32)).HistoryId.Should().NotBe(h, "another case of the grid has its own history");
    }

    [Test]
    public void The_display_name_leaves_history_alone_and_the_timeline_row_is_the_board()
    {
        var r = AllureLabels.Create(Build(Ac701, 257, 128));

        r.Name.Should().Be("Grid (buffers=257, irqEvery=128)");
        r.HistoryId.Should().Be(AllureIds.HistoryId(r.FullName, r.Parameters), "history comes from the full name and the parameters, as before the names changed");
        r.Labels.Single(l => l.Name == "thread").Value.Should().Be("sim-ac701-2ch@0000:01:00.0",
            "Allure's timeline has a row per host and thread: one per board, not per NUnit worker");
    }

    [TestCase(TestStatus.Passed, "", AllureStatus.Passed, AllureStage.Finished)]
    [TestCase(TestStatus.Failed, "", AllureStatus.Failed, AllureStage.Finished)]
    [TestCase(TestStatus.Failed, "Error", AllureStatus.Broken, AllureStage.Finished)]
    [TestCase(TestStatus.Failed, "Invalid", AllureStatus.Broken, AllureStage.Finished)]
    [TestCase(TestStatus.Failed, "Cancelled", AllureStatus.Broken, AllureStage.Interrupted)]
    [TestCase(TestStatus.Skipped, "Ignored", AllureStatus.Skipped, AllureStage.Finished)]
    [TestCase(TestStatus.Inconclusive, "", AllureStatus.Skipped, AllureStage.Finished)]
    [TestCase(TestStatus.Warning, "", AllureStatus.Broken, AllureStage.Finished)]
    public void Nunit_results_map_to_allure_statuses(TestStatus status, string label, AllureStatus expected, AllureStage stage)
    {
        AllureLabels.Map(new ResultState(status, label)).Should().Be((expected, stage));
        AllureLabels.Map(new ResultState(status, label, FailureSite.Parent)).Should().Be((expected, stage), "a fixture setup failure maps its children the same way");
    }

    [Test]
    public void Step_errors_map_assertions_to_failed_and_device_errors_to_broken()
    {
        AllureLabels.StepStatus(null).Should().Be(AllureStatus.Passed);
        AllureLabels.StepStatus(new AssertionException("x")).Should().Be(AllureStatus.Failed);
        AllureLabels.StepStatus(new IgnoreException("x")).Should().Be(AllureStatus.Skipped);
        AllureLabels.StepStatus(new LitePcie.Hil.Devices.DeviceGoneException("0000:01:00.0", "gone")).Should().Be(AllureStatus.Broken);
        AllureLabels.StepDetails(new LitePcie.Hil.Devices.DeviceGoneException("0000:01:00.0", "gone"))!.Message
            .Should().Be("LitePcie.Hil.Devices.DeviceGoneException : 0000:01:00.0: gone", "categories match on the exception type");
    }

    internal static TestMethod Build(BoardTarget target, params object[] args)
    {
        var fixture = new TestFixture(new TypeWrapper(typeof(SampleSuite)), [target]);
        foreach (var a in typeof(SampleSuite).GetCustomAttributes(true).OfType<IApplyToTest>())
        {
            a.ApplyToTest(fixture);
        }

        var method = new MethodWrapper(typeof(SampleSuite), nameof(SampleSuite.Grid));
        var test = new NUnitTestCaseBuilder().BuildTestMethod(method, fixture, new TestCaseParameters(args));
        foreach (var a in method.GetCustomAttributes<IApplyToTest>(true))
        {
            a.ApplyToTest(test);
        }

        fixture.Add(test);
        return test;
    }

    /// <summary>Shaped like a device suite; not a fixture NUnit discovers (no test attributes).</summary>
    [Category("Dma")]
    [Feature("DMA integrity and throughput")]
    [Severity(AllureSeverity.Critical)]
    public sealed class SampleSuite
    {
        [Severity(AllureSeverity.Minor)]
        [Spec("P8")]
        [Issue("enjoy-digital/litepcie", 167)]
        public void Grid(int buffers, int irqEvery) => _ = (buffers, irqEvery);
    }
}
