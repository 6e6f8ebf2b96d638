using LitePcie.Hil.Boards;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Support;

/// <summary>Locations the tests read from.</summary>
internal static class TestPaths
{
    /// <summary>The repository root (the directory holding LitePcie.Hil.sln).</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary><c>fixtures/boards</c> in the repository.</summary>
    public static string Boards => Path.Combine(RepoRoot, "fixtures", "boards");

    /// <summary>
    /// The real LiteX-generated maps beside the project (<c>../shared/boards/ac701-2ch</c>). Skips the calling
    /// test with the reason when they are absent (the project must not commit them).
    /// </summary>
    public static string RequireSharedBoard(string name = "ac701-2ch")
    {
        string dir = Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "boards", name));
        if (!Directory.Exists(dir))
        {
            Unavailable($"real LiteX output not available: {dir} does not exist (the shared board files sit beside the project root and are not committed)");
        }

        return dir;
    }

    /// <summary>Skips the calling test when a built-in board's map is in the absent shared tree (fails under CI).</summary>
    public static void RequireAvailable(string board)
    {
        try
        {
            BoardCatalog.Load(board);
        }
        catch (BoardMapUnavailableException e)
        {
            Unavailable($"board {board}: {e.Reason}");
        }
    }

    /// <summary>A skip with the reason; under CI (LITEPCIE_HIL_CI=1), where ../shared is provided, a failure.</summary>
    private static void Unavailable(string reason)
    {
        if (Environment.GetEnvironmentVariable("LITEPCIE_HIL_CI") == "1")
        {
            Assert.Fail($"{reason}; CI provides ../shared beside the project root (LITEPCIE_HIL_CI=1), so this is a failure, not a skip");
        }

        Assert.Ignore(reason);
    }

    private static string FindRepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "LitePcie.Hil.sln")))
            {
                return d.FullName;
            }
        }

        throw new InvalidOperationException($"LitePcie.Hil.sln not found above {AppContext.BaseDirectory}");
    }
}
