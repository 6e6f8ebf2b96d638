namespace LitePcie.Hil.Simulation;

/// <summary>
/// The bus (DMA) address space a simulated board's engines reach: what the gateware model needs to turn a
/// descriptor's bus address into memory, and to report an access the platform would refuse. Two kinds sit
/// behind it: <see cref="HostMemory"/> (the in-process host of the SIL, with its own IOVA allocator) and the
/// guest RAM of a virtual machine that the device server maps (<c>LitePcie.Hil.DeviceServer</c>), so the
/// same model does DMA for a real OS driver in a VM.
/// </summary>
public unsafe interface IBusAddressSpace
{
    /// <summary>Width of the device's DMA addresses.</summary>
    int DmaAddressWidth { get; }

    /// <summary>
    /// Translates a device access of <paramref name="length"/> bytes at <paramref name="busAddress"/>; returns
    /// null (and records a fault naming <paramref name="engine"/>) when any byte is not reachable.
    /// </summary>
    byte* Translate(ulong busAddress, int length, string engine);

    /// <summary>Translates like <see cref="Translate"/> but records nothing: <paramref name="problem"/> says why on null.</summary>
    byte* TryTranslate(ulong busAddress, int length, out string? problem);

    /// <summary>Records a fault seen by the device model.</summary>
    void RecordFault(DmaAccessFault fault);

    /// <summary>DMA accesses refused so far.</summary>
    IReadOnlyList<DmaAccessFault> Faults { get; }
}
