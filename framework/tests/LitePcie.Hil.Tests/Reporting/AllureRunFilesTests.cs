using System.Collections;
using System.Text;
using System.Text.RegularExpressions;
using FluentAssertions;
using LitePcie.Hil.Reporting.Allure;
using LitePcie.Hil.Tests.Support;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Reporting;

/// <summary>environment.properties, executor.json and the project's categories file.</summary>
[TestFixture]
public sealed class AllureRunFilesTests
{
    [Test]
    public void Environment_properties_escape_separators_and_line_breaks()
    {
        string text = Encoding.UTF8.GetString(AllureRunFiles.Environment(
        [
            new("Backend", "sim"),
            new("sim-ac701-2ch@0000:01:00.0.identifier", "LitePCIe SoC = x"),
            new("Note", "two\nlines\\"),
            new("Leading", " space"),
        ]));
        text.Should().Be("Backend=sim\nsim-ac701-2ch@0000\\:01\\:00.0.identifier=LitePCIe SoC = x\nNote=two\\nlines\\\\\nLeading=\\ space\n");
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Should().HaveCount(4, "no value can split into two entries");
    }

    [Test]
    public void Executor_comes_from_github_actions_variables()
    {
        var env = new Hashtable
        {
            ["GITHUB_ACTIONS"] = "true",
            ["GITHUB_SERVER_URL"] = "https://github.com",
            ["GITHUB_REPOSITORY"] = "lab/litepcie-hil",
            ["GITHUB_RUN_ID"] = "991",
            ["GITHUB_RUN_NUMBER"] = "42",
            ["GITHUB_WORKFLOW"] = "nightly",
            ["RUNNER_NAME"] = "lab-linux-01",
        };
        var e = AllureRunFiles.ExecutorFromEnvironment(env)!;
        e.Type.Should().Be("github");
        e.BuildOrder.Should().Be(42);
        e.BuildName.Should().Be("nightly #42 on lab-linux-01");
        e.BuildUrl.Should().Be("https://github.com/lab/litepcie-hil/actions/runs/991");
        Encoding.UTF8.GetString(AllureRunFiles.Executor(e)).Should().Contain("\"buildOrder\":42").And.NotContain("reportUrl");

        AllureRunFiles.ExecutorFromEnvironment(new Hashtable()).Should().BeNull("no CI, no executor.json");
        AllureRunFiles.ExecutorFromEnvironment(new Hashtable { ["JENKINS_URL"] = "https://ci/", ["BUILD_NUMBER"] = "7", ["BUILD_TAG"] = "jenkins-hil-7" })!
            .Should().Match<AllureExecutor>(x => x.Type == "jenkins" && x.BuildOrder == 7 && x.BuildName == "jenkins-hil-7");
    }

    [Test]
    public void Bad_categories_are_refused_naming_the_problem()
    {
        var act = () => AllureRunFiles.ParseCategories("""[{"name":"x","matchedStatuses":["exploded"]}]""", "c.json");
        act.Should().Throw<FormatException>().WithMessage("c.json: category 'x': matchedStatuses 'exploded' (accepted: failed, broken, passed, skipped, unknown)");
        act = () => AllureRunFiles.ParseCategories("{}", "c.json");
        act.Should().Throw<FormatException>().WithMessage("c.json: not a categories array*");
    }

    /// <summary>Messages the suites and the device layer really produce, and the category each must land in.</summary>
    [TestCase("failed", "16777216 bytes of internal loopback on pcie_dma0: 31 bad buffer(s) of 2208 (corrupted ×16); first: RX buffer 24", "DMA data corruption")]
    [TestCase("failed", "Expected c.Interrupts to be 132L because pcie_dma0 writer (FPGA→host): 4192 buffers at irqEvery 32 must raise 132 interrupts; 22 lost, but found 110L", "Lost interrupts")]
    [TestCase("failed", "Expected problems to be empty because HIL-07/P1: the hardware must not run ahead", "Lost interrupts")]
    [TestCase("failed", "pcie_dma0 Loopback: corrupted buffers", "DMA data corruption")]
    [TestCase("failed", "pcie_dma0 WriterOnly: lost and duplicated buffers", "DMA data corruption")]
    [TestCase("failed", "MSI interrupts lost: the hardware completed buffers the driver was never interrupted for", "Lost interrupts")]
    [TestCase("failed", "pcie_dma0 throughput below DmaMinGbps: RX (writer)", "Throughput below threshold")]
    [TestCase("failed", "pcie_dma0 Loopback: stalled (no progress within DmaStallTimeoutMs)", "Timeout or stall")]
    [TestCase("failed", "Expected arrived to be 0L because spurious interrupts: 19 MSI message(s) arrived", "Spurious interrupts")]
    [TestCase("broken", "LitePcie.Hil.Devices.DeviceGoneException : 0000:01:00.0: reads return 0xFFFFFFFF", "Device gone (surprise removal, link down)")]
    [TestCase("broken", "OneTimeSetUp: LitePcie.Hil.Devices.DeviceTimeoutException : 0000:01:00.0: timed out after 2 s waiting for pcie_dma0 writer", "Timeout or stall")]
    [TestCase("failed", "16 MiB of loopback on pcie_dma0: stalled: no RX progress for 500 ms at RX buffer 1472", "Timeout or stall")]
    [TestCase("broken", "LitePcie.Hil.Devices.DeviceBusyException : 0000:01:00.0: another client holds the device", "Device or driver error")]
    [TestCase("skipped", "OneTimeSetUp: no board to test: the Linux backend is not built into this test run", "Board or capability missing")]
    [TestCase("skipped", "sim-kcu105-noloop has no DMA loopback (layout guard); loopback tests need it", "Board or capability missing")]
    public void The_projects_categories_classify_real_messages(string status, string message, string category)
    {
        var categories = AllureRunFiles.ParseCategories(File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "reports", "categories.json")), "reports/categories.json");
        // First match wins, as in Allure; a regex must match the whole message (Allure 2) — which also matches as a search (Allure 3).
        var match = categories.FirstOrDefault(c => c.MatchedStatuses.Contains(status) && c.MessageRegex is { } r && Regex.IsMatch(message, $"^(?:{r})$"));
        match.Should().NotBeNull($"a {status} result with message '{message}' is classified");
        match!.Name.Should().Be(category);
    }

    [Test]
    public void The_categories_file_is_shipped_to_every_results_directory()
    {
        string shipped = Path.Combine(AppContext.BaseDirectory, "allure", "categories.json");
        File.ReadAllText(shipped).Should().Be(File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "reports", "categories.json")),
            "the fixtures copy reports/categories.json next to the suites, and the hook writes it into allure-results");
    }
}
