namespace LitePcie.Hil.Pci;

/// <summary>
/// Device/Port Type field of the PCI Express Capabilities register (bits 7:4). Values without a name are reserved
/// and are kept as their numeric value.
/// </summary>
public enum PciExpressDeviceType
{
    /// <summary>PCI Express endpoint (a LitePCIe board).</summary>
    Endpoint = 0x0,
    /// <summary>Legacy PCI Express endpoint (may use I/O space and locked requests).</summary>
    LegacyEndpoint = 0x1,
    /// <summary>Root port of a root complex.</summary>
    RootPort = 0x4,
    /// <summary>Upstream port of a switch.</summary>
    UpstreamSwitchPort = 0x5,
    /// <summary>Downstream port of a switch.</summary>
    DownstreamSwitchPort = 0x6,
    /// <summary>PCI Express to PCI/PCI-X bridge.</summary>
    PcieToPciBridge = 0x7,
    /// <summary>PCI/PCI-X to PCI Express bridge.</summary>
    PciToPcieBridge = 0x8,
    /// <summary>Endpoint integrated into the root complex (no link).</summary>
    RootComplexIntegratedEndpoint = 0x9,
    /// <summary>Root complex event collector.</summary>
    RootComplexEventCollector = 0xA,
}
