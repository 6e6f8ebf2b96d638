using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using LitePcie.Hil.Boards;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Dext;
using LitePcie.Hil.Linux;
using LitePcie.Hil.Linux.Sysfs;
using LitePcie.Hil.Simulation;
using LitePcie.Hil.Simulation.Sil;

namespace LitePcie.Hil.Benchmarks;

/// <summary>
/// A CSR read round trip (ctrl_scratch) through our stacks, each next to the bare transport call underneath it
/// in the same run: the difference is what our marshalling and checks add per call.
/// SIL: session → DextClient marshalling → transport → dext core (C++) → gateware model.
/// Linux: LinuxSession (address check against the map, REG ioctl, errno mapping) → a fake kernel's ioctl.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "BenchmarkDotNet owns the lifetime: GlobalCleanup disposes")]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public unsafe class ControlPathBenchmarks
{
    private SilBackend _sil = null!;
    private IDeviceSession _silSession = null!;
    private IDextTransport _transport = null!;
    private uint _scratchOffset;
    private RegisterKernel _kernel = null!;
    private LinuxSession _linux = null!;

    [GlobalSetup]
    public void Setup()
    {
        _sil = new SilBackend();
        var device = _sil.EnumerateAsync().AsTask().GetAwaiter().GetResult()[0];
        _silSession = _sil.OpenAsync(device).AsTask().GetAwaiter().GetResult();
        _transport = ((DextSession)_silSession).Client.Transport;
        _scratchOffset = _silSession.Map.BarOffsetOf(_silSession.Map.Layout.Ctrl.Scratch);

        _kernel = new RegisterKernel(BoardCatalog.Load(BoardCatalog.DefaultBoard));
        _linux = _kernel.OpenSession();
        if (_linux.ReadCsr(_scratchOffset) != CtrlBlock.ScratchResetValue || _silSession.ReadCsr(_scratchOffset) != CtrlBlock.ScratchResetValue)
        {
            throw new InvalidOperationException("ctrl_scratch does not read its reset value through the stacks under test");
        }

        CpuMeter.Start();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        CpuMeter.Stop(typeof(ControlPathBenchmarks));
        _silSession.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _sil.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _linux.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _kernel.Dispose();
    }

    /// <summary>SIL: the bare transport call (what the dext's method table costs with the core and model behind it).</summary>
    [Benchmark(Baseline = true)]
    [BenchmarkCategory("SIL")]
    public uint SilTransportCall()
    {
        CpuMeter.Running(nameof(SilTransportCall));
        Span<ulong> output = stackalloc ulong[1];
        int status = _transport.Call(DextSelector.CsrRead32, [_scratchOffset], default, output, default, out _);
        return status == 0 ? (uint)output[0] : throw new InvalidOperationException($"CsrRead32 returned 0x{status:X8}");
    }

    /// <summary>SIL: the same read through the session (marshalling, status check, exception mapping).</summary>
    [Benchmark]
    [BenchmarkCategory("SIL")]
    public uint SilSessionRead()
    {
        CpuMeter.Running(nameof(SilSessionRead));
        return _silSession.ReadCsr(_scratchOffset);
    }

    /// <summary>Linux: the bare REG ioctl into the fake kernel.</summary>
    [Benchmark(Baseline = true)]
    [BenchmarkCategory("Linux")]
    public uint LinuxBareIoctl()
    {
        CpuMeter.Running(nameof(LinuxBareIoctl));
        var reg = new LitePcieReg { Address = _kernel.Map.ToAddress(_scratchOffset) };
        int r = _kernel.Ioctl(RegisterKernel.Fd, LitePcieIoctl.Reg, &reg);
        return r == 0 ? reg.Value : throw new InvalidOperationException($"REG ioctl returned {r}");
    }

    /// <summary>Linux: the same read through LinuxSession (the P16 address check of docs/checklist.md, ioctl, errno mapping).</summary>
    [Benchmark]
    [BenchmarkCategory("Linux")]
    public uint LinuxSessionRead()
    {
        CpuMeter.Running(nameof(LinuxSessionRead));
        return _linux.ReadCsr(_scratchOffset);
    }
}

/// <summary>
/// A minimal litepcie.ko stand-in for the control path: REG reads and writes on a simulated board's CSR bus and
/// MMAP_DMA_INFO; every other call is refused. Its sysfs tree lives in a private temporary directory.
/// </summary>
internal sealed unsafe class RegisterKernel : ILinuxSyscalls, IDisposable
{
    public const int Fd = 3;
    private const int ENOSYS = 38;
    private readonly string _root;
    private readonly SimulatedBoard _board;
    private readonly LinuxPaths _paths;
    private readonly IReadOnlyList<string> _nodes;
    private readonly BoardProfile _profile;
    private const string Address = "0000:02:00.0";

    public RegisterKernel(BoardProfile profile)
    {
        _profile = profile;
        _board = new SimulatedBoard(profile);
        SimulatedHostEnumeration.AssignBars(_board); // firmware assigns BAR0 and enables memory decoding, as before litepcie.ko probes
        _root = Directory.CreateTempSubdirectory("lpc-bench-").FullName;
        _paths = new LinuxPaths(Path.Combine(_root, "sys"), Path.Combine(_root, "dev"), Path.Combine(_root, "proc"));
        _nodes = SimulatedSysfs.Populate(_board, _paths.Sys, _paths.Dev, _paths.Proc, Address);
    }

    public CsrMap Map => _profile.CsrMap;

    public LinuxSession OpenSession() =>
        LinuxSession.Open(this, _paths, new DeviceDescriptor("linux", Address, _profile.VendorId, _profile.DeviceId, _profile.Name, _profile.LinkSpeed, _profile.LinkWidth),
            _profile.CsrMap, new LitePcieBinding(Address, [.. _nodes.Select((n, i) => new LitePcieNode(n, Path.GetFileName(n), i))]));

    public int Open(string path, int flags) => Fd;

    public int Close(int fd) => 0;

    public int Ioctl(int fd, uint request, void* argument)
    {
        if (request == LitePcieIoctl.Reg)
        {
            var reg = (LitePcieReg*)argument;
            uint offset = reg->Address - Map.CsrBase;
            if (reg->IsWrite != 0)
            {
                _board.CsrBus.WriteCsr(offset, reg->Value);
            }
            else
            {
                reg->Value = _board.CsrBus.ReadCsr(offset);
            }

            return 0;
        }

        if (request == LitePcieIoctl.MmapDmaInfo)
        {
            var g = _profile.DmaGeometry;
            *(LitePcieMmapDmaInfo*)argument = new LitePcieMmapDmaInfo
            {
                TxBufferSize = (ulong)g.BufferSize,
                TxBufferCount = (ulong)g.BufferCount,
                RxBufferOffset = (ulong)g.RingBytes,
                RxBufferSize = (ulong)g.BufferSize,
                RxBufferCount = (ulong)g.BufferCount,
            };
            return 0;
        }

        return -ENOSYS;
    }

    public nint Mmap(nint length, int protection, int fd, long offset, out int error)
    {
        error = ENOSYS;
        return -1;
    }

    public int Munmap(nint address, nint length) => -ENOSYS;

    public int Poll(int fd, short events, int timeoutMs, out short returned)
    {
        returned = 0;
        return -ENOSYS;
    }

    public nint Read(int fd, void* buffer, nint count) => -ENOSYS;

    public nint Write(int fd, void* buffer, nint count) => -ENOSYS;

    public int Fcntl(int fd, int command, int argument) => -ENOSYS;

    public void Dispose()
    {
        _board.Dispose();
        Directory.Delete(_root, recursive: true);
    }
}
