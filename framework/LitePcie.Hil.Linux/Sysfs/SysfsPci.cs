using System.Globalization;
using LitePcie.Hil.Pci;

namespace LitePcie.Hil.Linux.Sysfs;

/// <summary>Where the Linux backend looks (overridable so tests can build a tree of their own).</summary>
/// <param name="Sys">sysfs mount (<c>/sys</c>).</param>
/// <param name="Dev">device nodes (<c>/dev</c>).</param>
/// <param name="Proc">procfs (<c>/proc</c>).</param>
/// <param name="Lib">where kernel modules are installed (<c>/lib</c>, holding <c>modules/&lt;release&gt;/</c>).</param>
public sealed record LinuxPaths(string Sys = "/sys", string Dev = "/dev", string Proc = "/proc", string Lib = "/lib")
{
    /// <summary>The real system.</summary>
    public static LinuxPaths System { get; } = new();

    /// <summary><c>/sys/bus/pci/devices</c>.</summary>
    public string PciDevices => Path.Combine(Sys, "bus", "pci", "devices");
}

/// <summary>One line of sysfs <c>resource</c>: a BAR's range and kernel resource flags.</summary>
public sealed record SysfsBar(int Index, ulong Start, ulong End, ulong Flags)
{
    private const ulong IoResourceIo = 0x100, IoResourceMem = 0x200, IoResourcePrefetch = 0x2000, IoResourceMem64 = 0x100000;

    /// <summary>Bytes the BAR decodes.</summary>
    public ulong Size => End >= Start && (Start != 0 || End != 0) ? End - Start + 1 : 0;

    /// <summary>A memory BAR (IORESOURCE_MEM).</summary>
    public bool IsMemory => (Flags & IoResourceMem) != 0;

    /// <summary>An I/O BAR (IORESOURCE_IO).</summary>
    public bool IsIo => (Flags & IoResourceIo) != 0;

    /// <summary>A 64-bit memory BAR (IORESOURCE_MEM_64).</summary>
    public bool Is64Bit => (Flags & IoResourceMem64) != 0;

    /// <summary>A prefetchable memory BAR (IORESOURCE_PREFETCH).</summary>
    public bool Prefetchable => (Flags & IoResourcePrefetch) != 0;

    /// <summary>The framework's BAR kind.</summary>
    public PciBarKind Kind => IsIo ? PciBarKind.Io : Is64Bit ? PciBarKind.Memory64 : PciBarKind.Memory32;
}

/// <summary>A negotiated or maximum link as sysfs states it.</summary>
public sealed record SysfsLink(PciLinkSpeed Speed, int Width, string Raw);

/// <summary>What sysfs says about one PCI function.</summary>
public sealed record SysfsPciFunction(
    string Address,
    ushort VendorId,
    ushort DeviceId,
    uint ClassCode,
    byte Revision,
    ushort SubsystemVendorId,
    ushort SubsystemId,
    IReadOnlyList<SysfsBar> Bars,
    PciConfigSpace? Config,
    string? ConfigProblem,
    SysfsLink? CurrentLink,
    SysfsLink? MaxLink,
    string? Driver,
    IReadOnlyList<int> MsiIrqs,
    int NumaNode,
    int Irq)
{
    /// <summary>Implemented BARs (size above zero).</summary>
    public IEnumerable<SysfsBar> ImplementedBars => Bars.Where(b => b.Size > 0);
}

/// <summary>
/// Reads PCI functions from sysfs (read-only: this class never writes). Config space comes from the
/// <c>config</c> file and is parsed by the framework's parser with BAR sizes taken from <c>resource</c>;
/// an unprivileged reader gets only the 64-byte header, which is reported, not guessed around.
/// </summary>
public sealed class SysfsPci(LinuxPaths? paths = null)
{
    private readonly LinuxPaths _paths = paths ?? LinuxPaths.System;

