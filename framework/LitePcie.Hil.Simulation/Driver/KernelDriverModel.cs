using LitePcie.Hil.Csr;
using LitePcie.Hil.Dma;
using LitePcie.Hil.Pci;
using LitePcie.Hil.Simulation.Gateware;

namespace LitePcie.Hil.Simulation.Driver;

/// <summary>Per channel and direction state of <see cref="KernelDriverModel"/>.</summary>
public sealed class KernelDmaState
{
    internal KernelDmaState(DmaDirection direction, HostAllocation ring, int bufferCount)
    {
        Direction = direction;
        Ring = ring;
        Counter = new HwCounter(bufferCount);
    }

    /// <summary>Writer or reader.</summary>
    public DmaDirection Direction { get; }

    /// <summary>The coherent ring (bufferCount × bufferSize).</summary>
    public HostAllocation Ring { get; }

    internal HwCounter Counter;

    /// <summary><c>hw_count</c>: updated only in the interrupt handler.</summary>
    public long HwCount => Volatile.Read(ref _hwCount);

    /// <summary><c>sw_count</c>.</summary>
    public long SwCount { get; internal set; }

    /// <summary>Started with the DMA ioctl.</summary>
    public bool Enabled { get; internal set; }

    /// <summary>Interrupts handled for this source.</summary>
    public long Interrupts { get; internal set; }

    internal long _hwCount;
}

/// <summary>
/// A register-level model of the upstream <c>litepcie.ko</c> driving a simulated board: probe (reset,
/// identifier, bus mastering, MSI), the DMA start/stop sequences of docs/linux-driver.md#start-and-stop-sequences, the interrupt
/// handler (docs/linux-driver.md#interrupt-handling) and the counters (#hardware-and-software-counts) — including its quirks (hw_count only moves in the ISR, no
/// bounds on anything). Used to test the gateware model, and as the kernel behind the Linux transport's
/// fake syscall layer.
/// </summary>
public sealed class KernelDriverModel : IMsiSink, IHostFlowControl, IDisposable
{
    /// <summary><c>DMA_BUFFER_PER_IRQ</c>.</summary>
    public const int BuffersPerIrq = 32;

    private readonly object _sync = new();
    private readonly KernelDmaState[,] _dma;
    private readonly ICsrBus _csr;
    private long _messages;
    private bool _disposed;

    /// <summary>Probes the board: enables memory space and bus mastering, resets the SoC, reads the identifier, enables MSI.</summary>
    public KernelDriverModel(SimulatedBoard board, bool lossless = false)
    {
        Board = board;
        Lossless = lossless;
        _csr = board.CsrBus;
        Map = board.Map;
        Geometry = board.Profile.DmaGeometry;

        // pci_enable_device + BAR assignment (the OS did it) + pci_set_master.
        SimulatedHostEnumeration.AssignBars(board);
        board.WriteConfig(0x04, 2, (uint)(PciCommand.MemorySpace | PciCommand.BusMaster));
        var layout = Map.Layout;
        if (layout.Ctrl.Reset is { } reset)
        {
            _csr.Write(reset, CtrlBlock.SocResetBit);
        }

        Identifier = _csr.ReadIdentifier();
        SimulatedHostEnumeration.EnableInterrupts(board);

        _dma = new KernelDmaState[layout.DmaChannels.Count, 2];
        for (int c = 0; c < layout.DmaChannels.Count; c++)
        {
            foreach (var d in DmaDirectionExtensions.All)
            {
                var ring = board.Memory.Allocate(Geometry.RingBytes, $"litepcie{c} {d.RegisterPrefix()} ring");
                _dma[c, (int)d] = new KernelDmaState(d, ring, Geometry.BufferCount);
            }
        }

        board.InterruptSink = this;
        if (lossless)
        {
            board.FlowControl = this;
        }
    }

    /// <summary>The board driven.</summary>
    public SimulatedBoard Board { get; }

