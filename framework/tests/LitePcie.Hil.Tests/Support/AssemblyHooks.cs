using LitePcie.Hil.Fixtures;

// The skip audit of this assembly (TestResults/skip-audit/): CI fails on a skip .ci/expected-skips.txt does not list.
[assembly: SkipAudit]
