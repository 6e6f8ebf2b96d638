namespace LitePcie.Hil.Simulation.Gateware;

/// <summary>
/// Lets a simulated host stop the DMA engines from overrunning software (a simulation convenience:
/// the real gateware has no flow control in loop mode and overwrites buffers software has not consumed).
/// With it, a writer may store buffer <c>k</c> only after software released buffer <c>k − ring</c>, and a
/// reader may fetch buffer <c>k</c> only after software filled it.
/// </summary>
public interface IHostFlowControl
{
    /// <summary>
    /// Whether engine <paramref name="direction"/> of channel <paramref name="channel"/> may process its
    /// next descriptor, <paramref name="completed"/> descriptors having completed since the table reset.
    /// </summary>
    bool MayProcess(int channel, DmaDirection direction, long completed);
}

/// <summary>What the gateware needs from the PCI function and the host around it.</summary>
internal interface IGatewareHost
{
    /// <summary>Command register bus-master enable: without it no DMA TLP leaves the device.</summary>
    bool BusMasterEnabled { get; }

    /// <summary>MSI enabled in config space (PHY <c>msi_enable</c>).</summary>
    bool MsiEnabled { get; }

    /// <summary>MSI-X enabled and not function-masked in config space (PHY <c>msix_enable</c>).</summary>
    bool MsixEnabled { get; }

    /// <summary>MSI vectors the host granted (Multiple Message Enable).</summary>
    int MsiGrantedVectors { get; }

    /// <summary>Raw PHY link-status value for the current link.</summary>
    uint LinkStatusRaw { get; }

    /// <summary>Negotiated max payload size in bytes (capped at 512 by the core).</summary>
    int MaxPayloadSize { get; }

    /// <summary>Negotiated max read request size in bytes (capped at 512 by the core).</summary>
    int MaxReadRequestSize { get; }

    /// <summary>Bus address of the BAR holding the CSRs (the root complex addresses its requests there).</summary>
    ulong CsrBarAddress { get; }

    /// <summary>The bus address space the engines reach (the SIL's host memory, or a VM's guest RAM).</summary>
    IBusAddressSpace Memory { get; }

    /// <summary>Optional flow control (null = real hardware behaviour).</summary>
    IHostFlowControl? FlowControl { get; }

    /// <summary>Pacer of the device→host direction (null = unpaced).</summary>
    LinkPacer? WriterPacer { get; }

    /// <summary>Pacer of the host→device direction (null = unpaced).</summary>
    LinkPacer? ReaderPacer { get; }

    /// <summary>Called after every buffer any engine moves (fault hooks: stall, surprise removal).</summary>
    void OnBufferMoved(long totalBuffers);
}
