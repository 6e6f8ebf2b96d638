namespace LitePcie.Hil.Pci;

/// <summary>PCIe link speed as encoded in the Link Capabilities / Link Status speed fields.</summary>
public enum PciLinkSpeed
{
    /// <summary>The field holds no speed this parser knows (or the link is down).</summary>
    Unknown = 0,

    /// <summary>2.5 GT/s.</summary>
    Gen1 = 1,

    /// <summary>5.0 GT/s.</summary>
    Gen2 = 2,

    /// <summary>8.0 GT/s.</summary>
    Gen3 = 3,

    /// <summary>16.0 GT/s.</summary>
    Gen4 = 4,

    /// <summary>32.0 GT/s.</summary>
    Gen5 = 5,

    /// <summary>64.0 GT/s.</summary>
    Gen6 = 6,
}
