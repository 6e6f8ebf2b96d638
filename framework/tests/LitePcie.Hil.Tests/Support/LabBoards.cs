using LitePcie.Hil.Boards;

namespace LitePcie.Hil.Tests.Support;

/// <summary>
/// A board profile as a lab keeps it: a copy of a simulated board's profile and csr.json outside the built-in
/// boards, under its own name (the lab backends refuse the simulated profiles themselves).
/// </summary>
internal static class LabBoards
{
    private static readonly Lazy<string> s_ac701 = new(() => Copy(BoardCatalog.DefaultBoard, "lab-ac701"));

    /// <summary>Path of the lab profile of the AC701 design.</summary>
    public static string Ac701 => s_ac701.Value;

    private static string Copy(string simulated, string name)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"litepcie-lab-{Environment.ProcessId}", name);
        Directory.CreateDirectory(dir);
        string source = Path.Combine(TestPaths.Boards, simulated);
        File.Copy(Path.Combine(source, "csr.json"), Path.Combine(dir, "csr.json"), overwrite: true);
        string profile = File.ReadAllText(Path.Combine(source, "profile.json")).Replace($"\"name\": \"{simulated}\"", $"\"name\": \"{name}\"", StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(dir, "profile.json"), profile);
        return Path.Combine(dir, "profile.json");
    }
}
