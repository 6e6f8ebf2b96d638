using LitePcie.Hil.Fixtures;

// CI fails on a skip .ci/expected-skips.txt does not list (TestResults/skip-audit/LitePcie.Hil.Linux.Tests.txt).
[assembly: SkipAudit]

#if LITEPCIE_GUEST
// In the Linux guest (published with -p:LitePcieGuestRunner=true): one Allure result per test, collected by run.sh.
[assembly: LitePcie.Hil.Fixtures.Allure.AllureHook]
#endif
