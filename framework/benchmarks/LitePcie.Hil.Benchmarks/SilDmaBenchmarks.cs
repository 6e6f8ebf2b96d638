using BenchmarkDotNet.Attributes;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Dma;
using LitePcie.Hil.Simulation.Sil;

namespace LitePcie.Hil.Benchmarks;

/// <summary>
/// End-to-end SIL DMA: internal loopback on pcie_dma0 with every TX buffer generated and every RX buffer verified
/// by <see cref="DmaStreamer"/> (the DMA suite's own streamer and throughput meter), through the dext core and the
/// gateware model. Unpaced: how fast the whole software stack moves verified data on this machine.
/// </summary>
[WarmupCount(1)]
[IterationCount(5)]
[InvocationCount(1)]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "BenchmarkDotNet owns the lifetime: GlobalCleanup disposes")]
public class SilDmaBenchmarks
{
    public const long StreamBytes = 1L << 30;

    private SilBackend _backend = null!;
    private IDeviceSession _session = null!;
    private SequencePattern _pattern = null!;

    [GlobalSetup]
    public void Setup()
    {
        _backend = new SilBackend();
        _session = _backend.OpenAsync(_backend.EnumerateAsync().AsTask().GetAwaiter().GetResult()[0]).AsTask().GetAwaiter().GetResult();
        _pattern = new SequencePattern(_session.Channels[0].Geometry.BufferSize);
        CpuMeter.Start();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        CpuMeter.Stop(typeof(SilDmaBenchmarks));
        _session.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _backend.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark]
    [BytesPerOperation(StreamBytes)]
    public long VerifiedLoopback()
    {
        CpuMeter.Running(nameof(VerifiedLoopback));
        var report = DmaStreamer.RunAsync(_session.Channels[0], _pattern, new StreamOptions { Bytes = StreamBytes }).GetAwaiter().GetResult();
        return report.Clean ? report.RxBytes : throw new InvalidOperationException("SIL loopback was not clean:\n" + report.Summary());
    }
}
