using LitePcie.Hil.MacOS.IOKit;
using LitePcie.Hil.Platform;

namespace LitePcie.Hil.MacOS.Platform;

/// <summary>
/// Detach and attach on a Mac: a lab command causes it (macOS has no software eject for one PCIe function, so a
/// programmable Thunderbolt/USB4 switch or a relay does it, e.g. through <see cref="CommandAttachControl"/>), and the
/// IOKit notification confirms it: a detach returns once the LitePCIeDriver service at the device was terminated,
/// an attach once a new one was first matched there, each within the notification timeout.
/// </summary>
public sealed class MacOSAttachControl : IAttachControl
{
    private readonly IAttachControl _command;
    private readonly TimeSpan _timeout;
    private readonly Func<MacOSAttachWatcher> _watch;

    /// <summary>Commands confirmed through this machine's IOKit.</summary>
    /// <param name="command">What causes the detach and attach (lab commands).</param>
    /// <param name="notificationTimeout">How long, after the command returned, the IOKit notification may take.</param>
    /// <param name="time">Clock of the bounded waits.</param>
    public MacOSAttachControl(IAttachControl command, TimeSpan notificationTimeout, TimeProvider? time = null)
        : this(command, notificationTimeout, () => new MacOSAttachWatcher(time))
    {
    }

    /// <summary>Commands confirmed through a given IOKit (a fake in tests).</summary>
    internal MacOSAttachControl(IAttachControl command, TimeSpan notificationTimeout, IIOKit io, TimeProvider? time = null)
        : this(command, notificationTimeout, () => new MacOSAttachWatcher(io, time))
    {
    }

    private MacOSAttachControl(IAttachControl command, TimeSpan notificationTimeout, Func<MacOSAttachWatcher> watch)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(notificationTimeout, TimeSpan.Zero);
        _command = command;
        _timeout = notificationTimeout;
        _watch = watch;
    }

    /// <inheritdoc />
    public string Description =>
        $"{_command.Description}, confirmed by the IOKit {IOKitConstants.TerminatedNotification}/{IOKitConstants.FirstMatchNotification} " +
        $"notifications of {MacOSBackend.DriverClass} (≤ {_timeout.TotalSeconds:0.#} s)";

    /// <inheritdoc />
    public Task DetachAsync(string device, CancellationToken cancellationToken) =>
        RunAsync(device, AttachChange.Departed, _command.DetachAsync, cancellationToken);

    /// <inheritdoc />
    public Task AttachAsync(string device, CancellationToken cancellationToken) =>
        RunAsync(device, AttachChange.Arrived, _command.AttachAsync, cancellationToken);

    private async Task RunAsync(string device, AttachChange expected, Func<string, CancellationToken, Task> cause, CancellationToken cancellationToken)
    {
        // Registered before the command runs, so a notification that comes while it runs is not missed.
        using var watcher = _watch();
        bool present = watcher.IsPresent(device);
        long mark = watcher.Mark;
        await cause(device, cancellationToken).ConfigureAwait(false);
        bool changes = expected == AttachChange.Departed ? present : !present;
        if (changes)
        {
            await watcher.WaitAsync(expected, device, mark, _timeout, cancellationToken).ConfigureAwait(false);
        }
    }
}
