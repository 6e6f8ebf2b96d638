namespace LitePcie.Hil.Pci;

/// <summary>
/// A configuration-space image is malformed: wrong size, unsupported header, a broken capability chain, a
/// capability that does not fit, or BAR sizing masks that do not match the header.
/// </summary>
public sealed class PciConfigSpaceException : FormatException
{
    /// <summary>A malformed configuration space, without details.</summary>
    public PciConfigSpaceException()
        : this(null, null, "malformed configuration space")
    {
    }

    /// <summary>A malformed configuration space; <paramref name="message"/> says what is wrong and where.</summary>
    public PciConfigSpaceException(string message)
        : base(message)
    {
        Problem = message;
    }

    /// <summary>A malformed configuration space found while handling <paramref name="innerException"/>.</summary>
    public PciConfigSpaceException(string message, Exception innerException)
        : base(message, innerException)
    {
        Problem = message;
    }

    /// <param name="imageSource">Where the image came from (e.g. a BDF such as "0000:01:00.0"), or null.</param>
    /// <param name="offset">Config-space offset at which the problem was found, or null when it is not tied to one.</param>
    /// <param name="problem">What is wrong, in register terms; includes the offset in hex when there is one.</param>
    public PciConfigSpaceException(string? imageSource, int? offset, string problem)
        : base(FormatMessage(imageSource, problem))
    {
        ImageSource = imageSource;
        Offset = offset;
        Problem = problem;
    }

    /// <summary>Where the image came from, as passed to <see cref="PciConfigSpace.Parse"/>.</summary>
    public string? ImageSource { get; }

    /// <summary>Config-space offset at which the problem was found, if any.</summary>
    public int? Offset { get; }

    /// <summary>The problem without the source prefix.</summary>
    public string Problem { get; }

    private static string FormatMessage(string? imageSource, string problem) =>
        imageSource is null ? $"config space: {problem}" : $"config space of {imageSource}: {problem}";
}
