using System.Text.Json;
using System.Xml.Linq;
using FluentAssertions;
using LitePcie.Hil.Tests.Support;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Reporting;

/// <summary>
/// A suites run with invalid TestRunParameters, the way a user types them after <c>dotnet test --</c> (a misspelt
/// name, a ';'-separated list): the problems are reported once — one failed test in the run, one broken result in
/// the Allure results — with the nearest name and the mangled separator explained, and no stack trace; every other
/// test says it did not run and why.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class InvalidRunSettingsTests
{
    private string _work = "";
    private List<(string Name, string Outcome, string Message, string StackTrace)> _trx = [];
    private List<JsonElement> _results = [];

    [OneTimeSetUp]
    public void RunSuitesWithBadParameters()
    {
        string dll = SuitesAssembly.Path;
        _work = Path.Combine(Path.GetTempPath(), $"litepcie-badsettings-{Guid.NewGuid():N}");
        string results = Path.Combine(_work, "allure-results");
        var run = ProcessRunner.Run("dotnet",
            [
                "test", dll, "--settings", Path.Combine(TestPaths.RepoRoot, "runsettings", "sim.runsettings"), "--filter", "Category=Bar|Category=Enumeration",
                "--logger", "trx;LogFileName=run.trx", "--results-directory", Path.Combine(_work, "trx"), "--",
                $"TestRunParameters.Parameter(name=\"AllureResultsDirectory\", value=\"{results}\")",
                "TestRunParameters.Parameter(name=\"DmaMinGbs\", value=\"2\")",
                // What `dotnet test LitePcie.Hil.sln -- …value="scratch-stuck-bit=3;seed=7"…` delivers: the solution's
                // arguments pass through an MSBuild property that turns ';' into a space (given to the dll directly, ';' survives).
                "TestRunParameters.Parameter(name=\"SimFaults\", value=\"scratch-stuck-bit=3 seed=7\")",
            ],
            TimeSpan.FromMinutes(3), TestPaths.RepoRoot, new Dictionary<string, string?> { ["LITEPCIE_HIL_CI"] = null, ["LITEPCIE_HIL_SKIP_AUDIT_DIR"] = Path.Combine(_work, "skip-audit") });
        run.ExitCode.Should().NotBe(0, "a run with invalid parameters must fail\n" + run.Output);
        var ns = XNamespace.Get("http://microsoft.com/schemas/VisualStudio/TeamTest/2010");
        _trx = [.. XDocument.Load(Path.Combine(_work, "trx", "run.trx")).Descendants(ns + "UnitTestResult").Select(r => (
            (string)r.Attribute("testName")!,
            (string)r.Attribute("outcome")!,
            (string?)r.Descendants(ns + "Message").FirstOrDefault() ?? "",
            (string?)r.Descendants(ns + "StackTrace").FirstOrDefault() ?? ""))];
        _results = [.. Directory.GetFiles(results, "*-result.json").Select(f => JsonDocument.Parse(File.ReadAllText(f)).RootElement.Clone())];
    }

    [OneTimeTearDown]
    public void RemoveWork()
    {
        if (Directory.Exists(_work) && TestContext.CurrentContext.Result.FailCount == 0)
        {
            Directory.Delete(_work, recursive: true);
        }
    }

    [Test]
    public void The_run_has_one_failure_listing_every_problem_without_a_stack_trace()
    {
        _trx.Should().HaveCountGreaterThan(10, "the Bar and Enumeration suites were selected");
        var failed = _trx.Where(t => t.Outcome == "Failed").Should().ContainSingle("the problems are reported once, not by every test").Subject;
        failed.Message.Should().Contain("invalid TestRunParameters (2 problems)")
            .And.Contain("DmaMinGbs: unknown parameter (did you mean DmaMinGbps?)")
            .And.Contain("SimFaults = 'scratch-stuck-bit=3 seed=7': its entries are separated by spaces")
            .And.Contain("Write 'scratch-stuck-bit=3,seed=7'");
        failed.StackTrace.Trim().Should().BeEmpty("a configuration error is not a place in the code");
        _trx.Where(t => t.Outcome != "Failed").Should().OnlyContain(t => t.Outcome == "NotExecuted" && t.Message.Contains("not run: the TestRunParameters of this run are invalid"));
    }

    [Test]
    public void The_allure_results_hold_one_broken_result_with_the_problems_and_every_test_as_not_run()
    {
        var broken = _results.Where(r => r.GetProperty("status").GetString() != "skipped").Should().ContainSingle().Subject;
        broken.GetProperty("name").GetString().Should().Be("TestRunParameters are invalid");
        broken.GetProperty("status").GetString().Should().Be("broken");
        broken.GetProperty("statusDetails").GetProperty("message").GetString().Should().Contain("did you mean DmaMinGbps?");
        broken.GetProperty("statusDetails").TryGetProperty("trace", out var trace).Should().BeFalse($"no stack trace ({trace})");

        var skipped = _results.Where(r => r.GetProperty("status").GetString() == "skipped").ToList();
        skipped.Should().HaveCount(_trx.Count, "every test of the run is in the report, as not run");
        skipped.Where(r => !r.GetProperty("statusDetails").GetProperty("message").GetString()!.StartsWith("not run: the TestRunParameters", StringComparison.Ordinal)
                           || r.GetProperty("statusDetails").TryGetProperty("trace", out var _))
            .Should().BeEmpty("each test says it did not run and why, without a trace");
    }
}
