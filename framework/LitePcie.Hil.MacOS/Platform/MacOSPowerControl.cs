using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using LitePcie.Hil.Devices;
using LitePcie.Hil.MacOS.IOKit;
using LitePcie.Hil.Platform;

namespace LitePcie.Hil.MacOS.Platform;

/// <summary>Options of <see cref="MacOSPowerControl"/>.</summary>
public sealed record MacOSPowerOptions
{
    /// <summary>Bound of each <c>pmset</c> command.</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How long after the requested sleep duration <c>SystemHasPoweredOn</c> may take.</summary>
    public TimeSpan WakeTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Clock of the events and the bounded wait.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;
}

/// <summary>
/// System sleep and wake on a Mac: <c>pmset relative wake N</c> schedules the wake, <c>pmset sleepnow</c> sleeps, and
/// the transitions are the system's own power messages (<c>IORegisterForSystemPower</c>): SystemWillSleep →
/// <see cref="PowerTransition.WillSleep"/>, SystemWillPowerOn → <see cref="PowerTransition.WillWake"/>,
/// SystemHasPoweredOn → <see cref="PowerTransition.Awake"/>. <see cref="PowerTransition.Asleep"/> is never reported:
/// a sleeping Mac runs no code to observe it. CanSystemSleep and SystemWillSleep are acknowledged with
/// <c>IOAllowPowerChange</c> at once, as every registered client must. Transitions are reported from the caller's
/// flow, in order, never from the IOKit callback. <c>pmset</c> needs root: without it this control reports why.
/// </summary>
public sealed class MacOSPowerControl : IPowerControl
{
    private readonly IIOKit? _io;
    private readonly MacOSPowerOptions _options;
    private readonly CommandRunner _run;
    private readonly Func<bool> _isRoot;

    /// <summary>Sleep through this machine's IOKit and <c>pmset</c>.</summary>
    public MacOSPowerControl(MacOSPowerOptions? options = null)
        : this(IOKitRuntime.Current, options, MacOSCommands.Default, () => Environment.IsPrivilegedProcess)
    {
    }

    /// <summary>Sleep through a given IOKit and command runner (fakes in tests); <paramref name="isRoot"/> answers whether pmset may run.</summary>
    internal MacOSPowerControl(IIOKit? io, MacOSPowerOptions? options, CommandRunner run, Func<bool> isRoot)
    {
        _io = io;
        _options = options ?? new MacOSPowerOptions();
        _run = run;
        _isRoot = isRoot;
    }

    /// <inheritdoc />
    public string Description => "macOS system sleep: pmset relative wake N + pmset sleepnow, transitions from IORegisterForSystemPower";

    /// <summary>Why this control cannot sleep the machine (null when it can).</summary>
    public string? MissingReason =>
        _io is null ? IOKitRuntime.NotMacOSReason ?? "no IOKit implementation was given"
        : !_isRoot() ? "pmset sleepnow and pmset relative wake need root: run the test host as root (or a sudoers rule for pmset and a SleepCommand), not as " + Environment.UserName
        : null;

