using FluentAssertions;

namespace LitePcie.Hil.Tests.Support;

/// <summary>The device suites' assembly, built beside this test assembly (same configuration), for child test runs.</summary>
internal static class SuitesAssembly
{
    /// <summary>Path of LitePcie.Hil.Suites.dll.</summary>
    public static string Path
    {
        get
        {
            string dir = AppContext.BaseDirectory.Replace(
                System.IO.Path.Combine("framework", "tests", "LitePcie.Hil.Tests"), System.IO.Path.Combine("suites", "LitePcie.Hil.Suites"), StringComparison.Ordinal);
            string dll = System.IO.Path.Combine(dir, "LitePcie.Hil.Suites.dll");
            File.Exists(dll).Should().BeTrue($"the suites assembly is built beside this one ({dll})");
            return dll;
        }
    }
}
