using NUnit.Framework;

namespace LitePcie.Hil.Tests.Support;

/// <summary>
/// What the tests that use the real LitePCIe RTL need: the pinned vendor trees beside the project, Debian's python3
/// with python3-yaml and python3-packaging (to elaborate), the Verilator engine libraries (to simulate). A missing
/// piece skips the test with the reason; under CI (<c>LITEPCIE_HIL_CI=1</c>, where .ci/run installed them) it fails.
/// </summary>
internal static class RtlTools
{
    public sealed record Generator(string Python, string Vendor);

    /// <summary>The generator's prerequisites, or the calling test is skipped (failed under CI) with the reason.</summary>
    public static Generator RequireGenerator()
    {
        string vendor = Path.GetFullPath(Path.Combine(TestPaths.RepoRoot, "..", "shared", "vendor"));
        if (!Directory.Exists(Path.Combine(vendor, "litepcie")) || !Directory.Exists(Path.Combine(vendor, "litex")) || !Directory.Exists(Path.Combine(vendor, "migen")))
        {
            Unavailable($"the pinned vendor trees are not at {vendor} (../shared/vendor beside the project root)");
        }

        string python = File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
        ProcessResult probe;
        try
        {
            probe = ProcessRunner.Run(python, ["-c", "import yaml, packaging"], TimeSpan.FromSeconds(30));
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            Unavailable($"{python} cannot be started ({e.Message}); .ci/run installs Debian's python3");
            throw;
        }

        if (probe.ExitCode != 0)
        {
            Unavailable($"{python} lacks python3-yaml or python3-packaging (LiteX imports them); .ci/run installs them: {probe.Stderr.Trim()}");
        }

        return new Generator(python, vendor);
    }

    /// <summary>Skips the calling test with <paramref name="why"/>, or fails it under CI.</summary>
    public static void Unavailable(string why)
    {
        if (Environment.GetEnvironmentVariable("LITEPCIE_HIL_CI") == "1")
        {
            Assert.Fail($"{why} (LITEPCIE_HIL_CI=1: CI installs what the RTL tests need, so this is a failure)");
        }

        Assert.Ignore(why);
    }
}
