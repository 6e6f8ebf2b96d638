using FluentAssertions;
using LitePcie.Hil.Platform;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Platform;

/// <summary>Lab commands: placeholders, exit codes and timeouts reported in the command's own words.</summary>
[TestFixture]
public sealed class PlatformCommandTests
{
    [Test]
    public void Placeholders_are_expanded_and_unknown_ones_named()
    {
        var values = new Dictionary<string, string> { ["device"] = "0000:02:00.0" };
        PlatformCommand.Expand("switchctl off --port {device}", values).Should().Be("switchctl off --port 0000:02:00.0");
        FluentActions.Invoking(() => PlatformCommand.Expand("relay {port}", values)).Should().Throw<FormatException>()
            .WithMessage("'relay {port}': unknown placeholder {port} (known: {device})");
        FluentActions.Invoking(() => PlatformCommand.Expand("relay {device", values)).Should().Throw<FormatException>().WithMessage("*never closed*");
    }

    [Test]
    public async Task The_attach_control_runs_the_lab_commands_with_the_device()
    {
        string log = Path.Combine(Path.GetTempPath(), $"attach-{Guid.NewGuid():N}.log");
        try
        {
            var control = new CommandAttachControl($"echo off {{device}} >> {log}", $"echo on {{device}} >> {log}", TimeSpan.FromSeconds(10));
            await control.DetachAsync("0000:02:00.0", CancellationToken.None);
            await control.AttachAsync("0000:02:00.0", CancellationToken.None);
            File.ReadAllLines(log).Should().Equal("off 0000:02:00.0", "on 0000:02:00.0");
        }
        finally
        {
            File.Delete(log);
        }
    }

    [Test]
    public async Task A_failing_or_hanging_command_is_an_error_naming_it()
    {
        var fail = async () => await PlatformCommand.RunAsync("detach 0000:02:00.0", "echo relay busy >&2; exit 3", TimeSpan.FromSeconds(10), CancellationToken.None);
        await fail.Should().ThrowAsync<PlatformCommandException>().WithMessage("detach 0000:02:00.0: 'echo relay busy >&2; exit 3' exited with 3: relay busy");

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var hang = async () => await PlatformCommand.RunAsync("attach 0000:02:00.0", "sleep 30", TimeSpan.FromMilliseconds(300), CancellationToken.None);
        await hang.Should().ThrowAsync<PlatformCommandException>().WithMessage("attach 0000:02:00.0: 'sleep 30' did not finish within 0.3 s and was killed");
        clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(20), "the hung command was killed, not waited for");
    }

    [Test]
    public async Task The_power_command_reports_going_to_sleep_and_being_awake()
    {
        var events = new List<PowerEvent>();
        await new CommandPowerControl("test {seconds} -ge 1", TimeSpan.FromSeconds(5)).SleepAsync(TimeSpan.FromMilliseconds(200), events.Add, CancellationToken.None);
        events.Select(e => e.Transition).Should().Equal(PowerTransition.WillSleep, PowerTransition.Awake);
        events[0].Detail.Should().Be("test 1 -ge 1", "the duration is rounded up to whole seconds for the command");
    }

    [Test]
    public void The_process_probe_reads_memory_handles_and_threads()
    {
        var readings = new ProcessResourceProbe().Sample("-");
        string[] names = ["process.managed_bytes", "process.private_bytes", "process.gc_committed_bytes", "process.private_non_gc_bytes", "process.handles", "process.threads"];
        readings.Select(r => r.Name).Should().Equal(OperatingSystem.IsLinux() ? [.. names, "process.native_heap_bytes"] : names);
        readings.Should().OnlyContain(r => r.Value > 0);
        var value = readings.ToDictionary(r => r.Name, r => r.Value);
        value["process.private_non_gc_bytes"].Should().Be(value["process.private_bytes"] - value["process.gc_committed_bytes"],
            "private bytes outside the GC are private bytes less the GC's commit, read in the same sample");
        value["process.gc_committed_bytes"].Should().BeGreaterThanOrEqualTo(value["process.managed_bytes"], "the GC commits at least the heap it holds");
    }

    [Test]
    public void The_c_heap_in_use_follows_native_allocations()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("glibc's mallinfo2 is read on Linux only");
        }

        long before = ProcessResourceProbe.NativeHeapInUse()!.Value;
        nint block = System.Runtime.InteropServices.Marshal.AllocHGlobal(4 << 20);
        try
        {
            (ProcessResourceProbe.NativeHeapInUse()!.Value - before).Should().BeInRange(4 << 20, (4 << 20) + (1 << 20), "a 4 MiB malloc is 4 MiB more of the C heap in use");
        }
        finally
        {
            System.Runtime.InteropServices.Marshal.FreeHGlobal(block);
        }
    }
}