    /// <inheritdoc />
    public async Task SleepAsync(TimeSpan duration, Action<PowerEvent> onTransition, CancellationToken cancellationToken)
    {
        if (MissingReason is { } reason)
        {
            throw new DeviceCapabilityException("-", "system sleep/wake (pmset)", reason);
        }

        var io = _io!;
        var time = _options.Time;
        int seconds = Math.Max(1, (int)Math.Ceiling(duration.TotalSeconds));
        var listener = new PowerListener(io, time);
        try
        {
            await _run("schedule the wake", string.Create(CultureInfo.InvariantCulture, $"pmset relative wake {seconds}"), _options.CommandTimeout, cancellationToken)
                .ConfigureAwait(false);
            await _run("sleep", "pmset sleepnow", _options.CommandTimeout, cancellationToken).ConfigureAwait(false);

            var bound = TimeSpan.FromSeconds(seconds) + _options.WakeTimeout;
            using var deadline = new CancellationTokenSource(bound, time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
            var seen = new List<string>();
            try
            {
                while (true)
                {
                    var e = await listener.Events.ReadAsync(linked.Token).ConfigureAwait(false);
                    if (e is null)
                    {
                        throw new DeviceException(DeviceErrorCode.Aborted, "-",
                            "system sleep was vetoed (kIOMessageSystemWillNotSleep): a process holds a sleep assertion (see `pmset -g assertions`)");
                    }

                    seen.Add(e.Transition.ToString());
                    onTransition(e);
                    if (e.Transition == PowerTransition.Awake)
                    {
                        return;
                    }
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new DeviceTimeoutException("-",
                    $"kIOMessageSystemHasPoweredOn after 'pmset sleepnow' (seen: {(seen.Count == 0 ? "no power message" : string.Join(", ", seen))})", bound);
            }
        }
        finally
        {
            listener.Dispose();
        }
    }

    /// <summary>One IORegisterForSystemPower registration; its messages become <see cref="PowerEvent"/>s (null = vetoed).</summary>
    private sealed unsafe class PowerListener : IDisposable
    {
        private readonly IIOKit _io;
        private readonly TimeProvider _time;
        private readonly long _start;
        private readonly Channel<PowerEvent?> _events = Channel.CreateUnbounded<PowerEvent?>(new UnboundedChannelOptions { SingleReader = true });
        private readonly nint _refcon;
        private readonly uint _rootPort;
        private readonly NotificationQueue? _notifications;
        private uint _notifier;

        public PowerListener(IIOKit io, TimeProvider time)
        {
            _io = io;
            _time = time;
            _start = time.GetTimestamp();
            _refcon = CallbackTargets.Add(this);
            _rootPort = io.IORegisterForSystemPower(_refcon, out nint port,
                (nint)(delegate* unmanaged[Cdecl]<nint, uint, uint, nint, void>)&OnPowerMessage, out _notifier);
            if (_rootPort == 0)
            {
                CallbackTargets.Remove(_refcon);
                throw new DeviceException(DeviceErrorCode.IoError, "-", "IORegisterForSystemPower failed: the sleep/wake transitions cannot be observed");
            }

            try
            {
                _notifications = new NotificationQueue(io, "org.litepcie.hil.power", port);
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        public ChannelReader<PowerEvent?> Events => _events.Reader;

        public void Dispose()
        {
            if (_notifier != 0)
            {
                _io.IODeregisterForSystemPower(ref _notifier);
                _notifier = 0;
            }

            if (_rootPort != 0)
            {
                _io.IOServiceClose(_rootPort);
            }

            _notifications?.Dispose();
            CallbackTargets.Remove(_refcon);
            _events.Writer.TryComplete();
        }

        private void OnMessage(uint messageType, nint argument)
        {
            var at = _time.GetElapsedTime(_start);
            switch (messageType)
            {
                case IOKitConstants.MessageCanSystemSleep:
                    _io.IOAllowPowerChange(_rootPort, argument);
                    break;
                case IOKitConstants.MessageSystemWillSleep:
                    _io.IOAllowPowerChange(_rootPort, argument); // first: sleep waits for every registered client's answer
                    _events.Writer.TryWrite(new PowerEvent(PowerTransition.WillSleep, at, "kIOMessageSystemWillSleep (acknowledged with IOAllowPowerChange)"));
                    break;
                case IOKitConstants.MessageSystemWillNotSleep:
                    _events.Writer.TryWrite(null);
                    break;
                case IOKitConstants.MessageSystemWillPowerOn:
                    _events.Writer.TryWrite(new PowerEvent(PowerTransition.WillWake, at, "kIOMessageSystemWillPowerOn"));
                    break;
                case IOKitConstants.MessageSystemHasPoweredOn:
                    _events.Writer.TryWrite(new PowerEvent(PowerTransition.Awake, at, "kIOMessageSystemHasPoweredOn"));
                    break;
                default:
                    break; // other power messages (e.g. capability changes) carry no transition
            }
        }

        /// <summary><c>IOServiceInterestCallback</c> of the root power domain.</summary>
        [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
        private static void OnPowerMessage(nint refcon, uint service, uint messageType, nint argument)
        {
            using var scope = CallbackTargets.Enter();
            try
            {
                CallbackTargets.Get<PowerListener>(refcon)?.OnMessage(messageType, argument);
            }
            catch (Exception)
            {
                // Never let an exception cross into IOKit's dispatch.
            }
        }
    }
}
