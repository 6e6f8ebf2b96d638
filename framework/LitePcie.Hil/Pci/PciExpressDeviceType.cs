namespace LitePcie.Hil.Pci;

/// <summary>
/// Device/Port Type field of the PCI Express Capabilities register (bits 7:4). Values without a name are reserved
/// and are kept as their numeric value.
/// </summary>
public enum PciExpressDeviceType
{
    Endpoint = 0x0,
    LegacyEndpoint = 0x1,
    RootPort = 0x4,
    UpstreamSwitchPort = 0x5,
    DownstreamSwitchPort = 0x6,
    PcieToPciBridge = 0x7,
    PciToPcieBridge = 0x8,
    RootComplexIntegratedEndpoint = 0x9,
    RootComplexEventCollector = 0xA,
}
