namespace LitePcie.Hil.Csr;

/// <summary>
/// A LiteX CSR map (csr.json / csr.csv) that cannot be used: malformed, incomplete, or incompatible with
/// the LitePCIe driver model. The message names the file, the entry and the problem.
/// </summary>
public sealed class CsrMapException : Exception
{
    /// <summary>A problem in <paramref name="source"/> (a csr.json or csr.csv path) at <paramref name="entry"/> (null: the file as a whole).</summary>
    public CsrMapException(string source, string? entry, string problem, Exception? inner = null)
        : base(Format(source, entry, problem), inner)
    {
        Source = source;
        Entry = entry;
        Problem = problem;
    }

    /// <summary>File (or logical source name) the map came from.</summary>
    public new string Source { get; }

    /// <summary>The offending entry (register, constant, line), if any.</summary>
    public string? Entry { get; }

    /// <summary>What is wrong, in one sentence.</summary>
    public string Problem { get; }

    private static string Format(string source, string? entry, string problem) =>
        entry is null ? $"{source}: {problem}" : $"{source}: {entry}: {problem}";
}
