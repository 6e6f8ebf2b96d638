namespace LitePcie.Hil;

/// <summary>
/// A LitePCIe DMA engine direction, named as the gateware names them. The numeric values are the
/// <c>dir</c> argument of the dext method table and the index order of the status page.
/// </summary>
public enum DmaDirection
{
    /// <summary>The DMA writer: FPGA → host memory (the host's RX; <c>pcie_dmaN_writer_*</c>).</summary>
    Writer = 0,

    /// <summary>The DMA reader: host memory → FPGA (the host's TX; <c>pcie_dmaN_reader_*</c>).</summary>
    Reader = 1,
}

/// <summary>Helpers for <see cref="DmaDirection"/>.</summary>
public static class DmaDirectionExtensions
{
    /// <summary>Both directions, writer first.</summary>
    public static IReadOnlyList<DmaDirection> All { get; } = [DmaDirection.Writer, DmaDirection.Reader];

    /// <summary>The gateware name: <c>writer</c> or <c>reader</c>.</summary>
    public static string RegisterPrefix(this DmaDirection direction) =>
        direction == DmaDirection.Writer ? "writer" : "reader";

    /// <summary>The other direction.</summary>
    public static DmaDirection Opposite(this DmaDirection direction) =>
        direction == DmaDirection.Writer ? DmaDirection.Reader : DmaDirection.Writer;

    /// <summary>A human description including the data direction.</summary>
    public static string Describe(this DmaDirection direction) =>
        direction == DmaDirection.Writer ? "writer (FPGA→host)" : "reader (host→FPGA)";
}
