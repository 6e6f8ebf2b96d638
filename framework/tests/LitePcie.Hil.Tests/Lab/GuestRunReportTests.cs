using FluentAssertions;
using System.Text.Json.Nodes;
using LitePcie.Hil.Lab;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Lab;

/// <summary>How a guest run becomes Allure results and the last line of run.sh.</summary>
[TestFixture]
public sealed class GuestRunReportTests
{
    private string _root = null!;

    [SetUp]
    public void SetUp() => _root = Directory.CreateTempSubdirectory("guest-report-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_root, recursive: true);

    private string Boot(string variant, string qemuExit = "0", bool finished = true, string steps = "checks\t0\t30\nkernel-log\t0\t10\n",
        string guestStatus = "passed", int protocolErrors = 0, string uuid = "aaaa")
    {
        string dir = Path.Combine(_root, "run", variant);
        string outDir = Path.Combine(dir, "run", "out");
        Directory.CreateDirectory(Path.Combine(outDir, "allure-results"));
        File.WriteAllText(Path.Combine(dir, "boot.status"), $"qemu_exit={qemuExit}\ntimed_out=0\nserver_exit=0\nseconds=60\n");
        File.WriteAllText(Path.Combine(outDir, "guest.status"), finished ? "started 1\nfinished 2\n" : "started 1\n");
        File.WriteAllText(Path.Combine(outDir, "steps.tsv"), steps);
        File.WriteAllText(Path.Combine(dir, "device-server.json"), $$"""
            {"deviceServed": true, "mmioReads": 10, "mmioWrites": 5, "msiSent": 3, "writerBytes": 1048576, "readerBytes": 1048576,
             "bitsFlipped": 0, "dmaFaults": 0, "firstDmaFaults": [], "protocolErrors": [{{(protocolErrors > 0 ? "\"MMIO_READ.size: 3: accepted 1, 2 or 4\"" : "")}}]}
            """);
        File.WriteAllText(Path.Combine(outDir, "allure-results", $"{uuid}-result.json"), $$"""
            {"uuid":"{{uuid}}","historyId":"h","fullName":"G:T.Dma()","name":"Dma","status":"{{guestStatus}}","labels":[{"name":"parentSuite","value":"x"}],"parameters":[]}
            """);
        return dir;
    }

    [Test]
    public void ACleanRun_CountsGuestResultsAndHostChecks()
    {
        Boot("upstream");
        File.WriteAllText(Path.Combine(_root, "run", "upstream", "run", "out", "known-issues.tsv"), "litepcie-c52a6fe-bad-page-map\t60\tBad page map\tupstream c52a6fe\n");
        Boot("patched", uuid: "bbbb");
        var output = new StringWriter();
        string allure = Path.Combine(_root, "allure");
        var counts = new GuestRunReport(Path.Combine(_root, "run"), allure, output).Write("sim-ac701-2ch", null);

        // Per boot: 1 guest result + boot + 2 steps + device server.
        counts.Should().Be(new GuestRunCounts(10, 0, 0));
        output.ToString().Should().Contain("upstream: known issue litepcie-c52a6fe-bad-page-map (60 kernel log lines)")
            .And.EndWith("linux-guest: 10 passed, 0 failed, 0 skipped" + Environment.NewLine);
        var upstream = JsonNode.Parse(File.ReadAllText(Path.Combine(allure, "aaaa-result.json")))!;
        var patched = JsonNode.Parse(File.ReadAllText(Path.Combine(allure, "bbbb-result.json")))!;
        upstream["parameters"]!.AsArray().Select(p => p!["value"]!.GetValue<string>()).Should().Equal("upstream");
        patched["parameters"]!.AsArray().Select(p => p!["value"]!.GetValue<string>()).Should().Equal("patched");
        upstream["historyId"]!.GetValue<string>().Should().NotBe(patched["historyId"]!.GetValue<string>(), "two boots of one test are two histories, not retries");
        Directory.GetFiles(allure, "*-result.json").Should().HaveCount(10, "2 guest results and 8 host checks");
    }

    [Test]
    public void EveryKindOfBootFailure_IsAFailedCheckWithItsReason()
    {
        Boot("upstream", qemuExit: "1", finished: false, steps: "checks\t134\t5\nkernel-log\t8\t3\n", guestStatus: "failed", protocolErrors: 1);
        File.WriteAllText(Path.Combine(_root, "run", "upstream", "console.log"), "[   50.436080] kernel BUG at lib/list_debug.c:59!\n[   50.5] Kernel panic - not syncing: Fatal exception\n");
        var output = new StringWriter();
        var counts = new GuestRunReport(Path.Combine(_root, "run"), Path.Combine(_root, "allure"), output).Write("sim-ac701-2ch", null);
        counts.Should().Be(new GuestRunCounts(0, 5, 0));
        string text = output.ToString();
        text.Should().Contain("QEMU exited with 1 (0 = the guest powered off); console: [   50.436080] kernel BUG at lib/list_debug.c:59!").And.Contain("exited with 134").And.Contain("ran no test (Microsoft.Testing.Platform exit 8)")
            .And.Contain("1 protocol error(s), first: MMIO_READ.size");
    }

    [Test]
    public void EachStepSaysWhatItRan_AndAStepThatRanNothingFails()
    {
        string dir = Boot("upstream", steps: "checks\t0\t30\nplan1-LitePcie.Hil.Suites\t0\t200\nkernel-log\t0\t10\n");
        string outDir = Path.Combine(dir, "run", "out");
        File.WriteAllText(Path.Combine(outDir, "step-checks.log"), "Test run summary: Passed! - /hil/publish/x.dll (net10.0|x64)\n  total: 13\n  failed: 0\n  succeeded: 13\n  skipped: 0\n  duration: 2m 3s\n");
        File.WriteAllText(Path.Combine(outDir, "step-plan1-LitePcie.Hil.Suites.log"), "Test run summary: Zero tests ran - /hil/publish/s.dll\n  total: 0\n  failed: 0\n  succeeded: 0\n  skipped: 0\n");
        var output = new StringWriter();
        var counts = new GuestRunReport(Path.Combine(_root, "run"), Path.Combine(_root, "allure"), output).Write("sim-ac701-2ch", null);
        string text = output.ToString();
        text.Should().Contain("linux-guest: upstream: step checks: 13 passed, 0 failed, 0 skipped in 30 s")
            .And.Contain("FAILED upstream: guest step plan1-LitePcie.Hil.Suites (upstream litepcie.ko) ran 0 passed, 0 failed, 0 skipped in 200 s: the step ran no test (its summary says total: 0)");
        counts.Failed.Should().Be(1, "exit 0 with nothing run is not a pass");
    }

    [Test]
    public void ASkipNamesItsReason_OrCountsAsAFailure()
    {
        string dir = Boot("upstream", guestStatus: "skipped");
        string results = Path.Combine(dir, "run", "out", "allure-results");
        File.WriteAllText(Path.Combine(results, "cccc-result.json"), """
            {"uuid":"cccc","historyId":"h2","fullName":"S:Msi.Masked()","name":"Masked","status":"skipped","statusDetails":{"message":"litepcie.ko cannot keep an engine's interrupt masked"},"labels":[],"parameters":[]}
            """);
        var output = new StringWriter();
        var counts = new GuestRunReport(Path.Combine(_root, "run"), Path.Combine(_root, "allure"), output).Write("sim-ac701-2ch", null);
        counts.Should().Be(new GuestRunCounts(4, 1, 1), "the host checks pass; the skip with a reason is a skip; the one without (G:T.Dma) fails");
        output.ToString().Should().Contain("linux-guest: skipped upstream: S:Msi.Masked(): litepcie.ko cannot keep an engine's interrupt masked")
            .And.Contain("FAILED upstream: G:T.Dma(): skipped without naming its reason");
    }

    [Test]
    public void NoBootAtAll_IsAFailureNotAnEmptyPass()
    {
        var output = new StringWriter();
        new GuestRunReport(Path.Combine(_root, "missing"), Path.Combine(_root, "allure"), output).Write("b", null)
            .Should().Be(new GuestRunCounts(0, 1, 0));
    }
}
