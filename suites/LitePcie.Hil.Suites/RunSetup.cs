using LitePcie.Hil.Fixtures;
using LitePcie.Hil.Fixtures.Allure;
using NUnit.Framework;

[assembly: Parallelizable(ParallelScope.Fixtures)]
[assembly: AllureHook]
[assembly: SkipAudit] // CI fails on a skip .ci/expected-skips.txt does not list (TestResults/skip-audit/)
[assembly: RunSettingsGuard]

namespace LitePcie.Hil.Suites;

/// <summary>Run-wide setup of the suites: the backend lives for the whole run and is disposed at its end.</summary>
[SetUpFixture]
public sealed class RunSetup
{
    [OneTimeTearDown]
    public async Task ShutdownAsync() => await HilRun.ShutdownAsync();
}
