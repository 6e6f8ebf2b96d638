using System.Globalization;
using LitePcie.Hil.Linux.Sysfs;

namespace LitePcie.Hil.Linux;

/// <summary>One <c>/dev/litepcieN</c> node: its minor number and the PCI function it belongs to.</summary>
public sealed record LitePcieNode(string Path, int Minor, string PciAddress);

/// <summary>
/// Finds the litepcie character devices and the board each belongs to through
/// <c>/sys/class/litepcie/litepcieN/device</c>. Board k's channels have consecutive minors, so channel i of a board
/// is its i-th node in minor order.
/// </summary>
public static class LitePcieNodes
{
    /// <summary>Every node, by minor.</summary>
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
                !int.TryParse(name.AsSpan("litepcie".Length), NumberStyles.None, CultureInfo.InvariantCulture, out int minor))
            {
                continue;
            }

            if (new FileInfo(Path.Combine(entry, "device")).LinkTarget is { } target)
            {
                nodes.Add(new LitePcieNode(Path.Combine(paths.Dev, name), minor, Path.GetFileName(target)));
            }
        }

        return [.. nodes.OrderBy(n => n.Minor)];
    }

    /// <summary>The nodes (channels) of one board, channel order.</summary>
    public static IReadOnlyList<LitePcieNode> Of(IEnumerable<LitePcieNode> nodes, string pciAddress) =>
        [.. nodes.Where(n => n.PciAddress == pciAddress).OrderBy(n => n.Minor)];
}
