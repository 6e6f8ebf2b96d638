using LitePcie.Hil.Options;

namespace LitePcie.Hil.DeviceServer;

/// <summary>
/// The device server's own options, declared once each (<see cref="OptionAttribute"/>: doc, range, default, flag) and
/// bound by <see cref="Binder"/>; what it shares with the runsettings and <c>litepcie-hil</c> (<c>--board</c>,
/// <c>--faults</c>, <c>--engine</c>, <c>--paced</c>) comes from <see cref="HilOptions.Binder"/>'s declarations instead.
/// </summary>
internal sealed record DeviceServerOptions
{
    /// <summary>The binder of the device server's own declarations.</summary>
    public static OptionBinder<DeviceServerOptions> Binder { get; } = new();

    /// <summary>Where QEMU's device meets the board, and what the server writes.</summary>
    public ServingOptions Serving { get; init; } = new();
}

/// <summary>The device server's socket, the pace of its board against an emulated guest, and the files it writes.</summary>
[OptionArea("Device server", "The socket QEMU's `litepcie-hil` device connects to, how the board is paced against a guest under TCG, and the files the server writes.")]
internal sealed record ServingOptions
{
    /// <summary>The unix socket QEMU's device connects to.</summary>
    [Option("Unix socket path QEMU's litepcie-hil device connects to", Accepted = "a path", Cli = "--socket")]
    public string Socket { get; init; } = "";

    /// <summary>Pace DMA to this many bytes per second per direction (0 = unpaced, or the link rate with <c>--paced</c>).</summary>
    [Option("Pace DMA to this many bytes/s per direction (e.g. 32MiB): a guest under TCG runs far slower than real time, the board must too",
        Min = 1L << 20, Max = 100L << 30, Off = "unpaced", Cli = "--dma-rate")]
    public long DmaRate { get; init; }

    /// <summary>Buffers a DMA engine may run ahead of what the guest's driver last read of it (0 = never wait).</summary>
    [Option("Buffers a DMA engine may run ahead of what the guest's driver last read of it (0 = the hardware's behaviour: never wait)",
        Min = 0, Max = 65536, Cli = "--lead")]
    public int Lead { get; init; }

    /// <summary>Seconds to wait for QEMU's device to connect.</summary>
    [Option("Seconds to wait for QEMU's device", Min = 1, Max = 86400, Cli = "--connect-timeout")]
    public int ConnectTimeout { get; init; } = 600;

    /// <summary>Where to write the JSON summary when the device disconnects (empty = nowhere).</summary>
    [Option("Write a JSON summary here when the device disconnects", Accepted = "a file path; empty = none", Cli = "--summary")]
    public string Summary { get; init; } = "";

    /// <summary>Where to write the board's QEMU pcie-root-port link properties before listening (empty = nowhere).</summary>
    [Option("Write the QEMU pcie-root-port link properties of the board (x-speed=…,x-width=…) to this file before listening",
        Accepted = "a file path; empty = none", Cli = "--root-port-file")]
    public string RootPortFile { get; init; } = "";
}
