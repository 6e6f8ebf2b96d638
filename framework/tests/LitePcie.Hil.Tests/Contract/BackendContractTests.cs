using FluentAssertions;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Dma;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Contract;

/// <summary>
/// The device contract every backend keeps, written once: identity and CSRs through the driver, register offsets refused
/// before they reach the device, a verified loopback stream, bounded waits that name what they waited for, close stopping
/// what the session started, and a board that leaves reported gone and latched. Each backend's fixture derives from it
/// (the SIL, the macOS path on the fake IOKit, the Linux path on the fake kernel and on the real litepcie.ko in the guest)
/// and says how to open one board, how to take it off the bus and how to see its engines beside the session; what a
/// backend adds to a scenario (its own error words, its transport's counts) it asserts in the <c>Observe…</c> hooks,
/// which are called before the scenario's action and return the check to run after it.
/// </summary>
[NonParallelizable]
public abstract class BackendContractTests
{
    /// <summary>The session on the rig's one board.</summary>
    protected IDeviceSession Session { get; private set; } = null!;

    /// <summary>The driver's name in <see cref="DeviceInfo.Driver"/>.</summary>
    protected abstract string Driver { get; }

    /// <summary>Bytes of the verified loopback stream.</summary>
    protected virtual long LoopbackBytes => 4L << 20;

    /// <summary>No-progress bound of the loopback stream.</summary>
    protected virtual TimeSpan LoopbackStallTimeout => TimeSpan.FromSeconds(5);

    [SetUp]
    public async Task OpenSessionAsync() => Session = await OpenAsync();

    [TearDown]
    public async Task CloseSessionAsync()
    {
        await Session.DisposeAsync(); // idempotent: a scenario may have closed it already
        await CloseRigAsync();
    }

    [Test]
    public void Identity_and_scratch_go_through_the_driver()
    {
        var check = ObserveIdentity();
        Session.Info.Identifier.Should().Be(Session.Map.Identifier, "the identifier the driver read from the ROM at open");
        Session.ReadIdentifier().Should().Be(Session.Map.Identifier, "the identifier ROM read word by word through the driver");
        var scratch = Session.Map.Layout.Ctrl.Scratch;
        uint before = Session.Read32(scratch);
        Session.Write(scratch, 0xDEADBEEF);
        uint read = Session.Read32(scratch);
        Session.Write(scratch, before); // restored: on a real board the next fixture (in the guest, the Bar suite) expects what it found
        read.Should().Be(0xDEADBEEFu, "ctrl_scratch round trip through the driver");
        Session.Info.Driver.Should().Be(Driver);
        Session.Info.DmaGeometry.Should().Be(new DmaRingGeometry(256, 8192));
        Session.Info.Bars.Select(b => (b.Index, b.Size)).Should().Equal((0, 1UL << 20), (2, 1UL << 20));
        var cs = Session.ReadConfigSpace();
        (cs.VendorId, cs.DeviceId).Should().Be(((ushort)0x10EE, (ushort)0x7024));
        check();
    }

    [Test]
    public void Csr_offsets_outside_the_bar_or_unaligned_are_refused_before_the_device()
    {
        var check = ObserveRefusedOffsets();
        var outside = FluentActions.Invoking(() => Session.ReadCsr(0x10_0000)).Should().Throw<DeviceArgumentException>().Which;
        var unalignedRead = FluentActions.Invoking(() => Session.ReadCsr(0x6)).Should().Throw<DeviceArgumentException>().Which;
        var unalignedWrite = FluentActions.Invoking(() => Session.WriteCsr(0x802, 1)).Should().Throw<DeviceArgumentException>().Which;
        unalignedRead.Message.Should().Contain("a multiple of 4");
        unalignedWrite.Message.Should().Contain("multiple of 4");
        check(outside, unalignedRead, unalignedWrite);
    }

    [Test]
    public async Task A_loopback_stream_is_verified_through_the_mapped_rings()
    {
        var ch = Session.Channels[0];
        var check = ObserveLoopback();
        var report = await DmaStreamer.RunAsync(ch, new SequencePattern(ch.Geometry.BufferSize),
            new StreamOptions { Bytes = LoopbackBytes, StallTimeout = LoopbackStallTimeout });

        report.Stall.Should().BeNull();
        report.Errors.Should().Be(0, string.Join("; ", report.ErrorDetails));
        report.RxBytes.Should().BeGreaterThanOrEqualTo(LoopbackBytes, "every byte came back through the mapped writer ring");
        check(report);
    }

