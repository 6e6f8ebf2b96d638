using System.Globalization;
using LitePcie.Hil.Boards;
using LitePcie.Hil.Pci;

namespace LitePcie.Hil.Simulation;

/// <summary>
/// The sysfs, /dev and /proc entries litepcie.ko leaves after probing a board, written under a private root for
/// a simulated board: what the Linux backend's enumeration reads, for tests and benchmarks without a kernel.
/// </summary>
public static class SimulatedSysfs
{
    /// <summary>Writes the tree for <paramref name="board"/> at <paramref name="address"/>; returns the /dev node paths by channel.</summary>
    /// <param name="board">The simulated board (its config space is read as the OS assigned it).</param>
    /// <param name="sys">The sysfs root (e.g. <c>root/sys</c>).</param>
    /// <param name="dev">The /dev directory.</param>
    /// <param name="proc">The /proc directory.</param>
    /// <param name="address">PCI address of the function.</param>
    public static IReadOnlyList<string> Populate(SimulatedBoard board, string sys, string dev, string proc, string address)
    {
        var profile = board.Profile;
        string function = Path.Combine(sys, "bus", "pci", "devices", address);
        Directory.CreateDirectory(function);
        var cs = board.ReadConfigSpace();
        File.WriteAllBytes(Path.Combine(function, "config"), cs);
        void Put(string name, string text) => File.WriteAllText(Path.Combine(function, name), text + "\n");
        Put("vendor", $"0x{profile.VendorId:x4}");
        Put("device", $"0x{profile.DeviceId:x4}");
        Put("class", $"0x{BitConverter.ToUInt32(cs, 8) >> 8:x6}");
        Put("revision", $"0x{cs[8]:x2}");
        Put("subsystem_vendor", $"0x{BitConverter.ToUInt16(cs, 0x2C):x4}");
        Put("subsystem_device", $"0x{BitConverter.ToUInt16(cs, 0x2E):x4}");
        Put("current_link_speed", profile.LinkSpeed switch
        {
            PciLinkSpeed.Gen1 => "2.5 GT/s PCIe",
            PciLinkSpeed.Gen2 => "5.0 GT/s PCIe",
            PciLinkSpeed.Gen3 => "8.0 GT/s PCIe",
            _ => "16.0 GT/s PCIe",
        });
        Put("current_link_width", profile.LinkWidth.ToString(CultureInfo.InvariantCulture));
        Put("numa_node", "-1");
        Put("irq", "42");
        Put("resource", string.Join('\n', Enumerable.Range(0, 6).Select(i => ResourceLine(profile, cs, i))));
        Directory.CreateDirectory(Path.Combine(function, "msi_irqs"));
        File.WriteAllText(Path.Combine(function, "msi_irqs", "42"), "msi\n");
        string driver = Path.Combine(sys, "bus", "pci", "drivers", "litepcie");
        Directory.CreateDirectory(driver);
        File.CreateSymbolicLink(Path.Combine(function, "driver"), driver);
        Directory.CreateDirectory(dev);
        Directory.CreateDirectory(Path.Combine(sys, "module", "litepcie"));
        File.WriteAllText(Path.Combine(sys, "module", "litepcie", "srcversion"), "FAKE0123456789\n");
        var nodes = new List<string>();
        for (int c = 0; c < profile.CsrMap.Layout.DmaChannels.Count; c++)
        {
            string cls = Path.Combine(sys, "class", "litepcie", $"litepcie{c}");
            Directory.CreateDirectory(cls);
            File.CreateSymbolicLink(Path.Combine(cls, "device"), function);
            string node = Path.Combine(dev, $"litepcie{c}");
            File.WriteAllText(node, "");
            nodes.Add(node);
        }

        Directory.CreateDirectory(proc);
        File.WriteAllText(Path.Combine(proc, "interrupts"), "           CPU0       CPU1\n 42:       1200        300   PCI-MSI 1048576-edge      litepcie\n");
        return nodes;
    }

    /// <summary>One line of the <c>resource</c> file: start, end and flags (IORESOURCE_MEM, _MEM_64, _PREFETCH).</summary>
    private static string ResourceLine(BoardProfile profile, byte[] cs, int index)
    {
        var bar = profile.Bars.FirstOrDefault(b => b.Index == index);
        if (bar is null)
        {
            return "0x0000000000000000 0x0000000000000000 0x0000000000000000";
        }

        ulong start = (BitConverter.ToUInt32(cs, 0x10 + index * 4) & ~0xFu)
            | (bar.Kind == PciBarKind.Memory64 ? (ulong)BitConverter.ToUInt32(cs, 0x14 + index * 4) << 32 : 0);
        ulong flags = 0x200UL | (bar.Kind == PciBarKind.Memory64 ? 0x100000UL : 0) | (bar.Prefetchable ? 0x2000UL : 0);
        return $"0x{start:x16} 0x{start + bar.Size - 1:x16} 0x{flags:x16}";
    }
}
