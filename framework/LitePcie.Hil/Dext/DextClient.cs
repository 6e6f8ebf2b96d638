using System.Runtime.InteropServices;
using LitePcie.Hil.Devices;

namespace LitePcie.Hil.Dext;

/// <summary>
/// The method table of the LitePCIe dext as typed C# calls: marshals scalars and structs, and turns every
/// refused call into the framework's device exception with the dext's own words (GetLastError names the
/// argument and the accepted range). Scalars are passed as the u64 the dext receives, so the dext's
/// range checks are what decide — nothing is validated or narrowed here.
/// </summary>
internal sealed class DextClient : IDisposable
{
    private readonly IDextTransport _transport;

    internal DextClient(IDextTransport transport)
    {
        _transport = transport;
    }

    /// <summary>The device this client is connected to.</summary>
    public string Device => _transport.Device;

    /// <summary>The transport (for mappings).</summary>
    internal IDextTransport Transport => _transport;

    internal LpcInfo GetInfo()
    {
        var info = default(LpcInfo);
        CallStruct(DextSelector.GetInfo, [], MemoryMarshal.AsBytes(MemoryMarshal.CreateSpan(ref info, 1)));
        return info;
    }

    public uint CsrRead32(ulong offset) => (uint)Call1(DextSelector.CsrRead32, [offset]);

    public void CsrWrite32(ulong offset, ulong value) => Call0(DextSelector.CsrWrite32, [offset, value]);

    public uint BarRead32(ulong bar, ulong offset) => (uint)Call1(DextSelector.BarRead32, [bar, offset]);

    public void BarWrite32(ulong bar, ulong offset, ulong value) => Call0(DextSelector.BarWrite32, [bar, offset, value]);

    public uint ConfigRead32(ulong offset) => (uint)Call1(DextSelector.ConfigRead32, [offset]);

    /// <summary>Starts a direction; returns the new generation.</summary>
    public ulong DmaStart(ulong channel, ulong direction, ulong irqEvery, ulong flags) =>
        Call1(DextSelector.DmaStart, [channel, direction, irqEvery, flags]);

    public void DmaStop(ulong channel, ulong direction) => Call0(DextSelector.DmaStop, [channel, direction]);

    /// <summary>Reports software progress; returns the lost-buffer count.</summary>
    public ulong UpdateSwCount(ulong channel, ulong direction, ulong swCount) =>
        Call1(DextSelector.UpdateSwCount, [channel, direction, swCount]);

    /// <summary>Starts an asynchronous wait for the hardware count to reach <paramref name="target"/>.</summary>
    internal Task<DextCompletion> WaitBuffersAsync(ulong channel, ulong direction, ulong target, ulong timeoutMs)
    {
        int status = _transport.CallAsync(DextSelector.WaitBuffers, [channel, direction, target, timeoutMs], out var completion);
        Check(status, DextSelector.WaitBuffers);
        return completion;
    }

    public void SetLoopback(ulong channel, ulong enable) => Call0(DextSelector.SetLoopback, [channel, enable]);

    /// <summary>Resets; returns the new generation.</summary>
    public ulong Reset(ulong type) => Call1(DextSelector.Reset, [type]);

    /// <summary>Why the previous call was refused, in the dext's words.</summary>
    internal LpcErrorInfo GetLastError()
    {
        var e = default(LpcErrorInfo);
        Span<byte> buffer = MemoryMarshal.AsBytes(MemoryMarshal.CreateSpan(ref e, 1));
        int status = _transport.Call(DextSelector.GetLastError, [], [], [], buffer, out _);
        return status == IOReturn.Success ? e : default;
    }

    /// <summary>Maps shared memory of the dext.</summary>
    internal DextMapping Map(DextMemoryKind kind, int channel) => _transport.Map(kind, channel);

    /// <inheritdoc />
    public void Dispose() => _transport.Dispose();

    /// <summary>Turns a non-success status into the matching device exception.</summary>
    internal void Check(int status, DextSelector selector)
    {
        if (status == IOReturn.Success)
        {
            return;
        }

        var error = GetLastError();
        throw ToException(Device, selector, status, error.Status == status ? error.MessageText() : null);
    }

    /// <summary>Maps an IOReturn and the dext's message ("what = value (0x…): accepted") to an exception.</summary>
    internal static DeviceException ToException(string device, DextSelector selector, int status, string? message)
    {
        string text = message is { Length: > 0 } ? message : IOReturn.Name(status);
        string Prefixed() => $"{selector}: {IOReturn.Name(status)}: {text}";
        switch (status)
        {
            case IOReturn.BadArgument or IOReturn.NotPermitted:
            {
                var (parameter, value, accepted) = Split(text);
                return new DeviceArgumentException(device, $"{selector}.{parameter}", value, accepted,
                    status == IOReturn.NotPermitted ? DeviceErrorCode.NotPermitted : DeviceErrorCode.BadArgument) { NativeCode = status };
            }

            case IOReturn.ExclusiveAccess:
                return new DeviceBusyException(device, Prefixed(), DeviceErrorCode.ExclusiveAccess) { NativeCode = status };
            case IOReturn.Busy:
                return new DeviceBusyException(device, Prefixed(), DeviceErrorCode.Busy) { NativeCode = status };
            case IOReturn.Offline:
                // The core's own messages end in "device gone"; an asynchronous completion carries only its status and
                // the caller's context, so say it here, once for every path, for verdicts and summaries that read it.
                return new DeviceGoneException(device, text.Contains("device gone", StringComparison.Ordinal) ? Prefixed() : $"{Prefixed()}: device gone")
                    { NativeCode = status };
            case IOReturn.Timeout:
                return new DeviceTimeoutException(device, $"{selector} ({text})", TimeSpan.Zero) { NativeCode = status };
            case IOReturn.Unsupported:
                return new DeviceCapabilityException(device, selector.ToString(), text) { NativeCode = status };
            default:
                var code = status switch
                {
                    IOReturn.NotReady => DeviceErrorCode.NotReady,
                    IOReturn.Aborted => DeviceErrorCode.Aborted,
                    IOReturn.NoMemory => DeviceErrorCode.NoMemory,
                    _ => DeviceErrorCode.IoError,
                };
                return new DeviceException(code, device, Prefixed()) { NativeCode = status };
        }
    }

    private static (string Parameter, string Value, string Accepted) Split(string message)
    {
        int eq = message.IndexOf(" = ", StringComparison.Ordinal);
        int colon = message.IndexOf(": ", StringComparison.Ordinal);
        return eq > 0 && colon > eq
            ? (message[..eq], message[(eq + 3)..colon], message[(colon + 2)..])
            : ("argument", "?", message);
    }

    private ulong Call1(DextSelector selector, ReadOnlySpan<ulong> input)
    {
        Span<ulong> output = stackalloc ulong[1];
        int status = _transport.Call(selector, input, [], output, [], out _);
        Check(status, selector);
        return output[0];
    }

    private void Call0(DextSelector selector, ReadOnlySpan<ulong> input)
    {
        int status = _transport.Call(selector, input, [], [], [], out _);
        Check(status, selector);
    }

    private void CallStruct(DextSelector selector, ReadOnlySpan<ulong> input, Span<byte> output)
    {
        int status = _transport.Call(selector, input, [], [], output, out int written);
        Check(status, selector);
        if (written != output.Length)
        {
            throw new DeviceException(DeviceErrorCode.IoError, Device, $"{selector}: the dext returned {written} bytes, expected {output.Length} (ABI mismatch?)");
        }
    }
}
