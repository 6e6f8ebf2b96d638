using LitePcie.Hil.Dext;

namespace LitePcie.Hil.MacOS.IOKit;

/// <summary>IOKit constants the backend uses (IOKitKeys.h, IOMessage.h, IOReturn.h, IOTypes.h, mach/message.h).</summary>
internal static class IOKitConstants
{
    /// <summary>The service plane (<c>kIOServicePlane</c>).</summary>
    public const string ServicePlane = "IOService";

    /// <summary><c>kIORegistryIterateRecursively</c>.</summary>
    public const uint IterateRecursively = 0x1;

    /// <summary><c>kIORegistryIterateParents</c>.</summary>
    public const uint IterateParents = 0x2;

    /// <summary><c>kIOFirstMatchNotification</c>.</summary>
    public const string FirstMatchNotification = "IOServiceFirstMatch";

    /// <summary><c>kIOTerminatedNotification</c>.</summary>
    public const string TerminatedNotification = "IOServiceTerminate";

    /// <summary><c>kIOGeneralInterest</c>.</summary>
    public const string GeneralInterest = "IOGeneralInterest";

    /// <summary><c>kIOPropertyMatchKey</c>.</summary>
    public const string PropertyMatchKey = "IOPropertyMatch";

    /// <summary><c>kIOProviderClassKey</c> (what <c>IOServiceMatching</c> sets).</summary>
    public const string ProviderClassKey = "IOProviderClass";

    /// <summary><c>kIOMapAnywhere</c>.</summary>
    public const uint MapAnywhere = 0x1;

    /// <summary><c>kIOAsyncCalloutFuncIndex</c>.</summary>
    public const int AsyncCalloutFuncIndex = 1;

    /// <summary><c>kIOAsyncCalloutRefconIndex</c>.</summary>
    public const int AsyncCalloutRefconIndex = 2;

    /// <summary><c>kIOAsyncCalloutCount</c>: the reference words passed to <c>IOConnectCallAsyncMethod</c>.</summary>
    public const int AsyncCalloutCount = 3;

    /// <summary><c>kOSAsyncRef64Count</c>: the size of an <c>io_async_ref64_t</c>.</summary>
    public const int AsyncRef64Count = 8;

    /// <summary><c>kIOMessageServiceIsTerminated</c>.</summary>
    public const uint MessageServiceIsTerminated = 0xE0000010;

    /// <summary><c>kIOMessageCanSystemSleep</c> (idle sleep query; must be answered).</summary>
    public const uint MessageCanSystemSleep = 0xE0000270;

    /// <summary><c>kIOMessageSystemWillSleep</c> (must be answered with IOAllowPowerChange).</summary>
    public const uint MessageSystemWillSleep = 0xE0000280;

    /// <summary><c>kIOMessageSystemWillNotSleep</c> (a CanSystemSleep was vetoed).</summary>
    public const uint MessageSystemWillNotSleep = 0xE0000290;

    /// <summary><c>kIOMessageSystemHasPoweredOn</c>.</summary>
    public const uint MessageSystemHasPoweredOn = 0xE0000300;

    /// <summary><c>kIOMessageSystemWillPowerOn</c>.</summary>
    public const uint MessageSystemWillPowerOn = 0xE0000320;

    /// <summary><c>kIOReturnNoDevice</c>.</summary>
    public const int ReturnNoDevice = unchecked((int)0xE00002C0);

    /// <summary><c>kIOReturnNotPrivileged</c>.</summary>
    public const int ReturnNotPrivileged = unchecked((int)0xE00002C1);

    /// <summary><c>kIOReturnNotAttached</c>.</summary>
    public const int ReturnNotAttached = unchecked((int)0xE00002D9);

    /// <summary><c>kIOReturnNotFound</c>.</summary>
    public const int ReturnNotFound = unchecked((int)0xE00002F0);

    /// <summary><c>MACH_SEND_INVALID_DEST</c>: the user client's port is dead.</summary>
    public const int MachSendInvalidDest = 0x10000003;

    /// <summary><c>MIG_SERVER_DIED</c>.</summary>
    public const int MigServerDied = -308;

    /// <summary>The IOKit name of a code, including the ones <see cref="IOReturn.Name"/> does not know.</summary>
    public static string Name(int code) => code switch
    {
        ReturnNoDevice => "kIOReturnNoDevice",
        ReturnNotPrivileged => "kIOReturnNotPrivileged",
        ReturnNotAttached => "kIOReturnNotAttached",
        ReturnNotFound => "kIOReturnNotFound",
        MachSendInvalidDest => "MACH_SEND_INVALID_DEST",
        MigServerDied => "MIG_SERVER_DIED",
        _ => IOReturn.Name(code),
    };

    /// <summary>Whether a code means the user client or its service is gone (terminated, detached, dext crashed).</summary>
    public static bool MeansGone(int code) =>
        code is IOReturn.Offline or ReturnNotAttached or ReturnNoDevice or MachSendInvalidDest or MigServerDied;
}
