using LitePcie.Hil.Boards;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Platform;

namespace LitePcie.Hil.Backends;

/// <summary>
/// The one place backends are composed: the fixtures, the CLI and the fault matrix look a provider up here by name and
/// ask it for the backend, its boards and its platform controls. A name nobody provides is a clear error listing the names.
/// </summary>
public static class BackendRegistry
{
    private static readonly IBackendProvider[] Providers = [new SimBackendProvider(), new LinuxBackendProvider(), new MacOSBackendProvider()];

    /// <summary>Every backend name, in the order they are documented.</summary>
    public static IReadOnlyList<string> Names { get; } = [.. Providers.Select(p => p.BackendName)];

    /// <summary>The provider of <paramref name="backend"/>; an <see cref="ArgumentException"/> naming the accepted names otherwise.</summary>
    public static IBackendProvider Provider(string backend) =>
        Providers.FirstOrDefault(p => p.BackendName == backend)
        ?? throw new ArgumentException($"backend '{backend}': accepted {string.Join(" | ", Names)}", nameof(backend));

    /// <summary>The provider of the request's backend.</summary>
    public static IBackendProvider For(BackendRequest request) => Provider(request.Backend);

    /// <summary>
    /// The provider of the request's backend as a server of single boards (the device server's); an
    /// <see cref="ArgumentException"/> naming the backends that serve boards otherwise.
    /// </summary>
    public static IBoardServer Server(BackendRequest request) =>
        For(request) as IBoardServer
        ?? throw new ArgumentException($"backend '{request.Backend}' serves no board on its own: accepted {string.Join(" | ", Providers.OfType<IBoardServer>().Cast<IBackendProvider>().Select(p => p.BackendName))}", nameof(request));

    /// <summary>
    /// The platform controls beside <paramref name="backend"/>: its provider's; for a backend no provider created (a test's
    /// own), the lab's commands alone, and the reason each missing control is missing.
    /// </summary>
    public static PlatformControls Platform(BackendRequest request, IDeviceBackend backend)
    {
        if (Providers.Select(p => p.Platform(request, backend)).FirstOrDefault(c => c is not null) is { } own)
        {
            return own;
        }

        var (attach, power) = BackendProviders.LabControls(request);
        string missing = string.Join("; ", new[]
        {
            attach is null ? $"no attach/detach control for Backend={request.Backend}: set AttachCommand and DetachCommand (a programmable switch or relay)" : null,
            power is null ? $"no sleep/wake control for Backend={request.Backend}: set SleepCommand" : null,
        }.OfType<string>());
        return new PlatformControls(power, attach, new ProcessResourceProbe(), missing);
    }
}

/// <summary>What the platform providers share.</summary>
internal static class BackendProviders
{
    /// <summary>The lab's attach/detach and sleep commands, where given.</summary>
    public static (IAttachControl? Attach, IPowerControl? Power) LabControls(BackendRequest request)
    {
        var lab = request.Lab;
        return (lab.Attach.Length > 0 ? new CommandAttachControl(lab.Detach, lab.Attach, lab.Timeout) : null,
            lab.Sleep.Length > 0 ? new CommandPowerControl(lab.Sleep, lab.Timeout) : null);
    }

    /// <summary>The profile a found board names, else the first one.</summary>
    public static BoardProfile ProfileByName(BackendRequest request, string board) =>
        request.Boards.Select(BoardCatalog.Load).FirstOrDefault(p => p.Name == board) ?? BoardCatalog.Load(request.Boards[0]);
}
