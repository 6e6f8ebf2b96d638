using System.Globalization;
using System.Text.RegularExpressions;
using LitePcie.Hil.Csr;
using NUnit.Framework;

namespace LitePcie.Hil.GuestTests;

/// <summary>
/// Upstream litepcie_util (built from the vendor tree against the board's generated csr.h/soc.h) on the real
/// litepcie.ko and the virtual board: info, scratch_test, dma_test in copy and zero-copy mode with 0 errors.
/// </summary>
[TestFixture]
[Category("UpstreamTools")]
public sealed partial class UpstreamToolsTests
{
    [SetUp]
    public void RequireGuest() => Guest.Require();

    [Test]
    public void Info_ReadsTheIdentifierRom()
    {
        var run = Guest.Run("litepcie_util", "info", TimeSpan.FromSeconds(60));
        run.ExitCode.Should().Be(0, $"'{run.Command}' exits 0");
        var m = IdentifierLine().Match(run.Output);
        m.Success.Should().BeTrue("info prints 'SoC Identifier   : <text>.'");
        m.Groups[1].Value.Should().Be(Guest.Board.CsrMap.Identifier, "the identifier ROM (256 REG reads through the driver) holds the board's config_identifier");
    }

    /// <summary>
    /// scratch_test leaves 0xdeadbeef in ctrl_scratch; the board is shared with the steps after this one (the suites'
    /// BAR checks expect the value the driver's SoC reset at probe left), so the value found before is written back,
    /// as every suite test that writes ctrl_scratch does.
    /// </summary>
    [Test]
    public async Task ScratchTest_ReadsBackWhatItWrote()
    {
        var scratch = Guest.Board.CsrMap.Layout.Ctrl.Scratch;
        await using var session = await Guest.OpenBoardAsync();
        uint before = session.Read32(scratch);
        ToolRun run;
        try
        {
            run = Guest.Run("litepcie_util", "scratch_test", TimeSpan.FromSeconds(60));
        }
        finally
        {
            session.Write(scratch, before);
        }

        session.Read32(scratch).Should().Be(before, $"ctrl_scratch restored to 0x{before:X8} (what it held before scratch_test) for the steps after this one");
        run.ExitCode.Should().Be(0, $"'{run.Command}' exits 0");
        var writes = ScratchWrite().Matches(run.Output).Select(x => x.Groups[1].Value.ToLowerInvariant()).ToArray();
        var reads = ScratchRead().Matches(run.Output).Select(x => x.Groups[1].Value.ToLowerInvariant()).ToArray();
        writes.Should().Equal(["12345678", "deadbeef"], "scratch_test writes 0x12345678 then 0xdeadbeef");
        reads.Should().Equal(writes, "ctrl_scratch reads back each value written (through LITEPCIE_IOCTL_REG)");
    }

    [Test]
    public void DmaTest_CopyMode_HasNoErrors() => DmaTest(zeroCopy: false);

    [Test]
    public void DmaTest_ZeroCopyMode_HasNoErrors() => DmaTest(zeroCopy: true);

    private static void DmaTest(bool zeroCopy)
    {
        int seconds = Guest.DmaSeconds;
        var run = Guest.Run("litepcie_util", $"{(zeroCopy ? "-z " : "")}-t {seconds} dma_test", TimeSpan.FromSeconds(seconds + 120));
        var rows = StatsRow().Matches(run.Output).Select(m => new DmaRow(
            double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture),
            long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture),
            long.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture),
            long.Parse(m.Groups[5].Value, CultureInfo.InvariantCulture))).ToArray();
        run.ExitCode.Should().Be(0, $"'{run.Command}' exits 0");
        rows.Should().NotBeEmpty("dma_test prints a statistics row every 200 ms once data checking runs (it skips the first 128 ring loops)");
        var last = rows[^1];
        long errors = rows.Sum(r => r.Errors);
        Guest.Step($"{rows.Length} rows; last: {last.Gbps:0.00} Gb/s, TX {last.TxBuffers} / RX {last.RxBuffers} buffers; {errors} errors");
        // dma_test checks nothing until the writer has done 128 passes of the 256-buffer ring; then every RX buffer.
        long skipped = 128L * 256;
        long checkedBuffers = Math.Max(0, last.RxBuffers - skipped);
        Guest.Step($"{checkedBuffers} RX buffers checked ({checkedBuffers * 8192 / 1048576} MiB) after the {skipped} dma_test skips");
        checkedBuffers.Should().BeGreaterThan(256, $"dma_test checked at least one ring of RX buffers (it skips the first {skipped}; raise --dma-seconds or --dma-rate if the board is slower)");
        errors.Should().Be(0, $"dma_test ({(zeroCopy ? "zero-copy" : "copy")} mode) found {errors} data errors over {rows.Length} rows: each error is a 32-bit word of an RX buffer that differs from the TX pattern");
    }

    private sealed record DmaRow(double Gbps, long TxBuffers, long RxBuffers, long Errors);

    [GeneratedRegex(@"SoC Identifier\s*: (.*)\.\s*$", RegexOptions.Multiline)]
    private static partial Regex IdentifierLine();

    [GeneratedRegex(@"Write 0x([0-9a-fA-F]{8}) to Scratch register")]
    private static partial Regex ScratchWrite();

    [GeneratedRegex(@"Read: 0x([0-9a-fA-F]{8})")]
    private static partial Regex ScratchRead();

    // DMA_SPEED(Gbps)  TX_BUFFERS  RX_BUFFERS  DIFF  ERRORS
    [GeneratedRegex(@"^\s*([0-9.]+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$", RegexOptions.Multiline)]
    private static partial Regex StatsRow();
}
