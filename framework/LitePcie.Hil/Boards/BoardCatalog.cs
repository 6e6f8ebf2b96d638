namespace LitePcie.Hil.Boards;

/// <summary>
/// Finds board profiles by name or path: an existing file or directory path first, then the built-in
/// profiles copied next to the assemblies (<c>boards/&lt;name&gt;/profile.json</c>), then
/// <c>fixtures/boards</c> of the repository the assemblies were built from.
/// </summary>
public static class BoardCatalog
{
    /// <summary>The default simulated board.</summary>
    public const string DefaultBoard = "sim-ac701-2ch";

    /// <summary>Directories searched for built-in profiles, most specific first.</summary>
    public static IReadOnlyList<string> SearchDirectories()
    {
        var dirs = new List<string>();
        string local = Path.Combine(AppContext.BaseDirectory, "boards");
        if (Directory.Exists(local))
        {
            dirs.Add(local);
        }

        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, "fixtures", "boards");
            if (Directory.Exists(candidate))
            {
                dirs.Add(candidate);
                break;
            }
        }

        return dirs;
    }

    /// <summary>Names of the built-in profiles.</summary>
    public static IReadOnlyList<string> BuiltInNames() =>
        SearchDirectories()
            .SelectMany(d => Directory.EnumerateDirectories(d))
            .Where(d => File.Exists(Path.Combine(d, "profile.json")))
            .Select(Path.GetFileName)
            .OfType<string>()
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)
            .ToArray();

    /// <summary>Resolves a profile name or path and loads it.</summary>
    public static BoardProfile Load(string nameOrPath)
    {
        if (File.Exists(nameOrPath))
        {
            return BoardProfile.Load(nameOrPath);
        }

        if (Directory.Exists(nameOrPath) && File.Exists(Path.Combine(nameOrPath, "profile.json")))
        {
            return BoardProfile.Load(Path.Combine(nameOrPath, "profile.json"));
        }

        foreach (var dir in SearchDirectories())
        {
            string p = Path.Combine(dir, nameOrPath, "profile.json");
            if (File.Exists(p))
            {
                return BoardProfile.Load(p);
            }
        }

        throw new BoardProfileException(nameOrPath,
            [$"no profile file or directory '{nameOrPath}', and no built-in board of that name (built-in: {string.Join(", ", BuiltInNames())})"]);
    }
}
