using FluentAssertions;
using LitePcie.Hil.Boards;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Dext;
using LitePcie.Hil.Dma;
using LitePcie.Hil.Platform;
using LitePcie.Hil.Simulation;
using LitePcie.Hil.Simulation.Sil;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Sil;

/// <summary>
/// The SIL's platform seams against the dext core: detach (surprise removal) and attach (a new driver instance),
/// system sleep with the OS's config save/restore, and the faults of those paths.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class SilPlatformTests
{
    private const string Address = "0000:01:00.0";

    private static async Task<IDeviceSession> OpenAsync(SilBackend backend) =>
        await backend.OpenAsync((await backend.EnumerateAsync()).Single(d => d.Address == Address));

    /// <summary>
    /// Boards on one bus cycle independently (one fixture per board): enumerating must not trip over another board
    /// leaving the bus between its presence check and its config read (seen as 'header type 127 not supported' in a
    /// qualification cycle of another board).
    /// </summary>
    [Test]
    public async Task Enumeration_is_not_disturbed_by_another_board_leaving_the_bus()
    {
        await using var backend = new SilBackend(new SilBackendOptions { Boards = ["sim-ac701-2ch", "sim-kcu105-noloop"] });
        const string other = "0000:02:00.0";
        using var stop = new CancellationTokenSource();
        int cycles = 0;
        var cycling = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await backend.DetachAsync(other);
                await backend.AttachAsync(other);
                Interlocked.Increment(ref cycles);
            }
        });
        try
        {
            // The window is a few instructions wide: before the fix, about 20 of the other board's cycles hit it.
            for (int i = 0; Volatile.Read(ref cycles) < 100 && !cycling.IsCompleted; i++)
            {
                var found = await backend.EnumerateAsync();
                found.Should().Contain(d => d.Address == Address, $"enumeration {i}: the board at {Address} never left the bus");
            }
        }
        finally
        {
            await stop.CancelAsync();
            await cycling;
        }
    }

    [Test]
    public async Task Detaching_under_a_session_reports_gone_and_no_call_hangs()
    {
        await using var backend = new SilBackend();
        var session = await OpenAsync(backend);
        var ch = session.Channels[0];
        ch.Start(DmaDirection.Writer, DmaStartOptions.Default);
        var wait = ch.WaitAsync(DmaDirection.Writer, 1_000_000, TimeSpan.FromSeconds(30)).AsTask();

        await backend.DetachAsync(Address);

        session.IsDeviceGone.Should().BeTrue("the core marks the device gone when the bus tells it");
        var waited = async () => await wait.WaitAsync(TimeSpan.FromSeconds(2));
        await waited.Should().ThrowAsync<DeviceGoneException>("a pending interrupt wait is aborted with kIOReturnOffline, not left to time out");
        FluentActions.Invoking(() => session.Read32(session.Map.Layout.Ctrl.Scratch)).Should().Throw<DeviceGoneException>();
        (await backend.EnumerateAsync()).Should().BeEmpty("a detached board is not enumerated");
        backend.Slot(Address).Driver.IsRetired.Should().BeTrue();
        backend.Slot(Address).Driver.IsDisposed.Should().BeFalse("the driver instance lives until its last client closed (its mappings stay valid)");

        await session.DisposeAsync();
        backend.Slot(Address).Driver.IsDisposed.Should().BeTrue("closing the last client lets the retired instance go");
    }

    [Test]
    public async Task Attaching_brings_a_fresh_driver_instance_that_works()
    {
        await using var backend = new SilBackend();
        var first = backend.Slot(Address).Driver;
        await backend.DetachAsync(Address);
        (await backend.AttachAsync(Address)).Should().BeTrue();

        backend.Slot(Address).Driver.Should().NotBeSameAs(first, "a new instance is matched on attach");
        first.IsDisposed.Should().BeTrue("the old instance had no client and is freed");
        SilDevice.LiveDevices().Should().Be(1);
        await using var session = await OpenAsync(backend);
        session.Read32(session.Map.Layout.Ctrl.Scratch).Should().Be(CtrlBlock.ScratchResetValue, "the board powered up fresh");
        var report = await DmaStreamer.RunAsync(session.Channels[0], new SequencePattern(session.Channels[0].Geometry.BufferSize), new StreamOptions { Bytes = 1 << 20 });
        report.Clean.Should().BeTrue("DMA works on the re-attached board");
    }

    [Test]
    public async Task Attach_fail_keeps_every_nth_attach_off_the_bus_and_the_next_recovers()
    {
        await using var backend = new SilBackend(new SilBackendOptions { Faults = "attach-fail=2" });
        await backend.DetachAsync(Address);
        (await backend.AttachAsync(Address)).Should().BeTrue("attach 1");
        await backend.DetachAsync(Address);
        (await backend.AttachAsync(Address)).Should().BeFalse("attach 2 fails");
        (await backend.EnumerateAsync()).Should().BeEmpty();
        (await backend.AttachAsync(Address)).Should().BeTrue("attach 3 brings it back");
        (await backend.EnumerateAsync()).Should().ContainSingle();
    }

    [Test]
    public async Task Attach_leak_grows_the_bus_memory_by_its_size_per_attach()
    {
        await using var backend = new SilBackend(new SilBackendOptions { Faults = "attach-leak=4096" });
        var probe = new SilResourceProbe(backend);
        double Bytes() => probe.Sample(Address).Single(r => r.Name == "bus.dma_memory_bytes").Value;
        double before = Bytes();
        for (int i = 0; i < 5; i++)
        {
            await backend.DetachAsync(Address);
            await backend.AttachAsync(Address);
        }

        (Bytes() - before).Should().Be(5 * 4096);
    }

    [Test]
    public async Task Sleep_stops_engines_bumps_the_generation_and_restores_config_space()
    {
        await using var backend = new SilBackend();
        await using var session = await OpenAsync(backend);
        var before = session.ReadConfigSpace();
        session.Channels[0].Start(DmaDirection.Writer, DmaStartOptions.Default);
        long generation = session.Generation;
        var events = new List<PowerEvent>();

        await new SilPowerControl(backend).SleepAsync(TimeSpan.FromMilliseconds(10), events.Add, CancellationToken.None);

        events.Select(e => e.Transition).Should().Equal(PowerTransition.WillSleep, PowerTransition.Asleep, PowerTransition.WillWake, PowerTransition.Awake);
        session.Generation.Should().BeGreaterThan(generation);
        session.Channels[0].GetCounters(DmaDirection.Writer).Running.Should().BeFalse("the driver stops every engine for sleep and leaves it stopped");
        var after = session.ReadConfigSpace();
        after.Bars.Select(b => b.Address).Should().Equal(before.Bars.Select(b => b.Address), "the OS restored the BARs after D3hot→D0");
        after.Command.Should().Be(before.Command);
        session.ReadIdentifier().Should().Be(session.Map.Identifier);
    }

    [Test]
    public async Task Wake_state_loss_leaves_the_bars_unassigned()
    {
        await using var backend = new SilBackend(new SilBackendOptions { Faults = "wake-state-loss" });
        await using var session = await OpenAsync(backend);
        await backend.SleepAsync(TimeSpan.FromMilliseconds(5));
        session.ReadConfigSpace().Bars.Should().OnlyContain(b => b.Address == 0, "D3hot→D0 reset the function and nothing restored it");
    }

    [Test]
    public async Task Wake_no_return_takes_the_board_off_the_bus()
    {
        await using var backend = new SilBackend(new SilBackendOptions { Faults = "wake-no-return" });
        await using var session = await OpenAsync(backend);
        await backend.SleepAsync(TimeSpan.FromMilliseconds(5));
        session.IsDeviceGone.Should().BeTrue();
        (await backend.EnumerateAsync()).Should().BeEmpty();
    }

    [Test]
    public async Task Surprise_removal_fires_once_mid_transfer_and_an_attach_recovers()
    {
        await using var backend = new SilBackend(new SilBackendOptions { Faults = "surprise-removal=100" });
        var session = await OpenAsync(backend);
        var ch = session.Channels[0];
        var run = async () => await DmaStreamer.RunAsync(ch, new SequencePattern(ch.Geometry.BufferSize), new StreamOptions { Bytes = 64L << 20 });
        await run.Should().ThrowAsync<DeviceGoneException>("the board left mid-transfer and the bus told the driver");
        await session.DisposeAsync();

        (await backend.AttachAsync(Address)).Should().BeTrue();
        await using var again = await OpenAsync(backend);
        var report = await DmaStreamer.RunAsync(again.Channels[0], new SequencePattern(ch.Geometry.BufferSize), new StreamOptions { Bytes = 4L << 20 });
        report.Clean.Should().BeTrue("the fault fires once; the re-attached board keeps working past 100 buffers");
    }

    [Test]
    public async Task A_planned_detach_of_a_board_that_already_left_is_reported_as_gone()
    {
        await using var backend = new SilBackend(new SilBackendOptions { Faults = "surprise-removal=100" });
        var control = new SilAttachControl(backend);
        var session = await OpenAsync(backend);
        var ch = session.Channels[0];
        var run = async () => await DmaStreamer.RunAsync(ch, new SequencePattern(ch.Geometry.BufferSize), new StreamOptions { Bytes = 64L << 20 });
        await run.Should().ThrowAsync<DeviceGoneException>();
        await session.DisposeAsync();

        var detach = async () => await control.DetachAsync(Address, CancellationToken.None);
        (await detach.Should().ThrowAsync<DeviceGoneException>("the removal happened before the planned detach and must not be mistaken for it"))
            .Which.Message.Should().Contain("already left");
        await control.AttachAsync(Address, CancellationToken.None);
        await control.DetachAsync(Address, CancellationToken.None); // on the bus again: a planned detach is quiet
    }

    [Test]
    public void Driver_stop_after_an_unannounced_removal_touches_no_register()
    {
        // On macOS a surprise removal reaches the dext as driver Stop and nothing else (no terminate notice
        // before it): the core must find out from config space that the device is gone, not by writing to it.
        var profile = BoardCatalog.Load(BoardCatalog.DefaultBoard);
        using var board = new SimulatedBoard(profile);
        using var driver = new SilDevice(board, Address);
        SimulatedHostEnumeration.AssignBars(board, 0xE000_0000UL);
        driver.Start(BoardLayoutBuilder.Build(profile)).Should().Be(IOReturn.Success);
        SimulatedHostEnumeration.EnableInterrupts(board);
        driver.OpenClient(out uint client).Should().Be(IOReturn.Success);
        Span<ulong> generation = stackalloc ulong[1];
        driver.Call(client, DextSelector.DmaStart, [0, (ulong)DmaDirection.Writer, 32, 0], [], generation, [], out _)
            .Should().Be(IOReturn.Success);
        driver.Call(client, DextSelector.DmaStart, [1, (ulong)DmaDirection.Reader, 32, 0], [], generation, [], out _)
            .Should().Be(IOReturn.Success);

        board.SurpriseRemove(); // nobody subscribed to Removed: the OS says nothing before Stop
        driver.Dispose(); // the OS's driver Stop: the core stops (and is freed) without a removal notice

        driver.MmioWhileAbsent.Should().Be(0, "the stop sequence (engine stops, MSI enables) must not target a device that left the bus");
        driver.Log.Should().Contain(line => line.Contains("device gone"), "the core learned it from config space reading all-ones");
        driver.CloseClient(client);
    }

    /// <summary>
    /// PCIe ordering: an MSI is a posted write and a read's completion never passes one, so once a register read has
    /// returned, every interrupt the device raised before it has reached the driver. The board here has no hardware
    /// thread (nothing else delivers) and runs its engines ahead at each register write, so the writer's interrupts are
    /// raised and still queued when the client reads: the read alone must bring them in. Before, the count waited for
    /// the hardware thread, and the RTL MSI suite counted one test's late messages in the next test's window.
    /// </summary>
    [Test]
    public void A_register_read_returns_only_after_the_interrupts_the_device_raised_before_it()
    {
        var profile = BoardCatalog.Load("sim-kcu105-noloop"); // the writer is fed by the board's own user logic
        using var board = new SimulatedBoard(profile, new SimulationOptions { RunHardwareThread = false, HardwareRunsAhead = true });
        using var driver = new SilDevice(board, Address);
        SimulatedHostEnumeration.AssignBars(board, 0xE000_0000UL);
        driver.Start(BoardLayoutBuilder.Build(profile)).Should().Be(IOReturn.Success);
        SimulatedHostEnumeration.EnableInterrupts(board);
        driver.OpenClient(out uint client).Should().Be(IOReturn.Success);
        // Mapped, the status page holds the client's acknowledgements: the engine then stops a ring ahead of them (lossless SIL).
        driver.Map(client, DextMemoryKind.Status, 0, out _).Should().Be(IOReturn.Success);
        Span<ulong> generation = stackalloc ulong[1];
        driver.Call(client, DextSelector.DmaStart, [0, (ulong)DmaDirection.Writer, 1, 0], [], generation, [], out _)
            .Should().Be(IOReturn.Success);

        long completed = board.GetStatistics().BuffersMoved;
        completed.Should().BeGreaterThan(0, "the engine ran ahead at its enable write (HardwareRunsAhead)");
        driver.Stats().Interrupts.Should().Be(0UL, "no hardware thread has delivered anything yet");

        Span<ulong> value = stackalloc ulong[1];
        uint scratch = board.Map.ToBarOffset(board.Map.Layout.Ctrl.Scratch.Address);
        driver.Call(client, DextSelector.CsrRead32, [scratch], [], value, [], out _).Should().Be(IOReturn.Success);

        long delivered = (long)driver.Stats().Interrupts;
        delivered.Should().BeGreaterThan(0, $"pcie_dma0_writer completed {completed} buffer(s) at irqEvery 1 before the read of ctrl_scratch returned, so their MSIs were posted ahead of its completion");
        board.GetStatistics().MsiSent.Should().Be(delivered, "every message the board sent reached the core's interrupt handler, none later");
        driver.Call(client, DextSelector.DmaStop, [0, (ulong)DmaDirection.Writer], [], [], [], out _).Should().Be(IOReturn.Success);
        driver.CloseClient(client);
    }

    [Test]
    public void Freed_iova_ranges_are_reused_so_cycling_never_exhausts_the_32_bit_space()
    {
        using var memory = new HostMemory(32);
        for (int i = 0; i < 1100; i++) // 1100 × 4 MiB = 4.3 GiB of allocations through a space of less than 4 GiB
        {
            var a = memory.Allocate(4L << 20, "ring");
            a.Segments[0].BusAddress.Should().BeLessThan(1UL << 32);
            memory.Free(a);
        }

        memory.LiveAllocations.Should().Be(0);
        var live = memory.Allocate(4096, "a");
        var other = memory.Allocate(4096, "b");
        other.Segments[0].BusAddress.Should().BeGreaterThan(live.Segments[0].BusAddress + 4096, "live allocations keep their guard gap");
    }
}
