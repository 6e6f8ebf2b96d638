using FluentAssertions;
using LitePcie.Hil.Cli;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Cli;

/// <summary>
/// <c>litepcie-hil list</c>, <c>info</c>, <c>scratch</c>, <c>latency</c> and <c>sleep</c> on the simulated AC701
/// (and the board without loopback), through <see cref="Program.Run(string[], TextWriter, TextWriter)"/>: what a
/// bench engineer reads, what a script parses with <c>--json</c>, and the exit codes.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class DeviceCommandTests
{
    [Test]
    public void List_shows_the_simulated_board_with_its_ids_identifier_and_link()
    {
        var run = CliRun.Of("list");

        run.Code.Should().Be(ExitCodes.Success, run.ToString());
        run.Out.Should().Contain("0000:01:00.0", "the SIL's first slot is listed").And.Contain("10ee:7024", "AC701 vendor:device")
            .And.Contain("sim-ac701-2ch").And.Contain("LitePCIe standalone core", "the identifier ROM is read")
            .And.Contain("5.0 GT/s x4 (max 5.0 GT/s x4)", "Gen2 x4, negotiated and maximum");
    }

    [Test]
    public void List_json_names_every_device_with_ids_and_link()
    {
        var run = CliRun.Of("list", "--json");

        run.Code.Should().Be(ExitCodes.Success, run.ToString());
        var device = run.Json().GetProperty("devices")[0];
        device.GetProperty("address").GetString().Should().Be("0000:01:00.0");
        device.GetProperty("vendorId").GetString().Should().Be("0x10ee");
        device.GetProperty("deviceId").GetString().Should().Be("0x7024");
        device.GetProperty("link").GetProperty("width").GetInt32().Should().Be(4, "the AC701 link trains at x4");
        device.GetProperty("link").GetProperty("maxSpeedGTs").GetDouble().Should().Be(5.0);
    }

    [Test]
    public void List_reports_a_degraded_link()
    {
        var run = CliRun.Of("list", "--faults", "link-degrade=1");

        run.Code.Should().Be(ExitCodes.Success, run.ToString());
        run.Out.Should().Contain("x1 (max 5.0 GT/s x4, DEGRADED)", "a link trained at x1 on an x4 board must stand out");
    }

    [Test]
    public void Info_shows_identity_bars_capabilities_csr_map_dma_geometry_and_driver()
    {
        var run = CliRun.Of("info");

        run.Code.Should().Be(ExitCodes.Success, run.ToString());
        run.Out.Should().Contain("LitePCIe standalone core 2026-11-21 12:00:00")
            .And.Contain("0x058000", "class code").And.Contain("Memory64", "BAR2 is a 64-bit window")
            .And.Contain("1 MiB").And.Contain("MSI ").And.Contain("PCIe ").And.Contain("PM ")
            .And.Contain("256 × 8 KiB", "DMA ring geometry").And.Contain("present", "the AC701 design has loopback")
            .And.Contain("dext ABI", "the session names the driver ABI").And.Contain("72 registers");
        run.Out.Should().Contain("CSR map                     fixtures/boards/sim-ac701-2ch/csr.json: 72 registers",
            "a built-in board's map is named where a user finds it, not by the build's output directory");
        run.Out.Should().NotContain("/bin/").And.NotContain(AppContext.BaseDirectory);
    }

    [Test]
    public void Info_json_has_bars_capabilities_and_channels()
    {
        var json = CliRun.Of("info", "--json").Json();

        json.GetProperty("identifier").GetString().Should().StartWith("LitePCIe standalone core");
        json.GetProperty("driverVersion").GetString().Should().StartWith("dext ABI");
        json.GetProperty("bars").GetArrayLength().Should().Be(2, "BAR0 CSRs and the BAR2 window");
        json.GetProperty("bars")[1].GetProperty("kind").GetString().Should().Be("Memory64");
        json.GetProperty("capabilities").EnumerateArray().Select(c => c.GetProperty("name").GetString()).Should().Contain(["PM", "MSI", "PCIe"]);
        json.GetProperty("channels").GetArrayLength().Should().Be(2);
        json.GetProperty("channels")[0].GetProperty("buffers").GetInt32().Should().Be(256);
        json.GetProperty("channels")[0].GetProperty("loopback").GetBoolean().Should().BeTrue();
    }

    [Test]
    public void Info_on_a_design_without_loopback_says_so_per_channel()
    {
        var json = CliRun.Of("info", "--board", "sim-kcu105-noloop", "--json").Json();

        json.GetProperty("channels").EnumerateArray().Should().OnlyContain(c => !c.GetProperty("loopback").GetBoolean(), "the KCU105 design is built without loopback");
    }

    [Test]
    public void Scratch_passes_and_reports_the_litepcie_util_values_in_hex()
    {
        var run = CliRun.Of("scratch");

        run.Code.Should().Be(ExitCodes.Success, run.ToString());
        run.Out.Should().Contain("write 0x12345678  read 0x12345678  ok").And.Contain("write 0xDEADBEEF  read 0xDEADBEEF  ok")
            .And.Contain("walking ones  32/32 ok").And.Contain("walking zeros 32/32 ok").And.Contain("PASS");
    }

    [Test]
    public void Scratch_with_a_stuck_bit_fails_and_names_the_bit()
    {
        var run = CliRun.Of("scratch", "--faults", "scratch-stuck-bit=3");

        run.Code.Should().Be(ExitCodes.TestFailed, run.ToString());
        run.Out.Should().Contain("bit 3 stuck at 0").And.Contain("write 0xFFFFFFFF  read 0xFFFFFFF7  MISMATCH (xor 0x00000008)").And.Contain("FAIL");
        var json = CliRun.Of("scratch", "--faults", "scratch-stuck-bit=3", "--json").Json();
        json.GetProperty("passed").GetBoolean().Should().BeFalse();
        json.GetProperty("stuckAt0").GetString().Should().Be("0x00000008");
    }

    [Test]
    public void Latency_reports_register_and_dma_round_trip_percentiles_with_histograms()
    {
        var run = CliRun.Of("latency", "--samples", "500", "--dma-samples", "50");

        run.Code.Should().Be(ExitCodes.Success, run.ToString());
        run.Out.Should().Contain("register read (ctrl_scratch, 500 samples)").And.Contain("DMA one-buffer round trip (pcie_dma0, 8192 B, 50 samples)")
            .And.Contain("p50 ").And.Contain("p90 ").And.Contain("p99 ").And.Contain("p99.9 ").And.Contain("max ").And.Contain("|#");
        var json = CliRun.Of("latency", "--samples", "100", "--dma-samples", "20", "--json").Json();
        json.GetProperty("register").GetProperty("count").GetInt32().Should().Be(100);
        json.GetProperty("dma").GetProperty("count").GetInt32().Should().Be(20);
        json.GetProperty("dma").GetProperty("p999Us").GetDouble().Should().BeGreaterThanOrEqualTo(json.GetProperty("dma").GetProperty("p50Us").GetDouble());
        json.GetProperty("dmaBadBuffers").GetInt64().Should().Be(0, "every returned buffer carries the pattern sent");
        run.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1].Should()
            .Be("latency: PASS (500 register reads, 50 DMA round trips; every returned buffer carried the pattern sent)", "the run ends with its verdict");
    }

    [Test]
    public void Latency_skips_the_dma_round_trip_on_a_design_without_loopback()
    {
        var run = CliRun.Of("latency", "--board", "sim-kcu105-noloop", "--samples", "100");

        run.Code.Should().Be(ExitCodes.Success, run.ToString());
        run.Out.Should().Contain("DMA round trip: skipped (pcie_dma0 has no loopback");
    }

    [Test]
    public void Sleep_goes_through_every_transition_and_the_board_comes_back_the_same()
    {
        var run = CliRun.Of("sleep", "--sleep-seconds", "0.05");

        run.Code.Should().Be(ExitCodes.Success, run.ToString());
        run.Out.Should().Contain("WillSleep").And.Contain("Asleep").And.Contain("WillWake").And.Contain("Awake")
            .And.Contain("re-enumerated").And.Contain("PASS");
        var json = CliRun.Of("sleep", "--sleep-seconds", "0.05", "--json").Json();
        json.GetProperty("transitions").GetArrayLength().Should().Be(4);
        json.GetProperty("passed").GetBoolean().Should().BeTrue();
    }

    [Test]
    public void Sleep_fails_when_the_board_does_not_come_back_or_loses_its_config()
    {
        var gone = CliRun.Of("sleep", "--sleep-seconds", "0.05", "--timeout", "0.3", "--faults", "wake-no-return");
        gone.Code.Should().Be(ExitCodes.TestFailed, gone.ToString());
        gone.Out.Should().Contain("did not come back after wake");

        var lost = CliRun.Of("sleep", "--sleep-seconds", "0.05", "--faults", "wake-state-loss");
        lost.Code.Should().Be(ExitCodes.TestFailed, "a function whose BARs were not restored is not the board that went to sleep\n" + lost);
        lost.Out.Should().Contain("BAR assignment changed across sleep");
    }
}
