using LitePcie.Hil.Devices;
using static LitePcie.Hil.Linux.LinuxConstants;

namespace LitePcie.Hil.Linux;

/// <summary>errno → the framework's device exceptions, with the call that failed named.</summary>
public static class LinuxErrors
{
    /// <summary>What to do about EACCES/EPERM on a litepcie node: the driver creates them root-only.</summary>
    public const string PermissionHint =
        "litepcie.ko creates /dev/litepcieN as crw------- (root only); install the udev rule lab/udev/99-litepcie.rules " +
        "(group litepcie, mode 0660; see docs/linux-backend.md) and add yourself to the group, or run as root";

    /// <summary>Whether an errno means the device is gone (removed, link down, driver unbound).</summary>
    public static bool MeansGone(int errno) => errno is ENODEV or EIO or ENXIO or ESHUTDOWN;

    /// <summary>The exception for <c>-errno</c> returned by <paramref name="call"/> on <paramref name="device"/>.</summary>
    public static DeviceException ToException(string device, string call, int errno)
    {
        string name = Name(errno);
        return errno switch
        {
            _ when MeansGone(errno) => new DeviceGoneException(device, $"{call}: {name}: the device is gone"),
            EBUSY or EAGAIN => new DeviceBusyException(device, $"{call}: {name}", DeviceErrorCode.Busy),
            EPERM or EACCES => new DeviceException(DeviceErrorCode.NotPermitted, device, $"{call}: {name}: {PermissionHint}"),
            EINVAL => new DeviceException(DeviceErrorCode.BadArgument, device, $"{call}: {name}"),
            ENOTTY => new DeviceCapabilityException(device, call, $"{name}: the driver does not implement it (older litepcie.ko, or the design lacks the block)"),
            ETIMEDOUT => new DeviceException(DeviceErrorCode.Timeout, device, $"{call}: {name}"),
            ENOMEM => new DeviceException(DeviceErrorCode.NoMemory, device, $"{call}: {name}"),
            _ => new DeviceException(DeviceErrorCode.IoError, device, $"{call}: {name}"),
        };
    }

    /// <summary>Symbolic name of an errno.</summary>
    public static string Name(int errno) => errno switch
    {
        EPERM => "EPERM", ENOENT => "ENOENT", EINTR => "EINTR", EIO => "EIO", ENXIO => "ENXIO", EAGAIN => "EAGAIN", ENOMEM => "ENOMEM",
        EACCES => "EACCES", EFAULT => "EFAULT", EBUSY => "EBUSY", ENODEV => "ENODEV", EINVAL => "EINVAL", ENOTTY => "ENOTTY",
        ETIMEDOUT => "ETIMEDOUT", ESHUTDOWN => "ESHUTDOWN", EBADF => "EBADF", _ => $"errno {errno}",
    };
}
