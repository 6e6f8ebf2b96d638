namespace LitePcie.Hil.Dext;

/// <summary>Completion of an asynchronous method (WaitBuffers): IOReturn status and the two result words.</summary>
internal readonly record struct DextCompletion(int Status, ulong HwCount, ulong Lost);

/// <summary>A shared-memory mapping of the dext (status page or a ring) in this process.</summary>
internal readonly record struct DextMapping(nint Address, long Length, bool ReadOnly);

/// <summary>
/// The final call into the dext: <c>IOConnectCallMethod</c> / <c>IOConnectMapMemory64</c> on macOS, a direct
/// call into the same core compiled for the host in the SIL. Everything above it (argument marshalling,
/// error mapping, the session) is shared. One transport is one open user client.
/// </summary>
internal interface IDextTransport : IDisposable
{
    /// <summary>The device this client is connected to (for error messages).</summary>
    string Device { get; }

    /// <summary>
    /// A synchronous external method. Returns the IOReturn status; <paramref name="structOutputSize"/> is what
    /// the dext wrote.
    /// </summary>
    int Call(DextSelector selector, ReadOnlySpan<ulong> scalarInput, ReadOnlySpan<byte> structInput,
        Span<ulong> scalarOutput, Span<byte> structOutput, out int structOutputSize);

    /// <summary>
    /// An asynchronous external method. Returns the immediate IOReturn; on success <paramref name="completion"/>
    /// completes exactly once when the dext calls AsyncCompletion.
    /// </summary>
    int CallAsync(DextSelector selector, ReadOnlySpan<ulong> scalarInput, out Task<DextCompletion> completion);

    /// <summary>Maps shared memory (CopyClientMemoryForType). Throws <see cref="Devices.DeviceException"/> when refused.</summary>
    DextMapping Map(DextMemoryKind kind, int channel);
}
