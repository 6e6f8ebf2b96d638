using System.Text.RegularExpressions;
using FluentAssertions;
using LitePcie.Hil.Cli;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Cli;

/// <summary>
/// <c>litepcie-hil dma</c> on the SIL: the dma_test-like table (one plain row per 200 ms sample off a terminal), the
/// summary, JSON, injected corruption, the modes, designs without loopback and Ctrl+C.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed partial class DmaCommandTests
{
    [Test]
    public void Loopback_prints_rows_and_a_passing_summary()
    {
        var run = CliRun.Of("dma", "--seconds", "0.5");

        run.Code.Should().Be(ExitCodes.Success, run.ToString());
        run.Out.Should().Contain(DmaRow.Header, "the table header precedes the rows");
        Row().Matches(run.Out).Should().NotBeEmpty("at least one sample row (elapsed, TX/RX Gb/s, buffers, DIFF, errors)\n" + run);
        run.Out.Should().Contain("bytes) fetched by the reader").And.Contain("bytes) verified").And.Contain("cores (process CPU time / wall time)")
            .And.Contain("0 bad buffer(s)").And.Contain("stall         none").And.Contain("dma: PASS");
    }

    [Test]
    public void The_rtl_engine_moves_verified_data_through_the_boards_real_rtl()
    {
        if (LitePcie.Hil.Simulation.Gateware.RtlEngine.Unavailable(LitePcie.Hil.Boards.BoardCatalog.Load(LitePcie.Hil.Boards.BoardCatalog.DefaultBoard)) is { } why)
        {
            Support.RtlTools.Unavailable(why);
        }

        var run = CliRun.Of("dma", "--engine", "rtl", "--seconds", "1", "--json");

        run.Code.Should().Be(ExitCodes.Success, run.ToString());
        var json = run.Json();
        json.GetProperty("passed").GetBoolean().Should().BeTrue(run.ToString());
        json.GetProperty("rxBytes").GetInt64().Should().BePositive("the RTL moved data");
    }

    [Test]
    public void The_engine_option_is_for_the_simulator_and_the_rtl_is_never_paced()
    {
        CliRun.Of("dma", "--engine", "rtl", "--backend", "linux").Code.Should().Be(ExitCodes.UsageError);
        CliRun.Of("dma", "--engine", "rtl", "--paced").Code.Should().Be(ExitCodes.UsageError);
        var bad = CliRun.Of("dma", "--engine", "verilog");
        bad.Code.Should().Be(ExitCodes.UsageError);
        bad.Err.Should().Contain("--engine");
    }

    [Test]
    public void Json_is_one_document_with_rates_cpu_and_samples()
    {
        var run = CliRun.Of("dma", "--seconds", "0.5", "--json");

        run.Code.Should().Be(ExitCodes.Success, run.ToString());
        var json = run.Json();
        json.GetProperty("passed").GetBoolean().Should().BeTrue();
        json.GetProperty("mode").GetString().Should().Be("Loopback");
        json.GetProperty("rxBytes").GetInt64().Should().BePositive("data moved");
        json.GetProperty("txBytes").GetInt64().Should().BeGreaterThanOrEqualTo(json.GetProperty("rxBytes").GetInt64(), "every verified RX buffer was fetched as TX first");
        json.GetProperty("cpuCores").GetDouble().Should().BeGreaterThan(0);
        json.GetProperty("samples").GetArrayLength().Should().BePositive();
        json.GetProperty("samples")[0].TryGetProperty("diff", out _).Should().BeTrue();
    }

    [Test]
    public void Bit_flips_fail_the_run_and_show_the_corrupted_word()
    {
        var run = CliRun.Of("dma", "--seconds", "0.5", "--faults", "dma-bitflip=0.01;seed=7");

        run.Code.Should().Be(ExitCodes.TestFailed, run.ToString());
        run.Out.Should().Contain("corrupted, first bad word").And.Contain(" flipped ").And.Contain("dma: FAIL");
        run.Out.Should().NotContain(" 0 bad buffer(s)", "the summary counts the corrupted buffers");
    }

    [Test]
    public void Byte_counts_are_written_for_people_with_the_exact_figure_beside_them()
    {
        var run = CliRun.Of("dma", "--seconds", "0.3");

        run.Code.Should().Be(ExitCodes.Success, run.ToString());
        ByteCount().IsMatch(run.Out).Should().BeTrue("the summary says e.g. '1.38 GiB (1,485,832,192 bytes)'\n" + run);
    }

    [Test]
    public void Writer_only_shows_no_tx_figures_and_no_diff()
    {
        var run = CliRun.Of("dma", "--mode", "writer", "--seconds", "0.5");

        run.Code.Should().Be(ExitCodes.Success, run.ToString());
        var rows = Row().Matches(run.Out).Select(m => m.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();
        rows.Should().NotBeEmpty(run.ToString());
        rows.Should().OnlyContain(r => r[1] == "-" && r[3] == "-" && r[5] == "-", "TX Gb/s, TX buffers and DIFF do not apply to a writer-only stream");
        run.Out.Should().NotContain(" 0.00 Gb/s").And.NotMatchRegex(@"\s-\d", "no negative DIFF");
        run.Out.Should().Contain("TX            - (writer-only");

        var json = CliRun.Of("dma", "--mode", "writer", "--seconds", "0.3", "--json").Json();
        json.GetProperty("txGbps").ValueKind.Should().Be(System.Text.Json.JsonValueKind.Null);
        json.GetProperty("samples")[0].GetProperty("diff").ValueKind.Should().Be(System.Text.Json.JsonValueKind.Null);
    }

    [Test]
    public void The_live_table_right_aligns_its_numbers()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = Program.Run(["dma", "--seconds", "0.5"], stdout, stderr, terminal: true, CancellationToken.None);

        code.Should().Be(ExitCodes.Success, stderr.ToString());
        string text = AnsiEscape().Replace(stdout.ToString(), "");
        var rows = text.Split('\n').Where(l => l.Count(c => c == '│') == 8 && !l.Contains("ELAPSED", StringComparison.Ordinal)).ToList();
        rows.Should().NotBeEmpty("the live table was drawn:\n" + text);
        foreach (var row in rows)
        {
            var cells = row.Split('│')[1..^1];
            cells.Where(c => c.Length < 2 || c[c.Length - 1] != ' ' || c[c.Length - 2] == ' ').Should()
                .BeEmpty($"every cell ends in its last digit, one space from the border (right-aligned): '{row}'");
        }
    }

    [Test]
    public void Writer_and_reader_only_modes_run()
    {
        var writer = CliRun.Of("dma", "--mode", "writer", "--seconds", "0.3", "--json");
        writer.Code.Should().Be(ExitCodes.Success, writer.ToString());
        writer.Json().GetProperty("rxBytes").GetInt64().Should().BePositive("the board's pattern source feeds the writer");

        var reader = CliRun.Of("dma", "--mode", "reader", "--seconds", "0.3", "--json");
        reader.Code.Should().Be(ExitCodes.Success, reader.ToString());
        reader.Json().GetProperty("txBytes").GetInt64().Should().BePositive("the reader fetched TX buffers");
    }

    [Test]
    public void Loopback_on_a_design_without_loopback_is_refused_before_anything_is_written()
    {
        var run = CliRun.Of("dma", "--board", "sim-kcu105-noloop", "--seconds", "0.3");

        run.Code.Should().Be(ExitCodes.UsageError, run.ToString());
        run.Err.Should().Contain("--mode loopback").And.Contain("no loopback_enable register").And.Contain("--mode writer");
        run.Out.Should().NotContain(DmaRow.Header, "no stream was started");

        var writer = CliRun.Of("dma", "--board", "sim-kcu105-noloop", "--mode", "writer", "--seconds", "0.3");
        writer.Code.Should().Be(ExitCodes.Success, "writer-only works on that design (its loopback register is never touched)\n" + writer);
    }

    [Test]
    public void Ctrl_c_stops_the_stream_and_still_prints_the_summary()
    {
        var run = CliRun.Interrupted("ELAPSED", "dma", "--seconds", "60");

        run.Code.Should().Be(ExitCodes.Success, "the data so far was clean\n" + run);
        run.Out.Should().Contain("interrupted by Ctrl+C: figures so far").And.Contain("bytes) verified").And.Contain("dma: PASS");
    }

    [GeneratedRegex(@"^\s*\d+\.\d\s+(\d+\.\d\d|-)\s+(\d+\.\d\d|-)\s+(\d+|-)\s+(\d+|-)\s+(\d+|-)\s+\d+\s*$", RegexOptions.Multiline)]
    private static partial Regex Row();

    [GeneratedRegex(@"\d+(\.\d+)? (KiB|MiB|GiB) \(\d{1,3}(,\d{3})+ bytes\)")]
    private static partial Regex ByteCount();

    [GeneratedRegex(@"\x1b\[[0-9;?]*[A-Za-z]")]
    private static partial Regex AnsiEscape();
}
