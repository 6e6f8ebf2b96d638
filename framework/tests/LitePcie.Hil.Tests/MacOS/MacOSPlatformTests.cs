using System.Collections.Concurrent;
using FluentAssertions;
using LitePcie.Hil.Boards;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Dext;
using LitePcie.Hil.MacOS.IOKit;
using LitePcie.Hil.MacOS.Platform;
using LitePcie.Hil.Platform;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.MacOS;

/// <summary>A clock whose timers run <c>factor</c> times faster, so bounded waits expire quickly in tests.</summary>
internal sealed class FastTime(double factor) : TimeProvider
{
    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        base.CreateTimer(callback, state, Scale(dueTime), Scale(period));

    private TimeSpan Scale(TimeSpan t) => t == Timeout.InfiniteTimeSpan ? t : TimeSpan.FromTicks((long)(t.Ticks / factor));
}

/// <summary>Sleep/wake through IORegisterForSystemPower and pmset, with the fake's power messages.</summary>
[TestFixture]
public sealed class MacOSPowerControlTests
{
    private FakeIOKit _io = null!;
    private ConcurrentQueue<string> _commands = null!;

    [SetUp]
    public void SetUp()
    {
        _io = new FakeIOKit();
        _commands = new ConcurrentQueue<string>();
    }

    [TearDown]
    public void TearDown()
    {
        _io.ShouldHaveReleasedEverything("every sleep (root port, power registration)");
        _io.Dispose();
    }

    [Test]
    public async Task Power_messages_become_power_events_in_order_and_sleep_is_acknowledged()
    {
        var control = Control(isRoot: true, onSleepNow: () =>
        {
            _io.SendPower(IOKitConstants.MessageCanSystemSleep, 11);
            _io.SendPower(IOKitConstants.MessageSystemWillSleep, 12);
            _io.SendPower(IOKitConstants.MessageSystemWillPowerOn, 0);
            _io.SendPower(IOKitConstants.MessageSystemHasPoweredOn, 0);
        });
        var events = new List<PowerEvent>();

        await control.SleepAsync(TimeSpan.FromSeconds(1.5), events.Add, CancellationToken.None);

        events.Select(e => e.Transition).Should().Equal([PowerTransition.WillSleep, PowerTransition.WillWake, PowerTransition.Awake],
            "SystemWillSleep, SystemWillPowerOn, SystemHasPoweredOn; CanSystemSleep is a query, not a transition");
        events.Select(e => e.At).Should().BeInAscendingOrder("transitions are reported in the order the system sent them");
        _commands.Should().Equal(["pmset relative wake 2", "pmset sleepnow"], "the wake is scheduled (1.5 s rounded up) before sleeping");
        _io.PowerAllowed.Select(a => a.NotificationId).Should().Equal([(nint)11, (nint)12], "CanSystemSleep and SystemWillSleep are both answered");
    }

    [Test]
    public async Task Without_root_the_control_refuses_and_says_why()
    {
        var control = Control(isRoot: false, onSleepNow: () => { });
        control.MissingReason.Should().StartWith("pmset sleepnow and pmset relative wake need root");

        var e = await FluentActions.Awaiting(() => control.SleepAsync(TimeSpan.FromSeconds(1), _ => { }, CancellationToken.None))
            .Should().ThrowAsync<DeviceCapabilityException>();
        e.Which.Message.Should().Contain("need root");
        _commands.Should().BeEmpty("nothing runs without the privilege");
        new MacOSPowerControl(null, null, Run, () => true).MissingReason.Should().StartWith("not macOS");
    }

    [Test]
    public async Task A_wake_that_never_comes_is_a_timeout_naming_what_was_seen()
    {
        var control = Control(isRoot: true, onSleepNow: () => _io.SendPower(IOKitConstants.MessageSystemWillSleep, 5),
            new MacOSPowerOptions { WakeTimeout = TimeSpan.FromSeconds(9), Time = new FastTime(100) });
        var events = new List<PowerEvent>();

        var e = await FluentActions.Awaiting(() => control.SleepAsync(TimeSpan.FromSeconds(1), events.Add, CancellationToken.None))
            .Should().ThrowAsync<DeviceTimeoutException>();

        e.Which.WaitedFor.Should().Contain("kIOMessageSystemHasPoweredOn").And.Contain("seen: WillSleep");
        e.Which.Timeout.Should().Be(TimeSpan.FromSeconds(10), "1 s of sleep plus the 9 s wake timeout");
        events.Select(x => x.Transition).Should().Equal(PowerTransition.WillSleep);
    }

    [Test]
    public async Task A_vetoed_sleep_is_reported()
    {
        var control = Control(isRoot: true, onSleepNow: () => _io.SendPower(IOKitConstants.MessageSystemWillNotSleep, 0));
        var e = await FluentActions.Awaiting(() => control.SleepAsync(TimeSpan.FromSeconds(1), _ => { }, CancellationToken.None))
            .Should().ThrowAsync<DeviceException>();
        e.Which.Code.Should().Be(DeviceErrorCode.Aborted);
        e.Which.Message.Should().Contain("vetoed");
    }

