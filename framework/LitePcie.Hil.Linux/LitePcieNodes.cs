using System.Globalization;
using System.Text.RegularExpressions;
using LitePcie.Hil.Linux.Sysfs;

namespace LitePcie.Hil.Linux;

/// <summary>One <c>/dev/litepcieN</c> node: its name, its path and its minor number.</summary>
public sealed record LitePcieNode(string Path, string Name, int Minor)
{
    /// <summary>The node's directory in sysfs (<c>/sys/class/litepcie/litepcieN</c>); it disappears when the driver removes the board.</summary>
    public string SysfsDirectory(LinuxPaths paths) => System.IO.Path.Combine(paths.Sys, "class", "litepcie", Name);
}

/// <summary>A PCI function bound to litepcie.ko and the channel nodes the driver created for it, channel order.</summary>
public sealed record LitePcieBinding(string PciAddress, IReadOnlyList<LitePcieNode> Nodes);

/// <summary>What discovery found: the bindings, and why any bound function or node was left out.</summary>
public sealed record LitePcieDiscovery(IReadOnlyList<LitePcieBinding> Bindings, IReadOnlyList<string> BoundFunctions, IReadOnlyList<LitePcieNode> Nodes, string? Problem);

/// <summary>
/// Finds the boards litepcie.ko drives, from the PCI side. The driver creates its nodes with no parent device
/// (<c>device_create(class, NULL, …)</c>): they live under <c>/sys/devices/virtual/litepcie/</c> with no link to the
/// PCI function, so the function is found through the driver's binding (<c>/sys/bus/pci/drivers/litepcie/&lt;bdf&gt;</c>)
/// and its nodes through minor order. The driver gives each probed board <c>DMA_CHANNELS</c> consecutive minors from a
/// counter that only grows (a re-probed board gets new, higher minors), so with boards probed in address order — as
/// at module load — board k owns the k-th block of nodes in minor order. One board pairs with its nodes whatever their
/// minors; several pair only while the minors are still 0..n−1 (nobody re-probed), otherwise discovery names the
/// problem instead of guessing. The backend confirms each pairing by reading the identifier ROM through the node
/// (LITEPCIE_IOCTL_REG) before it offers the board.
/// </summary>
public static partial class LitePcieNodes
{
    /// <summary>Every litepcie node, by minor: <c>/sys/class/litepcie/litepcieN</c> (its <c>dev</c> file gives the minor).</summary>
    public static IReadOnlyList<LitePcieNode> Find(LinuxPaths paths)
    {
        string cls = Path.Combine(paths.Sys, "class", "litepcie");
        if (!Directory.Exists(cls))
        {
            return [];
        }

        var nodes = new List<LitePcieNode>();
        foreach (var entry in Directory.EnumerateFileSystemEntries(cls))
        {
            string name = Path.GetFileName(entry);
            if (!name.StartsWith("litepcie", StringComparison.Ordinal) ||
                !int.TryParse(name.AsSpan("litepcie".Length), NumberStyles.None, CultureInfo.InvariantCulture, out int number))
            {
                continue;
            }

            nodes.Add(new LitePcieNode(Path.Combine(paths.Dev, name), name, MinorOf(entry) ?? number));
        }

        return [.. nodes.OrderBy(n => n.Minor)];
    }

    /// <summary>The functions bound to litepcie.ko (<c>/sys/bus/pci/drivers/litepcie/&lt;bdf&gt;</c>), in address order.</summary>
    public static IReadOnlyList<string> BoundFunctions(LinuxPaths paths)
    {
        string driver = DriverDirectory(paths);
        return Directory.Exists(driver)
            ? [.. Directory.EnumerateFileSystemEntries(driver).Select(Path.GetFileName).OfType<string>().Where(n => Bdf().IsMatch(n)).Order(StringComparer.Ordinal)]
            : [];
    }

    /// <summary><c>/sys/bus/pci/drivers/litepcie</c>.</summary>
    public static string DriverDirectory(LinuxPaths paths) => Path.Combine(paths.Sys, "bus", "pci", "drivers", "litepcie");

    /// <summary>The binding link of one function; it disappears when the driver lets go of the function.</summary>
    public static string BindingOf(LinuxPaths paths, string address) => Path.Combine(DriverDirectory(paths), address);

    /// <summary>
    /// Pairs bound functions with node blocks of <paramref name="channelsPerBoard"/> (the design's DMA channel count,
    /// which the driver was compiled with). A count that does not divide evenly is a problem named in the result,
    /// and no pairing is guessed.
    /// </summary>
    public static LitePcieDiscovery Discover(LinuxPaths paths, int channelsPerBoard)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(channelsPerBoard, 1);
        var functions = BoundFunctions(paths);
        var nodes = Find(paths);
        if (functions.Count == 0 || nodes.Count == 0)
        {
            return new LitePcieDiscovery([], functions, nodes, null);
        }

        if (nodes.Count != functions.Count * channelsPerBoard)
        {
            return new LitePcieDiscovery([], functions, nodes,
                $"{functions.Count} function(s) bound to litepcie ({string.Join(", ", functions)}) and {nodes.Count} node(s) ({string.Join(", ", nodes.Select(n => n.Name))}), " +
                $"but the CSR map has {channelsPerBoard} DMA channel(s) per board: the driver was built for another csr.h (DMA_CHANNELS), or a board failed its probe (dmesg)");
        }

        if (functions.Count > 1 && !nodes.Select(n => n.Minor).SequenceEqual(Enumerable.Range(0, nodes.Count)))
        {
            // Minors 0..n-1 mean every board was probed once, at module load, in bus order. Anything else means a board was
            // re-probed (remove/rescan, unbind/bind) and took the next minors: the order no longer says which block is whose.
            return new LitePcieDiscovery([], functions, nodes,
                $"{functions.Count} boards bound to litepcie ({string.Join(", ", functions)}) and nodes {string.Join(", ", nodes.Select(n => n.Name))}: " +
                "a board was probed again since the module was loaded, so minor order no longer pairs nodes with boards (the nodes have no parent " +
                "device to ask); reload the module (rmmod litepcie; insmod litepcie.ko) or keep one board per host");
        }

        var bindings = functions.Select((f, k) => new LitePcieBinding(f, [.. nodes.Skip(k * channelsPerBoard).Take(channelsPerBoard)])).ToList();
        return new LitePcieDiscovery(bindings, functions, nodes, null);
    }

    private static int? MinorOf(string classEntry)
    {
        try
        {
            // "dev" holds "major:minor".
            string text = File.ReadAllText(Path.Combine(classEntry, "dev")).Trim();
            int colon = text.IndexOf(':', StringComparison.Ordinal);
            return colon > 0 && int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int minor) ? minor : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    [GeneratedRegex(@"^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$")]
    private static partial Regex Bdf();
}
