using System.Diagnostics;
using System.Runtime.InteropServices;
using FluentAssertions;
using LitePcie.Hil.Simulation.Driver;
using LitePcie.Hil.Tests.Support;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Simulation;

/// <summary>
/// The model moves data through internal loopback exactly: every RX buffer equals the TX buffer with the
/// same sequence number (docs/gateware.md#invariants-the-model-keeps), driven by the Linux driver's register sequences and counters.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class LoopbackIntegrityTests
{
    private const long GiB = 1L << 30;

    [Test]
    public void One_GiB_through_internal_loopback_arrives_byte_exact()
    {
        using var board = SimBoards.Running();
        using var driver = new KernelDriverModel(board, lossless: true);
        var result = Stream(driver, channel: 0, GiB, TimeSpan.FromMinutes(2));

        result.Mismatch.Should().BeNull(result.Mismatch);
        result.Bytes.Should().BeGreaterThanOrEqualTo(GiB);
        board.GetStatistics().DmaFaults.Should().Be(0);
        TestContext.Out.WriteLine($"loopback: {result.Bytes / (double)GiB:0.00} GiB verified in {result.Elapsed.TotalSeconds:0.00} s " +
            $"= {result.Bytes / result.Elapsed.TotalSeconds / 1e9:0.00} GB/s; CPU {result.CpuSeconds / result.Elapsed.TotalSeconds:0.00} cores; " +
            $"{driver.Messages} MSIs");
        result.HwCountsSeen.Should().OnlyContain(h => h % KernelDriverModel.BuffersPerIrq == 0,
            "the driver's hw_count only changes in the ISR, at IRQ-enabled descriptors (0, 32, 64, …)");
    }

    [Test]
    public void Both_channels_stream_concurrently_without_crosstalk()
    {
        using var board = SimBoards.Running();
        using var driver = new KernelDriverModel(board, lossless: true);
        var results = new StreamResult[2];
        Parallel.For(0, 2, ch => results[ch] = Stream(driver, ch, 32L << 20, TimeSpan.FromMinutes(1), seed: (uint)(ch + 1) * 0x1000_0000));
        results.Should().OnlyContain(r => r.Mismatch == null && r.Bytes >= 32L << 20, string.Join("; ", results.Select(r => r.Mismatch)));
    }

    [Test]
    public void Msix_board_with_64_bit_addresses_streams_exactly()
    {
        using var board = SimBoards.Running("sim-xcu1525-msix");
        using var driver = new KernelDriverModel(board, lossless: true);
        var result = Stream(driver, channel: 1, 16L << 20, TimeSpan.FromMinutes(1));
        result.Mismatch.Should().BeNull(result.Mismatch);
        driver.Messages.Should().BeGreaterThan(0, "MSI-X messages drive the counters");
    }

    private sealed record StreamResult(long Bytes, TimeSpan Elapsed, double CpuSeconds, string? Mismatch, IReadOnlyList<long> HwCountsSeen);

    /// <summary>
    /// Zero-copy loop like liblitepcie's: fill TX slots up to the driver's allowance, verify RX slots [sw, hw),
    /// report progress with the MMAP update ioctls. Each buffer's 64-bit words are (seq &lt;&lt; 32 | word) ^ seed.
    /// </summary>
    private static StreamResult Stream(KernelDriverModel driver, int channel, long bytes, TimeSpan timeout, uint seed = 0x5EED_0000)
    {
        var g = driver.Geometry;
        int words = g.BufferSize / 8;
        long buffers = bytes / g.BufferSize;
        var expected = new ulong[words];
        driver.SetLoopback(channel, true);
        driver.Start(channel, DmaDirection.Writer);
        driver.Start(channel, DmaDirection.Reader);
        var w = driver.State(channel, DmaDirection.Writer);
        var r = driver.State(channel, DmaDirection.Reader);
        var hwSeen = new List<long>();
        var sw = Stopwatch.StartNew();
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        long txSw = 0, rxSw = 0;
        string? mismatch = null;
        try
        {
            while (rxSw < buffers && mismatch is null)
            {
                if (sw.Elapsed > timeout)
                {
                    mismatch = $"timed out after {timeout} at RX buffer {rxSw} (writer hw_count {w.HwCount}, reader hw_count {r.HwCount})";
                    break;
                }

                // TX: keep at most ring − 1 buffers ahead of what the reader is known to have fetched.
                long txLimit = Math.Min(r.HwCount + g.BufferCount, buffers + g.BufferCount);
                bool progress = false;
                while (txSw < txLimit)
                {
                    Fill(MemoryMarshal.Cast<byte, ulong>(driver.Buffer(channel, DmaDirection.Reader, txSw)), txSw, seed);
                    txSw++;
                    progress = true;
                }

                if (progress)
                {
                    driver.UpdateSwCount(channel, DmaDirection.Reader, txSw);
                }

                long hw = w.HwCount;
                if (hw > rxSw)
                {
                    hwSeen.Add(hw);
                    for (; rxSw < hw && rxSw < buffers; rxSw++)
                    {
                        Fill(expected, rxSw, seed);
                        var got = MemoryMarshal.Cast<byte, ulong>(driver.Buffer(channel, DmaDirection.Writer, rxSw));
                        if (!got.SequenceEqual(expected))
                        {
                            int at = got.CommonPrefixLength(expected);
                            mismatch = $"RX buffer {rxSw} word {at}: expected 0x{expected[at]:X16}, got 0x{got[at]:X16}";
                            break;
                        }
                    }

                    driver.UpdateSwCount(channel, DmaDirection.Writer, rxSw);
                    progress = true;
                }

                if (!progress)
                {
                    Thread.SpinWait(64);
                }
            }
        }
        finally
        {
            driver.Stop(channel, DmaDirection.Reader);
            driver.Stop(channel, DmaDirection.Writer);
        }

        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu0;
        return new StreamResult(rxSw * g.BufferSize, sw.Elapsed, cpu.TotalSeconds, mismatch, hwSeen);
    }

    private static void Fill(Span<ulong> buffer, long sequence, uint seed)
    {
        ulong hi = (ulong)sequence << 32;
        for (int i = 0; i < buffer.Length; i++)
        {
            buffer[i] = (hi | (uint)i) ^ seed;
        }
    }
}