    /// <summary>The CSR map the driver was "compiled" against.</summary>
    public CsrMap Map { get; }

    /// <summary>Ring geometry (DMA_BUFFER_COUNT × DMA_BUFFER_SIZE).</summary>
    public Devices.DmaRingGeometry Geometry { get; }

    /// <summary>The identifier read at probe (logged as <c>Version</c> by the driver).</summary>
    public string Identifier { get; }

    /// <summary>Whether the board is told not to overrun software (simulation convenience).</summary>
    public bool Lossless { get; }

    /// <summary>MSI messages handled.</summary>
    public long Messages => Interlocked.Read(ref _messages);

    /// <summary>State of one channel direction.</summary>
    public KernelDmaState State(int channel, DmaDirection direction) => _dma[channel, (int)direction];

    /// <summary>
    /// Starts a direction with the driver's start sequence (docs/linux-driver.md#start-and-stop-sequences): disable, flush, prog mode, 256 descriptors (IRQ on every
    /// 32nd, last-disable set), loop mode, counters zeroed, enable, then the MSI enable bit.
    /// </summary>
    public void Start(int channel, DmaDirection direction, int irqEvery = BuffersPerIrq)
    {
        var ch = Map.Layout.DmaChannels[channel];
        var e = ch.Engine(direction);
        var s = State(channel, direction);
        lock (_sync)
        {
            _csr.Write(e.Enable, 0);
            _csr.Write(e.TableReset, 1);
            _csr.Write(e.LoopProgN, 0);
            for (int i = 0; i < Geometry.BufferCount; i++)
            {
                ulong bus = s.Ring.BusAddressOf((long)i * Geometry.BufferSize);
                uint control = Descriptor.LastDisable | (i % irqEvery != 0 ? Descriptor.IrqDisable : 0u) | (uint)Geometry.BufferSize;
                _csr.Write(e.TableValue, ((ulong)control << 32) | (uint)bus);
                _csr.Write(e.TableWe, bus >> 32);
            }

            _csr.Write(e.LoopProgN, 1);
            s.Counter.Reset();
            Volatile.Write(ref s._hwCount, 0);
            s.SwCount = 0;
            s.Interrupts = 0;
            s.Enabled = true;
            _csr.Write(e.Enable, 1);
            var msi = Map.Layout.Msi.Enable;
            _csr.Write(msi, _csr.Read(msi) | (1UL << ch.Interrupt(direction)));
        }

        Board.Kick();
    }

    /// <summary>Stops a direction: MSI bit first, prog mode, flush, 1 ms, disable, flush; counters zeroed.</summary>
    public void Stop(int channel, DmaDirection direction)
    {
        var ch = Map.Layout.DmaChannels[channel];
        var e = ch.Engine(direction);
        var s = State(channel, direction);
        lock (_sync)
        {
            var msi = Map.Layout.Msi.Enable;
            _csr.Write(msi, _csr.Read(msi) & ~(1UL << ch.Interrupt(direction)));
            _csr.Write(e.LoopProgN, 0);
            _csr.Write(e.TableReset, 1);
#pragma warning disable RS0030 // the model of litepcie.ko's msleep(1) in its stop sequence: a real delay under the driver's lock, by design
            Thread.Sleep(1);
#pragma warning restore RS0030
            _csr.Write(e.Enable, 0);
            _csr.Write(e.TableReset, 1);
            s.Enabled = false;
            s.Counter.Reset();
            Volatile.Write(ref s._hwCount, 0);
            s.SwCount = 0;
        }
    }

    /// <summary>Sets <c>loopback_enable</c> (the driver writes base + 0x40 blindly; this model refuses designs without it).</summary>
    public void SetLoopback(int channel, bool enabled)
    {
        var reg = Map.Layout.DmaChannels[channel].LoopbackEnable
            ?? throw new InvalidOperationException($"pcie_dma{channel} has no loopback_enable");
        _csr.Write(reg, enabled ? 1UL : 0UL);
    }

