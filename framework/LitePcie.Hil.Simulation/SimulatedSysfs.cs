using System.Globalization;
using LitePcie.Hil.Boards;
using LitePcie.Hil.Pci;

namespace LitePcie.Hil.Simulation;

/// <summary>
/// The sysfs, /dev and /proc entries litepcie.ko leaves after probing a board, written under a private root for
/// a simulated board: what the Linux backend's enumeration reads, for tests and benchmarks without a kernel. The
/// layout is the real driver's: the function bound under <c>/sys/bus/pci/drivers/litepcie/&lt;bdf&gt;</c>, and nodes
/// created with no parent device (<c>device_create(class, NULL, …)</c>), so they live in
/// <c>/sys/devices/virtual/litepcie/litepcieN</c> (linked from <c>/sys/class/litepcie</c>) with no link to the
/// function. <c>/sys/module/litepcie</c> has no <c>version</c> or <c>srcversion</c> (upstream declares no
/// MODULE_VERSION), only a build-id note.
/// </summary>
public static class SimulatedSysfs
{
    /// <summary>The character major the fake driver registered (dynamic in the real one).</summary>
    public const int Major = 240;

    /// <summary>The GNU build-id the fake module's note carries.</summary>
    public const string BuildId = "5eed0123456789abcdef0123456789abcdef0123";

    /// <summary>Writes the tree for <paramref name="board"/> at <paramref name="address"/>; returns the /dev node paths by channel.</summary>
    /// <param name="board">The simulated board (its config space is read as the OS assigned it).</param>
    /// <param name="sys">The sysfs root (e.g. <c>root/sys</c>).</param>
    /// <param name="dev">The /dev directory.</param>
    /// <param name="proc">The /proc directory.</param>
    /// <param name="address">PCI address of the function.</param>
    /// <param name="firstMinor">The driver's minor counter at this probe (it only grows: a re-probed board gets new minors).</param>
    public static IReadOnlyList<string> Populate(SimulatedBoard board, string sys, string dev, string proc, string address, int firstMinor = 0)
    {
        AddFunction(board, sys, proc, address);
        return Bind(board, sys, dev, address, firstMinor);
    }

    /// <summary>The PCI function's own sysfs directory (what the PCI core creates at enumeration, driver or not).</summary>
    public static void AddFunction(SimulatedBoard board, string sys, string proc, string address)
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
        Directory.CreateDirectory(proc);
        File.WriteAllText(Path.Combine(proc, "interrupts"), "           CPU0       CPU1\n 42:       1200        300   PCI-MSI 1048576-edge      litepcie\n");
        Directory.CreateDirectory(Path.Combine(proc, "sys", "kernel"));
        File.WriteAllText(Path.Combine(proc, "sys", "kernel", "osrelease"), "6.1.0-sim-amd64\n");
    }

    /// <summary>
    /// What the driver's probe adds: the binding (<c>drivers/litepcie/&lt;bdf&gt;</c> and the function's <c>driver</c>
    /// link), the module directory, and one parentless node per DMA channel with minors from <paramref name="firstMinor"/>.
    /// </summary>
    public static IReadOnlyList<string> Bind(SimulatedBoard board, string sys, string dev, string address, int firstMinor)
    {
        string function = Path.Combine(sys, "bus", "pci", "devices", address);
        string driver = Path.Combine(sys, "bus", "pci", "drivers", "litepcie");
        Directory.CreateDirectory(driver);
        File.CreateSymbolicLink(Path.Combine(function, "driver"), driver);
        File.CreateSymbolicLink(Path.Combine(driver, address), function);
        string module = Path.Combine(sys, "module", "litepcie");
        if (!Directory.Exists(module))
        {
            Directory.CreateDirectory(Path.Combine(module, "notes"));
            File.WriteAllText(Path.Combine(module, "refcnt"), "0\n");
            File.WriteAllText(Path.Combine(module, "initstate"), "live\n");
            File.WriteAllText(Path.Combine(module, "taint"), "OE\n");
            File.WriteAllBytes(Path.Combine(module, "notes", ".note.gnu.build-id"), BuildIdNote());
        }

        Directory.CreateDirectory(dev);
        var nodes = new List<string>();
        for (int c = 0; c < board.Profile.CsrMap.Layout.DmaChannels.Count; c++)
        {
            int minor = firstMinor + c;
            string name = $"litepcie{minor}";
            string virt = Path.Combine(sys, "devices", "virtual", "litepcie", name);
            Directory.CreateDirectory(virt);
            File.WriteAllText(Path.Combine(virt, "dev"), $"{Major}:{minor}\n");
            File.WriteAllText(Path.Combine(virt, "uevent"), $"MAJOR={Major}\nMINOR={minor}\nDEVNAME={name}\n");
            Directory.CreateDirectory(Path.Combine(sys, "class", "litepcie"));
            File.CreateSymbolicLink(Path.Combine(sys, "class", "litepcie", name), virt);
            string node = Path.Combine(dev, name);
            File.WriteAllText(node, "");
            nodes.Add(node);
        }

        return nodes;
    }

    /// <summary>What the driver's remove and the PCI core's removal take away: nodes, binding, the function's directory.</summary>
    public static void Remove(string sys, string dev, string address, IEnumerable<string> nodeNames)
    {
        foreach (var name in nodeNames)
        {
            File.Delete(Path.Combine(sys, "class", "litepcie", name));
            string virt = Path.Combine(sys, "devices", "virtual", "litepcie", name);
            if (Directory.Exists(virt))
            {
                Directory.Delete(virt, recursive: true);
            }

            File.Delete(Path.Combine(dev, name));
        }

        File.Delete(Path.Combine(sys, "bus", "pci", "drivers", "litepcie", address));
        string function = Path.Combine(sys, "bus", "pci", "devices", address);
        if (Directory.Exists(function))
        {
            Directory.Delete(function, recursive: true);
        }
    }

    /// <summary>An ELF note: namesz 4, descsz 20, type NT_GNU_BUILD_ID (3), "GNU\0", the id.</summary>
    private static byte[] BuildIdNote()
    {
        var id = Convert.FromHexString(BuildId);
        var note = new byte[16 + id.Length];
        BitConverter.GetBytes(4).CopyTo(note, 0);
        BitConverter.GetBytes(id.Length).CopyTo(note, 4);
        BitConverter.GetBytes(3).CopyTo(note, 8);
        "GNU\0"u8.CopyTo(note.AsSpan(12));
        id.CopyTo(note, 16);
        return note;
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
