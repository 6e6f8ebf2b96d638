using System.Diagnostics;
using System.Text.RegularExpressions;
using FluentAssertions;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Dma;
using LitePcie.Hil.Measurement;
using NUnit.Framework;
using static LitePcie.Hil.Linux.LinuxConstants;

namespace LitePcie.Hil.Linux.Tests;

/// <summary>
/// The driver twin: litepcie.ko's semantics, written once, asserted identically against <see cref="FakeLitePcieKernel"/>
/// (every <c>dotnet test</c>) and against the real driver (<c>LITEPCIE_HIL_DRIVER_TWIN=real</c>, in the guest). Each
/// expectation is derived from upstream <c>main.c</c> at a71443e and the measured notes; docs/linux-backend.md lists
/// the code path of each. Raw tests call the driver directly; backend tests go through <see cref="LinuxBackend"/>.
/// </summary>
[TestFixtureSource(typeof(TwinKernels), nameof(TwinKernels.All))]
[Category("DriverTwin")]
[NonParallelizable]
[CancelAfter(120_000)]
public sealed class DriverTwinTests(TwinKind kind)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);
    private ITwinKernel _k = null!;
    private readonly List<int> _fds = [];
    private readonly List<IDeviceSession> _sessions = [];

    private ILinuxSyscalls Sys => _k.Sys;

    private int Buffer => _k.Profile.DmaGeometry.BufferSize;

    [SetUp]
    public void SetUp() => _k = TwinKernels.Create(kind);

    [TearDown]
    public async Task TearDownAsync()
    {
        foreach (var s in _sessions)
        {
            await s.DisposeAsync();
        }

        foreach (int fd in _fds)
        {
            Sys.Close(fd); // the driver's release stops and unlocks whatever this file owns
        }

        // An engine enabled without the lock outlives its file (the driver's flag stays on): on the real board, shared by
        // every test and fixture after this one, each test stops what it ran.
        StopEveryEngine();

        _k.Dispose();
    }

    // ---- discovery (issue item 1) ----

    [Test]
    public async Task Nodes_have_no_parent_and_the_board_is_found_from_the_pci_side()
    {
        var node = new LitePcieNode(_k.NodePath(0), Path.GetFileName(_k.NodePath(0)), 0);
        File.Exists(Path.Combine(node.SysfsDirectory(_k.Paths), "device")).Should().BeFalse(
            "device_create(litepcie_class, NULL, ...) gives the node no parent: nothing links it to the PCI function");
        Directory.Exists(LitePcieNodes.BindingOf(_k.Paths, _k.Address)).Should().BeTrue("the function is bound under /sys/bus/pci/drivers/litepcie/<bdf>");

        var backend = _k.Backend();
        var found = await backend.EnumerateAsync();
        found.Select(d => d.Address).Should().Contain(_k.Address, $"discovery pairs the binding with its node block ({backend.LastProblem ?? "no problem reported"})");
        var session = await OpenAsync(backend);
        session.Channels.Should().HaveCount(_k.Profile.CsrMap.Layout.DmaChannels.Count, "one node per DMA channel (DMA_CHANNELS)");
        int fd = Open(0);
        var raw = new System.Text.StringBuilder();
        var ident = _k.Profile.CsrMap.Layout.Identifier;
        for (int i = 0; i < 256; i++)
        {
            var r = new LitePcieReg { Address = (uint)ident.CharAddress(i) };
            Raw.Ioctl(Sys, fd, LitePcieIoctl.Reg, ref r).Should().Be(0);
            if ((r.Value & 0xFF) == 0)
            {
                break;
            }

            raw.Append((char)(r.Value & 0xFF));
        }

        session.Info.Identifier.Should().NotBeEmpty().And.Be(raw.ToString(), "the identity that confirmed the pairing is the identifier ROM read through the node");
    }

    // ---- what matched: numbers, layouts, MMAP_DMA_INFO, mmap ----

    [Test]
    public void Ioctls_are_decoded_by_number_and_unknown_ones_answer_ENOTTY()
    {
        int fd = Open(0);
        var scratch = _k.Profile.CsrMap.Layout.Ctrl.Scratch;
        uint before = Raw.Read(Sys, fd, scratch);
        Raw.Write(Sys, fd, scratch, 0x12345678);
        uint first = Raw.Read(Sys, fd, scratch);
        Raw.Write(Sys, fd, scratch, 0xDEADBEEF);
        uint second = Raw.Read(Sys, fd, scratch);
        Raw.Write(Sys, fd, scratch, before); // restored: in the guest the board is shared with the suites after the twin (the Bar suite expects its reset value)
        first.Should().Be(0x12345678u, "struct litepcie_ioctl_reg {addr@0, val@4, is_write@8} round-trips");
        second.Should().Be(0xDEADBEEFu);
        Raw.Read(Sys, fd, scratch).Should().Be(before, "ctrl_scratch restored to what the test found");

        var info = new LitePcieMmapDmaInfo();
        Raw.Ioctl(Sys, fd, LitePcieIoctl.MmapDmaInfo, ref info).Should().Be(0);
        (info.TxBufferOffset, info.TxBufferSize, info.TxBufferCount).Should().Be((0UL, 8192UL, 256UL), "DMA_BUFFER_SIZE × DMA_BUFFER_COUNT at offset 0");
        (info.RxBufferOffset, info.RxBufferSize, info.RxBufferCount).Should().Be((2UL << 20, 8192UL, 256UL), "the RX area at DMA_BUFFER_TOTAL_SIZE");

        ulong unused = 0;
        Raw.Ioctl(Sys, fd, LitePcieIoctl.Ioc(3, 'S', 3, 8), ref unused).Should().Be(-ENOTTY, "numbers 3–19 and 23 are unused: -ENOIOCTLCMD");
        var flash = new LitePcieFlash { TxLength = 8 };
        Raw.Ioctl(Sys, fd, LitePcieIoctl.Flash, ref flash).Should().Be(-ENOTTY, "FLASH is compiled out without CSR_FLASH_SPI_CONTROL_ADDR");
        var icap = new LitePcieIcap();
        Raw.Ioctl(Sys, fd, LitePcieIoctl.Icap, ref icap).Should().Be(-ENOTTY, "ICAP is compiled out without CSR_ICAP_BASE");
    }

    [Test]
    public void Mmap_takes_exactly_the_ring_size_at_the_two_offsets()
    {
        int fd = Open(0);
        long ring = 2L << 20;
        foreach (long offset in new[] { 0L, ring })
        {
            nint p = Sys.Mmap((nint)ring, ProtRead | ProtWrite, fd, offset, out int error);
            p.Should().NotBe(0, $"2 MiB at offset 0x{offset:X} is a ring (errno {LinuxErrors.Name(error)})");
            Sys.Munmap(p, (nint)ring);
        }

        foreach (var (length, offset) in new[] { (ring / 2, 0L), (ring * 2, 0L), (ring, 4096L), (ring, ring * 2) })
        {
            Sys.Mmap((nint)length, ProtRead, fd, offset, out int error).Should().Be(0, $"{length} bytes at 0x{offset:X} is neither ring");
            error.Should().Be(EINVAL);
        }
    }

    [Test]
    public void Poll_wakes_readers_above_two_buffers_and_writers_below_half_the_ring()
    {
        int fd = Open(0);
        // Both directions stopped: hw = 0, and the UPDATE ioctls place sw where the thresholds can be probed exactly.
        Raw.Update(Sys, fd, DmaDirection.Writer, -2);
        Raw.Update(Sys, fd, DmaDirection.Reader, 128);
        PollNow(fd, PollIn | PollOut).Should().Be(0, "hw − sw = 2 is not above 2; sw − hw = 128 is not below 128");
        Raw.Update(Sys, fd, DmaDirection.Writer, -3);
        PollNow(fd, PollIn).Should().Be(PollIn, "hw − sw = 3 > 2");
        Raw.Update(Sys, fd, DmaDirection.Reader, 127);
        PollNow(fd, PollOut).Should().Be(PollOut, "sw − hw = 127 < 128, whether the engine runs or not");
    }

    [Test]
    public void Reads_under_one_buffer_return_0_and_an_empty_ring_answers_EAGAIN()
    {
        int fd = Open(0);
        Raw.Read(Sys, fd, new byte[Buffer]).Should().Be(-EAGAIN, "O_NONBLOCK and hw == sw");
        Raw.Update(Sys, fd, DmaDirection.Writer, -1); // hw − sw = 1: one buffer "complete"
        Raw.Read(Sys, fd, new byte[100]).Should().Be(0, "fewer than DMA_BUFFER_SIZE bytes asked: the copy loop never runs, 0 looks like end of file");
        Raw.Dma(Sys, fd, DmaDirection.Writer, 0).SwCount.Should().Be(-1, "nothing was consumed");
    }

    [Test]
    public void A_non_blocking_write_answers_EAGAIN_on_an_empty_ring_and_0_on_a_full_one()
    {
        int fd = Open(0);
        var one = new byte[Buffer];
        Raw.Write(Sys, fd, one).Should().Be(-EAGAIN, "the non-blocking test is hw == sw: the empty ring, where there is most room (P18)");
        Raw.Update(Sys, fd, DmaDirection.Reader, 1);
        Raw.Write(Sys, fd, one).Should().Be(Buffer, "sw − hw = 1 < 128: one buffer copied");
        Raw.Update(Sys, fd, DmaDirection.Reader, 128);
        Raw.Write(Sys, fd, one).Should().Be(0, "sw − hw = 128: the ring is full and a non-blocking write returns 0, not EAGAIN");
        Raw.Update(Sys, fd, DmaDirection.Reader, -2);
        Raw.Write(Sys, fd, new byte[2 * Buffer]).Should().Be(2 * Buffer, "sw < hw: both buffers are skipped (not copied) and still counted as written");
        Raw.Dma(Sys, fd, DmaDirection.Reader, 0).SwCount.Should().Be(0);
    }

    [Test]
    public void Start_and_stop_program_the_engine_and_its_interrupt_as_the_driver_does()
    {
        int fd = Open(0);
        var ch = _k.Profile.CsrMap.Layout.DmaChannels[0];
        var msi = _k.Profile.CsrMap.Layout.Msi.Enable;
        uint bit = 1u << ch.Interrupt(DmaDirection.Writer);
        Raw.Dma(Sys, fd, DmaDirection.Writer, 1);
        (Raw.Read(Sys, fd, ch.Writer.Enable) & 1).Should().Be(1u, "enable ← 1 last");
        Raw.Read(Sys, fd, ch.Writer.LoopProgN).Should().Be(1u, "loop mode after the 256 descriptors");
        Raw.Read(Sys, fd, ch.Writer.Level).Should().BeGreaterThan(0u, "descriptors in the table");
        (Raw.Read(Sys, fd, msi) & bit).Should().Be(bit, "litepcie_enable_interrupt after the start");

        var stopped = Raw.Dma(Sys, fd, DmaDirection.Writer, 0);
        (stopped.HwCount, stopped.SwCount).Should().Be((0L, 0L), "the stop clears the counters");
        (Raw.Read(Sys, fd, ch.Writer.Enable) & 1).Should().Be(0u);
        Raw.Read(Sys, fd, ch.Writer.Level).Should().Be(0u, "the table was flushed");
        (Raw.Read(Sys, fd, msi) & bit).Should().Be(0u, "the interrupt is disabled before the stop");
    }

    [Test]
    public async Task The_driver_count_is_the_interrupt_handlers_fold_of_loop_status()
    {
        int fd = Open(0);
        var ch = _k.Profile.CsrMap.Layout.DmaChannels[0];
        Raw.Loopback(Sys, fd, true);
        Raw.Dma(Sys, fd, DmaDirection.Writer, 1);
        Raw.Dma(Sys, fd, DmaDirection.Reader, 1);
        await UntilAsync(() => Raw.Dma(Sys, fd, DmaDirection.Writer, 1).HwCount >= 64, "writer hw count 64");
        Raw.Dma(Sys, fd, DmaDirection.Reader, 0); // no more data: the writer comes to rest
        uint status = await SettledAsync(() => Raw.Read(Sys, fd, ch.Writer.LoopStatus));
        long hw = Raw.Dma(Sys, fd, DmaDirection.Writer, 1).HwCount;
        long fold = new HwCounter(256).Update(status);
        hw.Should().BeGreaterThanOrEqualTo(64);
        (fold - hw).Should().BeInRange(0, 32,
            $"hw = (hw & ~0xFFFFFF) | (count·256 + index) at the last interrupt (every 32nd descriptor), loop_status now {LoopStatus.FromRaw(status)}; " +
            "the 2^24 wrap itself (16777184 → 16777216 → 16777248) is 137 GB away and pinned by HwCounterTests");
    }

    // ---- flow control: the hardware does not wait (issue item 6) ----

    [Test]
    public async Task The_engines_loop_their_tables_whatever_software_consumed()
    {
        int fd = Open(0);
        Raw.Loopback(Sys, fd, true);
        Raw.Dma(Sys, fd, DmaDirection.Writer, 1);
        Raw.Dma(Sys, fd, DmaDirection.Reader, 1);
        await UntilAsync(() => Raw.Dma(Sys, fd, DmaDirection.Writer, 1).HwCount > 256 + 64, "the writer past a full ring with sw at 0");
        var w = Raw.Dma(Sys, fd, DmaDirection.Writer, 1);
        (w.HwCount - w.SwCount).Should().BeGreaterThan(256, "the writer overwrote buffers software never consumed: no flow control towards the host");
        var r = Raw.Dma(Sys, fd, DmaDirection.Reader, 1);
        r.HwCount.Should().BeGreaterThan(r.SwCount + 128, "the reader fetched slots software never filled");
    }

    // ---- counters without side effects (issue item 2) ----

    [Test]
    public async Task Another_sessions_counter_read_leaves_a_running_writer_alone()
    {
        var backend = _k.Backend();
        var first = await OpenAsync(backend);
        var second = await OpenAsync(backend);
        var ch = first.Channels[0];
        ch.SetLoopback(true);
        ch.Start(DmaDirection.Writer, DmaStartOptions.Default);
        ch.Start(DmaDirection.Reader, DmaStartOptions.Default);
        await ch.WaitAsync(DmaDirection.Writer, 32, Bound);
        var msi = _k.Profile.CsrMap.Layout.Msi.Enable;
        uint bit = 1u << ch.Layout.Interrupt(DmaDirection.Writer);

        var seen = second.Channels[0].GetCounters(DmaDirection.Writer);
        seen.Running.Should().BeTrue();
        second.Channels[0].GetCounters(DmaDirection.Reader).Running.Should().BeTrue();
        var after = ch.GetCounters(DmaDirection.Writer);
        after.Running.Should().BeTrue("a counter read by another open file sends the engine's own state back");
        after.HwCount.Should().BeGreaterThanOrEqualTo(32, "the counts were not zeroed by a stop");
        (first.Read32(msi) & bit).Should().Be(bit, "the writer's MSI bit is still set");
        var idle = second.Channels[^1].Index != 0 ? second.Channels[^1] : null;
        idle?.GetCounters(DmaDirection.Writer).Running.Should().BeFalse("and a stopped engine is not started by a read");
        (first.Read32(ch.Layout.Writer.Enable) & 1).Should().Be(1u);
    }

    // ---- LOCK (issue item 4) ----

    [Test]
    public void Lock_is_per_channel_refuses_even_its_holder_and_any_file_releases_it()
    {
        int a = Open(0), b = Open(0), c = Open(0);
        var w = DmaDirection.Writer;
        Raw.Lock(Sys, a, w, request: true).Status(w).Should().Be(1, "free: A becomes the owner");
        Raw.Lock(Sys, a, w, request: true).Status(w).Should().Be(0, "a second request answers 0 even to the holder");
        Raw.Lock(Sys, b, w, request: true).Status(w).Should().Be(0);
        Raw.Lock(Sys, b, DmaDirection.Reader).Status(DmaDirection.Reader).Should().Be(1, "status is 1 when nothing was requested");
        Raw.Lock(Sys, b, w, release: true); // B never held it
        Raw.Lock(Sys, c, w, request: true).Status(w).Should().Be(1, "any file can release: C takes it");
        Raw.Dma(Sys, c, w, 1);
        var ch = _k.Profile.CsrMap.Layout.DmaChannels[0];
        (Raw.Read(Sys, c, ch.Writer.Enable) & 1).Should().Be(1u);

        Sys.Close(a).Should().Be(0);
        _fds.Remove(a);
        (Raw.Read(Sys, c, ch.Writer.Enable) & 1).Should().Be(0u, "A still believed it owned the writer: its close stopped C's DMA");
        Raw.Lock(Sys, b, w, request: true).Status(w).Should().Be(1, "and cleared C's lock");
    }

    [Test]
    public async Task A_direction_held_by_another_file_is_reported_as_another_process_holding_the_DMA()
    {
        int other = Open(0);
        Raw.Lock(Sys, other, DmaDirection.Writer, request: true).WriterStatus.Should().Be(1);
        var session = await OpenAsync(_k.Backend());
        var act = () => session.Channels[0].Start(DmaDirection.Writer, DmaStartOptions.Default);
        act.Should().Throw<DeviceBusyException>().WithMessage("*pcie_dma0 writer*held by another open file*another process holds the DMA*status 0*");
        (session.Read32(session.Channels[0].Layout.Writer.Enable) & 1).Should().Be(0u, "the enable was never sent");
        var stop = () => session.Channels[0].Stop(DmaDirection.Writer);
        stop.Should().NotThrow("an engine that is not running needs no stop");
        ((LinuxDmaChannel)session.Channels[0]).HoldsLock(DmaDirection.Writer).Should().BeFalse();
    }

    // ---- no unbounded call (issue item 3) ----

    [Test]
    public async Task Copy_mode_waits_are_bounded_and_cancellable()
    {
        var session = await OpenAsync(_k.Backend());
        var ch = (LinuxDmaChannel)session.Channels[0];
        var clock = Stopwatch.StartNew();
        var read = () => ch.ReadCopy(new byte[Buffer], TimeSpan.FromMilliseconds(300));
        read.Should().Throw<DeviceTimeoutException>().WithMessage("*read on*no complete writer buffer*");
        clock.Elapsed.Should().BeLessThan(Bound, "a blocking read on the real driver would never have returned");

        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        var cancelled = () => ch.ReadCopy(new byte[Buffer], TimeSpan.FromMinutes(5), cancel.Token);
        cancelled.Should().Throw<OperationCanceledException>();

        var first = ch.WriteCopy(new byte[128 * Buffer], TimeSpan.FromSeconds(5));
        first.Bytes.Should().Be(128 * Buffer, "the EAGAIN of an empty ring is answered with one write whose condition holds: 128 buffers fit");
        var full = () => ch.WriteCopy(new byte[Buffer], TimeSpan.FromMilliseconds(300));
        full.Should().Throw<DeviceTimeoutException>().WithMessage("*stays full*");
    }

    // ---- removal (issue item 5) ----

    /// <summary>
    /// The removal the real driver survives: no file open on its nodes. Its remove destroys the nodes and lets go of the
    /// function; nothing is found until a rescan probes it again, on new minors, with the SoC reset at probe.
    /// </summary>
    [Test]
    public async Task A_board_removed_with_no_file_open_is_gone_until_a_rescan_brings_it_back_on_new_nodes()
    {
        if (_k.RemovalUnavailable is { } why)
        {
            Assert.Ignore(why);
        }

        var backend = _k.Backend();
        string before = _k.NodePath(0);
        _k.Remove();
        var found = await backend.EnumerateAsync();
        found.Should().BeEmpty($"the driver's remove let go of {_k.Address} and destroyed its nodes");

        _k.Rescan();
        _k.NodePath(0).Should().NotBe(before, "the driver's minor counter only grows: a re-probed board gets new nodes");
        var again = await OpenAsync(backend);
        var scratch = again.Map.Layout.Ctrl.Scratch;
        again.Read32(scratch).Should().Be(CtrlBlock.ScratchResetValue, "the probe reset the SoC");
        again.Write(scratch, 0xC0FFEE);
        again.Read32(scratch).Should().Be(0xC0FFEEu);
        again.Write(scratch, CtrlBlock.ScratchResetValue);
    }

    [Test]
    public async Task After_removal_the_session_never_calls_the_driver_and_a_rescan_brings_new_nodes()
    {
        if (_k.RemovalWithOpenFilesUnavailable is { } why)
        {
            Assert.Ignore(why);
        }

        var backend = _k.Backend();
        var session = await OpenAsync(backend);
        var ch = session.Channels[0];
        ch.SetLoopback(true);
        ch.Start(DmaDirection.Writer, DmaStartOptions.Default);
        string before = _k.NodePath(0);

        _k.Remove();
        session.IsDeviceGone.Should().BeTrue("the binding and the node left sysfs");
        var read = () => session.Read32(session.Map.Layout.Ctrl.Scratch);
        read.Should().Throw<DeviceGoneException>().WithMessage("*not called: litepcie.ko would reach freed memory*");
        var counters = () => ch.GetCounters(DmaDirection.Writer);
        counters.Should().Throw<DeviceGoneException>();
        _sessions.Remove(session);
        await session.DisposeAsync();
        LinuxSession.ParkedDescriptors.Should().BeGreaterThanOrEqualTo(session.Channels.Count, "the gone board's descriptors are parked, not closed");
        _k.FreedMemoryEvidence().Should().BeEmpty("no call reached the removed board's freed state");

        _k.Rescan();
        _k.NodePath(0).Should().NotBe(before, "the driver's minor counter only grows: a re-probed board gets new nodes");
        var again = await OpenAsync(backend);
        again.Write(again.Map.Layout.Ctrl.Scratch, 0xC0FFEE);
        again.Read32(again.Map.Layout.Ctrl.Scratch).Should().Be(0xC0FFEEu);
    }

    // ---- driver identity (issue item 7) ----

    [Test]
    public async Task The_driver_version_comes_from_what_the_system_exposes()
    {
        var session = await OpenAsync(_k.Backend());
        session.Info.Driver.Should().Be("litepcie.ko");
        session.Info.DriverVersion.Should().MatchRegex(@"^(version |srcversion |sha256 [0-9a-f]{64} of |build-id [0-9a-f]+)",
            "upstream has no MODULE_VERSION: srcversion where the kernel adds one, else the module file's hash, else its build-id note");
        Regex.IsMatch(session.Info.DriverVersion, "^(unknown|not loaded)").Should().BeFalse();
    }

    // ---- DMA latency by another route (issue item 8) ----

    [Test]
    public async Task Dma_transit_latency_is_measured_by_polling_the_ring_counters()
    {
        var session = await OpenAsync(_k.Backend());
        var ch = session.Channels[0];
        ch.Capabilities.Unsupported(new DmaStartOptions(IrqEvery: 1)).Should().NotBeNull("litepcie.ko interrupts every 32 buffers");
        var result = await RingCounterLatency.MeasureAsync(session, ch, new RingCounterLatencyOptions { Samples = 64, Timeout = Bound });
        result.Samples.Count.Should().Be(64);
        result.Samples.Should().OnlyContain(t => t >= 0, "a buffer is stored after it was fetched (0 = within one poll)");
        result.Summary.MaxUs.Should().BeGreaterThanOrEqualTo(result.Summary.P99Us).And.BeLessThan(Bound.TotalMicroseconds);
        result.Summary.P99Us.Should().BeGreaterThanOrEqualTo(result.Summary.P50Us);
        result.PollPeriodUs.Should().BeGreaterThan(0, "the resolution is one poll of loop_status, stated with the figures");
        ch.GetCounters(DmaDirection.Writer).Running.Should().BeFalse("the measurement stops what it started");
    }

    private async Task<IDeviceSession> OpenAsync(LinuxBackend backend)
    {
        var device = (await backend.EnumerateAsync()).Should().Contain(d => d.Address == _k.Address).Subject;
        var session = await backend.OpenAsync(device);
        _sessions.Add(session);
        return session;
    }

    private int Open(int channel)
    {
        int fd = Raw.Open(Sys, _k.NodePath(channel));
        _fds.Add(fd);
        return fd;
    }

    private short PollNow(int fd, int events)
    {
        int r = Sys.Poll(fd, (short)events, 0, out short revents);
        r.Should().BeGreaterThanOrEqualTo(0);
        return (short)(revents & events);
    }

    /// <summary>Waits (bounded) for a hardware condition, sleeping in poll(2) on the node between checks.</summary>
    private async Task UntilAsync(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        int fd = Open(0);
        while (!condition())
        {
            if (clock.Elapsed > Bound)
            {
                Assert.Fail($"{what}: not reached in {Bound.TotalSeconds:0} s");
            }

            await Task.Run(() => Sys.Poll(fd, PollIn, 10, out _));
        }
    }

    private void StopEveryEngine()
    {
        for (int c = 0; c < _k.Profile.CsrMap.Layout.DmaChannels.Count; c++)
        {
            if (!File.Exists(_k.NodePath(c)))
            {
                continue; // removed and not rescanned: nothing to stop, and no file to open on it
            }

            int fd = Raw.Open(Sys, _k.NodePath(c));
            Raw.Dma(Sys, fd, DmaDirection.Writer, 0);
            Raw.Dma(Sys, fd, DmaDirection.Reader, 0);
            Sys.Close(fd);
        }
    }

    /// <summary>A register value once three reads 10 ms apart agree (the engine at rest), bounded.</summary>
    private async Task<uint> SettledAsync(Func<uint> read)
    {
        uint last = read();
        int same = 0;
        var clock = Stopwatch.StartNew();
        int fd = Open(0);
        while (same < 3)
        {
            if (clock.Elapsed > Bound)
            {
                Assert.Fail($"the engine did not come to rest in {Bound.TotalSeconds:0} s (loop_status {LoopStatus.FromRaw(last)})");
            }

            await Task.Run(() => Sys.Poll(fd, 0, 10, out _));
            uint now = read();
            same = now == last ? same + 1 : 0;
            last = now;
        }

        return last;
    }
}