    private MacOSPowerControl Control(bool isRoot, Action onSleepNow, MacOSPowerOptions? options = null) =>
        new(_io, options, (what, command, timeout, ct) =>
        {
            if (command == "pmset sleepnow")
            {
                onSleepNow();
            }

            return Run(what, command, timeout, ct);
        }, () => isRoot);

    private Task<string> Run(string what, string command, TimeSpan timeout, CancellationToken cancellationToken)
    {
        _commands.Enqueue(command);
        return Task.FromResult("");
    }
}

/// <summary>Board arrivals and departures through IOKit matching notifications, and the lab-command attach control.</summary>
[TestFixture]
public sealed class MacOSAttachTests
{
    private FakeIOKit _io = null!;
    private BoardProfile _profile = null!;

    [SetUp]
    public void SetUp()
    {
        _io = new FakeIOKit();
        _profile = BoardCatalog.Load(BoardCatalog.DefaultBoard);
    }

    [TearDown]
    public void TearDown()
    {
        _io.ShouldHaveReleasedEverything("attach and detach (matching iterators, services)");
        _io.Dispose();
    }

    [Test]
    public async Task The_watcher_sees_the_board_leave_and_come_back()
    {
        var service = Publish("6:0:0");
        using var watcher = new MacOSAttachWatcher(_io);
        watcher.Present.Should().Equal(["0000:06:00.0"], "the board already there when the watcher started");
        long mark = watcher.Mark;

        _io.Terminate(service);
        var gone = await watcher.WaitAsync(AttachChange.Departed, "0000:06:00.0", mark, TimeSpan.FromSeconds(5), CancellationToken.None);
        watcher.IsPresent("0000:06:00.0").Should().BeFalse();
        Publish("6:0:0");
        var back = await watcher.WaitAsync(AttachChange.Arrived, "0000:06:00.0", gone.Sequence, TimeSpan.FromSeconds(5), CancellationToken.None);

        gone.RegistryEntryId.Should().Be(service.EntryId, "the terminated service is the one that arrived first");
        back.RegistryEntryId.Should().NotBe(service.EntryId, "a re-attached board is a new service");
        watcher.Events.Select(e => (e.Change, e.Address)).Should().Equal(
            [(AttachChange.Departed, "0000:06:00.0"), (AttachChange.Arrived, "0000:06:00.0")], "terminate, then first match, in order");
        watcher.IsPresent("0000:06:00.0").Should().BeTrue();
    }

    [Test]
    public async Task Detach_and_attach_run_the_lab_command_then_wait_for_the_notification()
    {
        var service = Publish("2:0:0");
        var lab = new ScriptedAttach(
            detach: () => _io.Terminate(service),
            attach: () => service = Publish("2:0:0"));
        var control = new MacOSAttachControl(lab, TimeSpan.FromSeconds(5), _io);

        await control.DetachAsync("0000:02:00.0", CancellationToken.None);
        await control.AttachAsync("0000:02:00.0", CancellationToken.None);

        lab.Log.Should().Equal(["detach 0000:02:00.0", "attach 0000:02:00.0"]);
        control.Description.Should().Contain("IOServiceTerminate").And.Contain("IOServiceFirstMatch");
    }

    [Test]
    public async Task A_command_that_moves_nothing_times_out_naming_the_notification()
    {
        Publish("2:0:0");
        var control = new MacOSAttachControl(new ScriptedAttach(() => { }, () => { }), TimeSpan.FromMilliseconds(5000), _io, new FastTime(100));

        var e = await FluentActions.Awaiting(() => control.DetachAsync("0000:02:00.0", CancellationToken.None)).Should().ThrowAsync<DeviceTimeoutException>();

        e.Which.WaitedFor.Should().Contain("IOServiceTerminate").And.Contain("LitePCIeDriver at 0000:02:00.0");
        e.Which.Timeout.Should().Be(TimeSpan.FromSeconds(5));
    }

    private FakeService Publish(string pcidebug) => FakeDext.PublishRefusing(_io, _profile, pcidebug, IOReturn.Success);

    private sealed class ScriptedAttach(Action detach, Action attach) : IAttachControl
    {
        public List<string> Log { get; } = [];

        public string Description => "scripted lab switch";

        public Task DetachAsync(string device, CancellationToken cancellationToken)
        {
            Log.Add("detach " + device);
            detach();
            return Task.CompletedTask;
        }

        public Task AttachAsync(string device, CancellationToken cancellationToken)
        {
            Log.Add("attach " + device);
            attach();
            return Task.CompletedTask;
        }
    }
}

