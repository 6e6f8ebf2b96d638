using LitePcie.Hil.Boards;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Platform;

namespace LitePcie.Hil.Backends;

/// <summary>
/// One backend, everything a host needs of it: its name, why it cannot run on this host, how to create it, which
/// boards it can reach and the platform controls (attach, power, resource probe) beside it. A provider never falls
/// back to another backend: one that cannot run here says why.
/// </summary>
public interface IBackendProvider
{
    /// <summary>Backend name in runsettings, on the command line and in reports.</summary>
    string BackendName { get; }

    /// <summary>Why the backend cannot run on this host for <paramref name="request"/>; null when it can.</summary>
    string? Unavailable(BackendRequest request);

    /// <summary>Creates the backend; a <see cref="DeviceCapabilityException"/> with the reason when it cannot run here.</summary>
    IDeviceBackend Create(BackendRequest request);

    /// <summary>The boards the backend reaches that match <see cref="BackendRequest.Device"/>, or the reason there are none.</summary>
    BackendDiscovery Discover(BackendRequest request);

    /// <summary>The board profile a device at <paramref name="address"/> (found as <paramref name="board"/>) should match.</summary>
    BoardProfile ProfileFor(BackendRequest request, string address, string board);

    /// <summary>The platform's power, attach and resource-probe controls beside <paramref name="backend"/>; null when this provider did not create it.</summary>
    PlatformControls? Platform(BackendRequest request, IDeviceBackend backend);

    /// <summary>The device a user named (an address, a device node) as the backend's address; unchanged when it is one already.</summary>
    string ResolveDevice(IDeviceBackend backend, string device) => device;
}
