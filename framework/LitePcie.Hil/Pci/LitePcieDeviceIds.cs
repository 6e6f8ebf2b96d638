namespace LitePcie.Hil.Pci;

/// <summary>One entry of the <c>litepcie.ko</c> PCI ID table (docs/linux-driver.md#matching-and-probe).</summary>
/// <param name="VendorId">PCI vendor.</param>
/// <param name="DeviceId">PCI device.</param>
/// <param name="Family">Gateware PHY family (as in <c>cores.pcie_phy</c>).</param>
/// <param name="MaxSpeed">Link generation the ID advertises.</param>
/// <param name="Lanes">Lane count the ID advertises.</param>
public sealed record LitePcieDeviceId(ushort VendorId, ushort DeviceId, string Family, PciLinkSpeed MaxSpeed, int Lanes);

/// <summary>The PCI IDs the upstream Linux driver matches (device ID = base + lane count).</summary>
public static class LitePcieDeviceIds
{
    /// <summary>Xilinx, used by the Xilinx PHY IP defaults.</summary>
    public const ushort XilinxVendorId = 0x10EE;

    /// <summary>Lattice.</summary>
    public const ushort LatticeVendorId = 0x1204;

    /// <summary>Gowin.</summary>
    public const ushort GowinVendorId = 0x22C2;

    /// <summary>Every supported (vendor, device) pair.</summary>
    public static IReadOnlyList<LitePcieDeviceId> All { get; } = Build();

    /// <summary>Looks an ID pair up in the driver table.</summary>
    public static LitePcieDeviceId? Find(ushort vendorId, ushort deviceId) =>
        All.FirstOrDefault(e => e.VendorId == vendorId && e.DeviceId == deviceId);

    /// <summary>Whether the Linux driver would bind to this function.</summary>
    public static bool IsSupported(ushort vendorId, ushort deviceId) => Find(vendorId, deviceId) is not null;

    private static LitePcieDeviceId[] Build()
    {
        var list = new List<LitePcieDeviceId>();
        void Add(ushort baseId, string family, PciLinkSpeed speed, params int[] lanes)
        {
            foreach (int l in lanes)
            {
                list.Add(new LitePcieDeviceId(XilinxVendorId, (ushort)(baseId + (l == 16 ? 0xF : l)), family, speed, l));
            }
        }

        Add(0x7020, "S7PCIEPHY", PciLinkSpeed.Gen2, 1, 2, 4, 8);
        Add(0x8020, "USPCIEPHY", PciLinkSpeed.Gen2, 1, 2, 4, 8);
        Add(0x8030, "USPCIEPHY", PciLinkSpeed.Gen3, 1, 2, 4, 8);
        Add(0x9020, "USPPCIEPHY", PciLinkSpeed.Gen2, 1, 2, 4, 8, 16);
        Add(0x9030, "USPPCIEPHY", PciLinkSpeed.Gen3, 1, 2, 4, 8, 16);
        Add(0x9040, "USPPCIEPHY", PciLinkSpeed.Gen4, 1, 2, 4, 8);
        list.Add(new LitePcieDeviceId(LatticeVendorId, 0x9C25, "LFCPNXPCIEPHY", PciLinkSpeed.Gen3, 4));
        list.Add(new LitePcieDeviceId(GowinVendorId, 0x1100, "GW5APCIEPHY", PciLinkSpeed.Gen2, 4));
        return [.. list];
    }
}