/// <summary>ioclasscount, footprint, vmmap and ps outputs parsed into resource readings.</summary>
[TestFixture]
public sealed class MacOSResourceProbeTests
{
    private const string ClassCounts = """
        LitePCIeDriver = 1
        LitePCIeUserClient = 0
        IOUserServer = 14
        IOUserService = 9
        IOUserUserClient = 3
        """;

    private const string Footprint = """
        ======================================================================
        org.litepcie.hil.installer.LitePCIeDriver [412]: 64-bit    Footprint: 2448 KB (16384 bytes per page)
        ======================================================================

          Dirty      Clean  Reclaimable    Regions    Category
            ---        ---          ---        ---    ---
         1104 KB        0 B          0 B         12    MALLOC_SMALL
          768 KB       64 KB         0 B         31    __DATA
            ---        ---          ---        ---    ---
         2448 KB       64 KB         0 B         97    TOTAL
        """;

    private const string Vmmap = """
        Process:         org.litepcie.hil.installer.LitePCIeDriver [412]
        Path:            /Library/SystemExtensions/5F1C/org.litepcie.hil.installer.LitePCIeDriver.dext/org.litepcie.hil.installer.LitePCIeDriver
        Physical footprint:         2.5M
        Physical footprint (peak):  3.1M
        """;

    private const string Ps = """
            1 /sbin/launchd
          412 /Library/SystemExtensions/5F1C/org.litepcie.hil.installer.LitePCIeDriver.dext/org.litepcie.hil.installer.LitePCIeDriver
         1200 /usr/sbin/cfprefsd
         1300 /Applications/My Tools.app/Contents/MacOS/org.litepcie.hil.installer.LitePCIeDriverHelper
        """;

    [Test]
    public void Class_counts_parse_one_per_line_or_comma_separated()
    {
        MacOSResourceProbe.ParseClassCounts(ClassCounts).Should().Equal(new Dictionary<string, long>
        {
            ["LitePCIeDriver"] = 1, ["LitePCIeUserClient"] = 0, ["IOUserServer"] = 14, ["IOUserService"] = 9, ["IOUserUserClient"] = 3,
        });
        MacOSResourceProbe.ParseClassCounts("IOPCIDevice = 2, AppleTestPCI = 1").Should().Equal(
            new Dictionary<string, long> { ["IOPCIDevice"] = 2, ["AppleTestPCI"] = 1 }, "the ioclasscount(8) man page example");
        MacOSResourceProbe.ParseClassCounts("ioclasscount: no class named Foo").Should().BeEmpty();
    }

    [Test]
    public void Footprints_parse_to_bytes()
    {
        MacOSResourceProbe.ParseFootprint(Footprint).Should().Be(2448L * 1024, "the header's Footprint: 2448 KB");
        MacOSResourceProbe.ParseVmmapFootprint(Vmmap).Should().Be((long)(2.5 * 1024 * 1024), "Physical footprint, not the peak");
        MacOSResourceProbe.ParseFootprint("footprint: could not get task for pid 412").Should().BeNull();
    }

    [Test]
    public void The_dext_process_is_found_by_its_executable()
    {
        MacOSResourceProbe.FindProcess(Ps, "org.litepcie.hil.installer.LitePCIeDriver").Should().Be(412, "the executable, not a name that merely starts alike");
        MacOSResourceProbe.FindProcess(Ps, "org.example.Absent").Should().BeNull();
    }

    [Test]
    public void A_sample_reads_class_counts_and_the_footprint_and_tolerates_what_fails()
    {
        var commands = new List<string>();
        var probe = new MacOSResourceProbe(null, (_, command, _, _) =>
        {
            commands.Add(command);
            if (command == "ioclasscount IOUserServer")
            {
                return Task.FromResult("IOUserServer = 14");
            }

            return command switch
            {
                "ps -axo pid=,comm=" => Task.FromResult(Ps),
                "footprint -p 412" => throw new PlatformCommandException("footprint: needs root"),
                "vmmap --summary 412" => Task.FromResult(Vmmap),
                _ => throw new PlatformCommandException($"'{command}' exited with 1"), // every other ioclasscount: an unknown class fails the command
            };
        });

        var readings = probe.Sample("0000:01:00.0");

        readings.Should().BeEquivalentTo(new[]
        {
            new ResourceReading("driver.ioclass.IOUserServer", 14, ResourceUnit.Count),
            new ResourceReading("driver.dext_footprint_bytes", (long)(2.5 * 1024 * 1024), ResourceUnit.Bytes),
        }, "a class that cannot be counted and a footprint that needs root are left out, not fatal");
        probe.LastProblems.Should().Contain(p => p.Contains("footprint: needs root")).And.Contain("ioclasscount printed no count for LitePCIeDriver");
        commands.Should().StartWith("ioclasscount LitePCIeDriver LitePCIeUserClient IOUserServer IOUserService IOUserUserClient");
        new MacOSResourceProbe(null, (_, _, _, _) => throw new PlatformCommandException("must not run"), enabled: false).Sample("x")
            .Should().BeEmpty("off macOS nothing is sampled");
    }
}