    [Test]
    public async Task Waits_are_bounded_and_name_what_they_waited_for()
    {
        var ch = Session.Channels[1];
        ch.Start(DmaDirection.Writer, DmaStartOptions.Default); // no loopback, no TX: nothing arrives
        var e = await FluentActions.Awaiting(async () => await ch.WaitAsync(DmaDirection.Writer, 1, TimeSpan.FromMilliseconds(200)))
            .Should().ThrowAsync<DeviceTimeoutException>();
        e.Which.WaitedFor.Should().Contain(WaitedForHardwareCount("pcie_dma1 writer (FPGA→host)", 1));
        ch.Stop(DmaDirection.Writer);
        ch.GetCounters(DmaDirection.Writer).Running.Should().BeFalse();
    }

    [Test]
    public async Task Closing_the_session_stops_what_it_started_and_keeps_its_last_word()
    {
        var ch = Session.Channels[0];
        ch.SetLoopback(true);
        ch.Start(DmaDirection.Writer, DmaStartOptions.Default);
        ch.Start(DmaDirection.Reader, DmaStartOptions.Default);
        EngineEnabled(0, DmaDirection.Writer).Should().BeTrue("writer_enable while the client streams");
        long generation = Session.Generation;
        var check = ObserveClose();

        await Session.DisposeAsync();

        EngineEnabled(0, DmaDirection.Writer).Should().BeFalse("writer_enable after the client closed");
        EngineEnabled(0, DmaDirection.Reader).Should().BeFalse("reader_enable after the client closed");
        Session.Generation.Should().Be(generation, "the generation seen at close");
        Session.IsDeviceGone.Should().BeFalse();
        FluentActions.Invoking(() => ch.GetCounters(DmaDirection.Writer)).Should().Throw<ObjectDisposedException>(
            "a closed session reaches neither the driver nor its unmapped status");
        check();
    }

    [Test]
    public async Task A_board_that_left_is_reported_gone_and_latched()
    {
        await RemoveBoardAsync();

        var e = FluentActions.Invoking(() => Session.Read32(Session.Map.Layout.Ctrl.Scratch)).Should().Throw<DeviceGoneException>().Which;
        e.Code.Should().Be(DeviceErrorCode.DeviceGone);
        Session.IsDeviceGone.Should().BeTrue("the session latched that the device is gone");
        FluentActions.Invoking(() => Session.Channels[0].Start(DmaDirection.Writer, DmaStartOptions.Default))
            .Should().Throw<DeviceGoneException>("no further calls reach the device once it is gone");
        Session.IsDeviceGone.Should().BeTrue("still gone: the latch holds");
        ObserveGone(e);
    }

    /// <summary>Builds the rig with one board and opens a session on it.</summary>
    protected abstract Task<IDeviceSession> OpenAsync();

    /// <summary>Takes the rig down after the session closed (and checks what the backend left behind).</summary>
    protected abstract Task CloseRigAsync();

    /// <summary>Takes the board off the bus under the open session (surprise removal).</summary>
    protected abstract Task RemoveBoardAsync();

    /// <summary>Whether an engine is enabled, seen beside the session (the board's <c>enable</c> bit or the kernel's state).</summary>
    protected abstract bool EngineEnabled(int channel, DmaDirection direction);

    /// <summary>How this backend's timeout names the hardware count of an engine (nothing moved) it waited for.</summary>
    protected abstract string WaitedForHardwareCount(string engine, long target);

    /// <summary>Backend facts of the identity scenario (called first, before the scratch is written).</summary>
    protected virtual Action ObserveIdentity() => () => { };

    /// <summary>Backend facts of the refused offsets: outside the BAR, unaligned read, unaligned write.</summary>
    protected virtual Action<DeviceArgumentException, DeviceArgumentException, DeviceArgumentException> ObserveRefusedOffsets() => (_, _, _) => { };

    /// <summary>Backend facts of the loopback stream.</summary>
    protected virtual Action<StreamReport> ObserveLoopback() => _ => { };

    /// <summary>Backend facts after close.</summary>
    protected virtual Action ObserveClose() => () => { };

    /// <summary>Backend facts of the gone device's first refusal.</summary>
    protected virtual void ObserveGone(DeviceGoneException first)
    {
    }
}