    /// <summary>Every function under <c>/sys/bus/pci/devices</c>, by address.</summary>
    public IReadOnlyList<SysfsPciFunction> Enumerate() =>
        Directory.Exists(_paths.PciDevices)
            ? [.. Directory.EnumerateFileSystemEntries(_paths.PciDevices).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).Select(Read)]
            : [];

    /// <summary>The directory of a function.</summary>
    public string DirectoryOf(string address) => Path.Combine(_paths.PciDevices, address);

    /// <summary>Reads one function (<c>dddd:bb:dd.f</c>).</summary>
    public SysfsPciFunction Read(string address)
    {
        string dir = DirectoryOf(address);
        if (!Directory.Exists(dir))
        {
            throw new DirectoryNotFoundException($"{dir}: no such PCI function in sysfs");
        }

        var bars = ReadBars(dir);
        var (config, problem) = ReadConfig(dir, address, bars);
        return new SysfsPciFunction(
            address,
            (ushort)Hex(dir, "vendor"),
            (ushort)Hex(dir, "device"),
            (uint)Hex(dir, "class"),
            (byte)(TryText(dir, "revision") is { } rev ? Parse(rev, dir, "revision") : config?.Revision ?? 0),
            (ushort)(TryText(dir, "subsystem_vendor") is { } sv ? Parse(sv, dir, "subsystem_vendor") : 0),
            (ushort)(TryText(dir, "subsystem_device") is { } sd ? Parse(sd, dir, "subsystem_device") : 0),
            bars,
            config,
            problem,
            Link(dir, "current"),
            Link(dir, "max"),
            DriverOf(dir),
            MsiIrqs(dir),
            int.TryParse(TryText(dir, "numa_node"), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int numa) ? numa : -1,
            int.TryParse(TryText(dir, "irq"), NumberStyles.None, CultureInfo.InvariantCulture, out int irq) ? irq : 0);
    }

    /// <summary>Parses a <c>resource</c> file: one "start end flags" line per BAR (then ROM and bridge windows).</summary>
    public static IReadOnlyList<SysfsBar> ParseResource(string text, string source)
    {
        var bars = new List<SysfsBar>();
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        for (int i = 0; i < Math.Min(6, lines.Length); i++)
        {
            var f = lines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length != 3)
            {
                throw new FormatException($"{source} line {i + 1} '{lines[i]}': expected 'start end flags' in hex");
            }

            bars.Add(new SysfsBar(i, Parse(f[0], source, "start"), Parse(f[1], source, "end"), Parse(f[2], source, "flags")));
        }

        return bars;
    }

    /// <summary>Parses <c>current_link_speed</c> text such as <c>8.0 GT/s PCIe</c>.</summary>
    public static PciLinkSpeed ParseSpeed(string text) => text.Trim() switch
    {
        var t when t.StartsWith("2.5 GT/s", StringComparison.Ordinal) => PciLinkSpeed.Gen1,
        var t when t.StartsWith("5.0 GT/s", StringComparison.Ordinal) || t.StartsWith("5 GT/s", StringComparison.Ordinal) => PciLinkSpeed.Gen2,
        var t when t.StartsWith("8.0 GT/s", StringComparison.Ordinal) || t.StartsWith("8 GT/s", StringComparison.Ordinal) => PciLinkSpeed.Gen3,
        var t when t.StartsWith("16.0 GT/s", StringComparison.Ordinal) || t.StartsWith("16 GT/s", StringComparison.Ordinal) => PciLinkSpeed.Gen4,
        var t when t.StartsWith("32.0 GT/s", StringComparison.Ordinal) || t.StartsWith("32 GT/s", StringComparison.Ordinal) => PciLinkSpeed.Gen5,
        var t when t.StartsWith("64.0 GT/s", StringComparison.Ordinal) || t.StartsWith("64 GT/s", StringComparison.Ordinal) => PciLinkSpeed.Gen6,
        _ => PciLinkSpeed.Unknown,
    };

    /// <summary>
    /// BAR sizing masks equivalent to what writing all-ones to each BAR register would read back, built from the
    /// sizes sysfs reports, so the config-space parser can state BAR sizes without touching the device.
    /// </summary>
    public static uint[] SizingMasks(IReadOnlyList<SysfsBar> bars, ReadOnlySpan<byte> header)
    {
        var masks = new uint[6];
        for (int i = 0; i < Math.Min(6, bars.Count); i++)
        {
            var b = bars[i];
            if (b.Size == 0)
            {
                continue;
            }

            uint low = BitConverter.ToUInt32(header[(0x10 + i * 4)..]);
            ulong mask = ~(b.Size - 1);
            masks[i] = b.IsIo ? ((uint)mask & 0xFFFF_FFFCu) | (low & 0x3u) : ((uint)mask & 0xFFFF_FFF0u) | (low & 0xFu);
            if (b.Is64Bit && i + 1 < 6)
            {
                masks[i + 1] = (uint)(mask >> 32);
            }
        }

        return masks;
    }

    private static List<SysfsBar> ReadBars(string dir) =>
        TryText(dir, "resource") is { } text ? [.. ParseResource(text, Path.Combine(dir, "resource"))] : [];

    private static (PciConfigSpace?, string?) ReadConfig(string dir, string address, IReadOnlyList<SysfsBar> bars)
    {
        string path = Path.Combine(dir, "config");
        byte[] image;
        try
        {
            image = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return (null, $"{path}: {e.Message}");
        }

        if (image.Length is not (256 or 4096))
        {
            return (null, image.Length == 64
                ? $"{path}: only the 64-byte header is readable without root; capabilities need root (CAP_SYS_ADMIN)"
                : $"{path}: {image.Length} bytes (expected 256 or 4096)");
        }

        try
        {
            return (PciConfigSpace.Parse(image, SizingMasks(bars, image), address), null);
        }
        catch (PciConfigSpaceException e)
        {
            return (null, e.Message);
        }
    }

    private static SysfsLink? Link(string dir, string which)
    {
        var speed = TryText(dir, $"{which}_link_speed");
        var width = TryText(dir, $"{which}_link_width");
        if (speed is null || width is null)
        {
            return null;
        }

        return new SysfsLink(ParseSpeed(speed), int.TryParse(width, NumberStyles.None, CultureInfo.InvariantCulture, out int w) ? w : 0, $"{speed} x{width}");
    }

    private static string? DriverOf(string dir)
    {
        var info = new FileInfo(Path.Combine(dir, "driver"));
        return info.LinkTarget is { } target ? Path.GetFileName(target) : null;
    }

    private static List<int> MsiIrqs(string dir)
    {
        string msi = Path.Combine(dir, "msi_irqs");
        return Directory.Exists(msi)
            ? [.. Directory.EnumerateFileSystemEntries(msi).Select(Path.GetFileName)
                .Select(n => int.TryParse(n, NumberStyles.None, CultureInfo.InvariantCulture, out int v) ? v : -1).Where(v => v >= 0).Order()]
            : [];
    }

    private static ulong Hex(string dir, string file) =>
        TryText(dir, file) is { } t ? Parse(t, dir, file) : throw new FormatException($"{Path.Combine(dir, file)}: missing");

    private static ulong Parse(string text, string dir, string field)
    {
        string t = text.Trim();
        if (t.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            t = t[2..];
        }

        return ulong.TryParse(t, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong v)
            ? v
            : throw new FormatException($"{Path.Combine(dir, field)}: '{text.Trim()}' is not a hex number");
    }

    private static string? TryText(string dir, string file)
    {
        try
        {
            return File.ReadAllText(Path.Combine(dir, file)).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
