using LitePcie.Hil.Fixtures;

// CI fails on a skip .ci/expected-skips.txt does not list (TestResults/skip-audit/LitePcie.Hil.Linux.Tests.txt).
[assembly: SkipAudit]
