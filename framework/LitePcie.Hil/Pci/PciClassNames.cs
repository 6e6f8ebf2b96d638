namespace LitePcie.Hil.Pci;

/// <summary>Short names for common class codes (base class, sub class, optionally programming interface).</summary>
internal static class PciClassNames
{
    // Exact 24-bit matches win over base/sub matches.
    private static readonly Dictionary<uint, string> s_byClassCode = new()
    {
        [0x010601] = "SATA controller (AHCI)",
        [0x010802] = "NVMe",
        [0x0C0330] = "USB controller (xHCI)",
    };

    private static readonly Dictionary<uint, string> s_byBaseAndSub = new()
    {
        [0x0100] = "SCSI storage controller",
        [0x0101] = "IDE interface",
        [0x0104] = "RAID bus controller",
        [0x0106] = "SATA controller",
        [0x0107] = "Serial Attached SCSI controller",
        [0x0108] = "Non-Volatile memory controller",
        [0x0180] = "Mass storage controller: Other",
        [0x0200] = "Ethernet controller",
        [0x0207] = "Infiniband controller",
        [0x0280] = "Network controller: Other",
        [0x0300] = "VGA compatible controller",
        [0x0302] = "3D controller",
        [0x0380] = "Display controller: Other",
        [0x0403] = "Audio device",
        [0x0480] = "Multimedia controller: Other",
        [0x0500] = "RAM memory",
        [0x0580] = "Memory controller: Other",
        [0x0600] = "Host bridge",
        [0x0601] = "ISA bridge",
        [0x0604] = "PCI bridge",
        [0x0680] = "Bridge: Other",
        [0x0880] = "System peripheral: Other",
        [0x0B40] = "Co-processor",
        [0x0C03] = "USB controller",
        [0x0C05] = "SMBus",
        [0x0D80] = "Wireless controller: Other",
        [0x1080] = "Encryption controller: Other",
        [0x1180] = "Signal processing controller: Other",
        [0x1200] = "Processing accelerators",
        [0x1300] = "Non-Essential Instrumentation",
    };

    public static string Of(uint classCode)
    {
        classCode &= 0xFF_FFFF;
        if (s_byClassCode.TryGetValue(classCode, out var exact))
        {
            return exact;
        }

        return s_byBaseAndSub.TryGetValue(classCode >> 8, out var name) ? name : $"Class 0x{classCode:X6}";
    }
}
