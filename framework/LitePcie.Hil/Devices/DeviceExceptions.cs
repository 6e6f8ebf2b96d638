namespace LitePcie.Hil.Devices;

/// <summary>
/// Why a device operation failed, independent of the transport. Backends map their native codes
/// (IOReturn from the dext, errno from litepcie.ko) onto these.
/// </summary>
public enum DeviceErrorCode
{
    /// <summary>Unclassified transport or device I/O error.</summary>
    IoError,

    /// <summary>An argument is outside its accepted range (kIOReturnBadArgument, EINVAL).</summary>
    BadArgument,

    /// <summary>The operation is refused by policy, e.g. a raw write to a driver-owned register (kIOReturnNotPermitted, EPERM).</summary>
    NotPermitted,

    /// <summary>Another client holds the device or channel (kIOReturnExclusiveAccess, EBUSY from a lock).</summary>
    ExclusiveAccess,

    /// <summary>The resource is busy (e.g. a wait is already pending) (kIOReturnBusy, EAGAIN).</summary>
    Busy,

    /// <summary>The device or driver is not ready, e.g. sleeping (kIOReturnNotReady).</summary>
    NotReady,

    /// <summary>The device is gone: surprise removal or all-ones reads (kIOReturnOffline, ENODEV, EIO).</summary>
    DeviceGone,

    /// <summary>A bounded wait expired (kIOReturnTimeout, ETIMEDOUT).</summary>
    Timeout,

    /// <summary>The operation was aborted (power transition, close) (kIOReturnAborted).</summary>
    Aborted,

    /// <summary>The device or backend does not support the operation (kIOReturnUnsupported, ENOTTY).</summary>
    Unsupported,

    /// <summary>Out of memory (kIOReturnNoMemory, ENOMEM).</summary>
    NoMemory,
}

/// <summary>
/// A device or transport failure, with the device context it happened in. In reports these are
/// <em>broken</em> results (infrastructure/device), not assertion failures.
/// </summary>
public class DeviceException : IOException
{
    /// <summary>A device or transport fault of <paramref name="device"/>, classified by <paramref name="code"/>.</summary>
    public DeviceException(DeviceErrorCode code, string device, string message, Exception? inner = null)
        : base($"{device}: {message}", inner)
    {
        Code = code;
        Device = device;
    }

    /// <summary>Transport-independent error class.</summary>
    public DeviceErrorCode Code { get; }

    /// <summary>The device (backend-specific address: PCI BDF, device node or registry id).</summary>
    public string Device { get; }

    /// <summary>The native code the backend saw (IOReturn, errno), when there was one.</summary>
    public long? NativeCode { get; init; }
}

/// <summary>The device has gone away (surprise removal, link down, all-ones reads).</summary>
public sealed class DeviceGoneException : DeviceException
{
    /// <summary>The device left the bus (surprise removal, reads of all ones, ENODEV, kIOReturnOffline).</summary>
    public DeviceGoneException(string device, string message, Exception? inner = null)
        : base(DeviceErrorCode.DeviceGone, device, message, inner)
    {
    }

}

/// <summary>The device or a channel is held by another client.</summary>
public sealed class DeviceBusyException : DeviceException
{
    /// <summary>The device or a DMA direction is owned by another client.</summary>
    public DeviceBusyException(string device, string message, DeviceErrorCode code = DeviceErrorCode.ExclusiveAccess)
        : base(code, device, message)
    {
    }

}

/// <summary>
/// An argument the driver refused: names the parameter, the value and the accepted range.
/// <see cref="DeviceException.Code"/> is <see cref="DeviceErrorCode.BadArgument"/> or
/// <see cref="DeviceErrorCode.NotPermitted"/> (e.g. a raw write to a driver-owned register).
/// </summary>
public sealed class DeviceArgumentException : DeviceException
{
    /// <summary>The driver refused an argument: <paramref name="parameter"/> had a value outside the accepted range.</summary>
    public DeviceArgumentException(string device, string parameter, string value, string accepted, DeviceErrorCode code = DeviceErrorCode.BadArgument)
        : base(code, device, $"{parameter} = {value} refused ({(code == DeviceErrorCode.NotPermitted ? "not permitted" : "bad argument")}): {accepted}")
    {
        Parameter = parameter;
        Value = value;
        Accepted = accepted;
    }

    /// <summary>The refused parameter (e.g. <c>offset</c>, <c>irqEvery</c>).</summary>
    public string Parameter { get; }

    /// <summary>The value as given.</summary>
    public string Value { get; }

    /// <summary>The accepted range or rule.</summary>
    public string Accepted { get; }
}

/// <summary>A bounded wait expired; names what was waited for and for how long.</summary>
public sealed class DeviceTimeoutException : DeviceException
{
    /// <summary>A bounded wait for <paramref name="waitedFor"/> did not end within <paramref name="timeout"/>.</summary>
    public DeviceTimeoutException(string device, string waitedFor, TimeSpan timeout)
        : base(DeviceErrorCode.Timeout, device, $"timed out after {timeout.TotalMilliseconds:0.###} ms waiting for {waitedFor}")
    {
        WaitedFor = waitedFor;
        Timeout = timeout;
    }

    /// <summary>What the wait was for.</summary>
    public string WaitedFor { get; }

    /// <summary>The bound that expired.</summary>
    public TimeSpan Timeout { get; }
}

/// <summary>The device, board or backend lacks a capability a test needs (a reason to skip, not to fail).</summary>
public sealed class DeviceCapabilityException : DeviceException
{
    /// <summary>The device or its driver lacks what the call needs; the message names the capability and why.</summary>
    public DeviceCapabilityException(string device, string capability, string reason)
        : base(DeviceErrorCode.Unsupported, device, $"{capability} not available: {reason}")
    {
        Capability = capability;
    }

    /// <summary>The missing capability.</summary>
    public string Capability { get; }
}