    /// <summary>Zeroes a direction's counters (hw, hw_last, sw) as open() does for a disabled direction.</summary>
    public void ClearCounters(int channel, DmaDirection direction)
    {
        var s = State(channel, direction);
        lock (_sync)
        {
            s.Counter.Reset();
            Volatile.Write(ref s._hwCount, 0);
            s.SwCount = 0;
        }
    }

    /// <summary>Sets the software count (the MMAP_DMA_*_UPDATE ioctls).</summary>
    public void UpdateSwCount(int channel, DmaDirection direction, long sw)
    {
        State(channel, direction).SwCount = sw;
        Board.Kick();
    }

    /// <summary>Waits (bounded) until the hardware count reaches <paramref name="target"/>; false on timeout.</summary>
    public bool WaitHwCount(int channel, DmaDirection direction, long target, TimeSpan timeout)
    {
        var s = State(channel, direction);
        var time = Board.Options.Time;
        long start = time.GetTimestamp();
        var spin = new SpinWait();
        while (s.HwCount < target)
        {
            if (time.GetElapsedTime(start) > timeout)
            {
                return false;
            }

            if (!Board.Options.RunHardwareThread)
            {
                Board.Step();
                continue;
            }

            spin.SpinOnce(sleep1Threshold: -1);
        }

        return true;
    }

    /// <summary>The ring slot of buffer <paramref name="index"/>.</summary>
    public Span<byte> Buffer(int channel, DmaDirection direction, long index)
    {
        var s = State(channel, direction);
        return s.Ring.Span(index % Geometry.BufferCount * Geometry.BufferSize, Geometry.BufferSize);
    }

    /// <summary>The interrupt handler (docs/linux-driver.md#interrupt-handling): demultiplex, fold loop_status into hw counts, clear.</summary>
    public void OnMessage(MsiMessage message, long timestamp)
    {
        Interlocked.Increment(ref _messages);
        var layout = Map.Layout;
        ulong pending;
        lock (_sync)
        {
            if (layout.Msi.Flavour == MsiFlavour.Single)
            {
                pending = _csr.Read(layout.Msi.Vector!) & _csr.Read(layout.Msi.Enable);
            }
            else
            {
                pending = (1UL << message.Vector) & _csr.Read(layout.Msi.Enable);
            }

            // No all-ones check, as in litepcie_interrupt(): a vector read of 0xFFFFFFFF from a board that left the bus
            // is taken for every source pending, and 0xFFFFFFFF loop statuses are folded into the counts.
            ulong handled = 0;
            foreach (var ch in layout.DmaChannels)
            {
                foreach (var d in DmaDirectionExtensions.All)
                {
                    ulong bit = 1UL << ch.Interrupt(d);
                    if ((pending & bit) == 0)
                    {
                        continue;
                    }

                    var s = _dma[ch.Index, (int)d];
                    uint status = _csr.Read32(ch.Engine(d).LoopStatus);
                    Volatile.Write(ref s._hwCount, s.Counter.Update(status));
                    s.Interrupts++;
                    handled |= bit;
                }
            }

            if (layout.Msi.Clear is { } clear)
            {
                _csr.Write(clear, handled);
            }
        }
    }

    /// <summary>Lossless mode: writer slot k is free once software consumed k − ring; reader slot k once software filled it.</summary>
    public bool MayProcess(int channel, DmaDirection direction, long completed)
    {
        var s = _dma[channel, (int)direction];
        return direction == DmaDirection.Writer
            ? completed < s.SwCount + Geometry.BufferCount - 1
            : completed < s.SwCount;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Board.InterruptSink = null;
        Board.FlowControl = null;
        for (int c = 0; c < _dma.GetLength(0); c++)
        {
            foreach (var d in DmaDirectionExtensions.All)
            {
                if (_dma[c, (int)d].Enabled && Board.IsPresent)
                {
                    Stop(c, d);
                }

                Board.Memory.Free(_dma[c, (int)d].Ring);
            }
        }
    }
}
