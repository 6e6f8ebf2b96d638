using System.Text.Json.Nodes;
using FluentAssertions;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Simulation.Csr;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Csr;

/// <summary>Bad maps are refused with a <see cref="CsrMapException"/> naming the file, the entry and the problem.</summary>
[TestFixture]
public sealed class CsrMapValidationTests
{
    private static readonly LitePcieDesign s_design = new()
    {
        Identifier = "LitePCIe test core 2026-01-02 03:04:05",
        DmaChannels = 2,
        Synchronizer = true,
        Buffering = true,
        Monitor = true,
    };

    private static JsonObject ValidJson() => JsonNode.Parse(LiteXMapGenerator.ToJson(s_design))!.AsObject();

    private static CsrMapException LoadFails(JsonObject json) =>
        FluentActions.Invoking(() => CsrMap.FromJson(json.ToJsonString(), "board/csr.json"))
            .Should().Throw<CsrMapException>().Which;

    [Test]
    public void A_generated_map_loads()
    {
        var map = CsrMap.FromJson(ValidJson().ToJsonString(), "board/csr.json");
        map.Layout.DmaChannels.Should().HaveCount(2);
        map.Source.Should().Be("board/csr.json");
    }

    [Test]
    public void Malformed_json_names_the_line()
    {
        var e = FluentActions.Invoking(() => CsrMap.FromJson("{\n  \"csr_bases\": {\n    \"ctrl\": 0,,\n", "bad/csr.json"))
            .Should().Throw<CsrMapException>().Which;
        e.Source.Should().Be("bad/csr.json");
        e.Entry.Should().StartWith("line 3");
        e.Message.Should().Contain("malformed JSON");
    }

    [Test]
    public void A_register_with_a_string_address_names_the_field()
    {
        var json = ValidJson();
        json["csr_registers"]!["ctrl_scratch"]!["addr"] = "0x4";
        LoadFails(json).Entry.Should().Be("csr_registers.ctrl_scratch.addr");
    }

    [Test]
    public void Missing_required_register_is_named()
    {
        var json = ValidJson();
        json["csr_registers"]!.AsObject().Remove("pcie_dma1_reader_table_loop_status");
        var e = LoadFails(json);
        e.Entry.Should().Be("pcie_dma1_reader_table_loop_status");
        e.Problem.Should().Contain("required register is missing");
    }

    [Test]
    public void Missing_scratch_is_refused()
    {
        var json = ValidJson();
        json["csr_registers"]!.AsObject().Remove("ctrl_scratch");
        LoadFails(json).Entry.Should().Be("ctrl_scratch");
    }

    [Test]
    public void Overlapping_registers_name_both()
    {
        var json = ValidJson();
        // ctrl_bus_errors moved onto ctrl_scratch.
        json["csr_registers"]!["ctrl_bus_errors"]!["addr"] = 4;
        var e = LoadFails(json);
        e.Message.Should().Contain("overlaps").And.Contain("ctrl_scratch").And.Contain("ctrl_bus_errors");
    }

    [Test]
    public void A_two_word_register_overlapping_the_next_is_refused()
    {
        var json = ValidJson();
        json["csr_registers"]!["pcie_dma0_writer_table_we"]!["size"] = 2; // now covers loop_prog_n
        LoadFails(json).Message.Should().Contain("overlaps");
    }

    [Test]
    public void Non_32_bit_csr_width_is_refused()
    {
        var json = ValidJson();
        json["constants"]!["config_csr_data_width"] = 8;
        var e = LoadFails(json);
        e.Entry.Should().Be("constants.config_csr_data_width");
        e.Problem.Should().Contain("8 bits").And.Contain("require 32");
    }

    [Test]
    public void Csr_alignment_other_than_32_is_refused()
    {
        var json = ValidJson();
        json["constants"]!["config_csr_alignment"] = 64;
        LoadFails(json).Entry.Should().Be("constants.config_csr_alignment");
    }

    [Test]
    public void Little_word_ordering_is_refused()
    {
        var json = ValidJson();
        json["constants"]!.AsObject().Remove("config_csr_ordering_big");
        json["constants"]!["config_csr_ordering_little"] = null;
        var e = LoadFails(json);
        e.Entry.Should().Be("constants.config_csr_ordering_little");
        e.Problem.Should().Contain("big ordering");
    }

    [Test]
    public void Misaligned_register_is_refused()
    {
        var json = ValidJson();
        json["csr_registers"]!["ctrl_scratch"]!["addr"] = 5;
        var e = LoadFails(json);
        e.Entry.Should().Be("ctrl_scratch");
        e.Problem.Should().Contain("not 32-bit aligned");
    }

    [Test]
    public void Unknown_access_type_is_refused()
    {
        var json = ValidJson();
        json["csr_registers"]!["ctrl_scratch"]!["type"] = "wo";
        LoadFails(json).Problem.Should().Contain("'wo' is not 'rw' or 'ro'");
    }

    [Test]
    public void Missing_identifier_rom_is_refused()
    {
        var json = ValidJson();
        json["csr_bases"]!.AsObject().Remove("identifier_mem");
        LoadFails(json).Entry.Should().Be("csr_bases.identifier_mem");
    }

    [Test]
    public void Dma_channel_count_must_match_the_blocks()
    {
        var json = ValidJson();
        json["constants"]!["dma_channels"] = 1;
        var e = LoadFails(json);
        e.Entry.Should().Be("csr_bases.pcie_dma1");
        e.Problem.Should().Contain("dma_channels = 1");
    }

    [Test]
    public void Interrupt_bits_must_be_distinct_and_inside_the_msi_register()
    {
        var json = ValidJson();
        json["constants"]!["pcie_dma1_writer_interrupt"] = 0;
        LoadFails(json).Problem.Should().Contain("also used by");

        json = ValidJson();
        json["constants"]!["pcie_dma1_writer_interrupt"] = 40;
        LoadFails(json).Problem.Should().Contain("outside the 32-bit MSI enable register");
    }

    [Test]
    public void Unknown_msi_class_is_refused()
    {
        var json = ValidJson();
        json["cores"]!["pcie_msi"] = "MyMSI";
        LoadFails(json).Entry.Should().Be("cores.pcie_msi");
    }

    [Test]
    public void Register_outside_the_csr_region_is_refused()
    {
        var json = ValidJson();
        json["csr_registers"]!["ctrl_bus_errors"]!["addr"] = 0x20000;
        LoadFails(json).Problem.Should().Contain("beyond the CSR region");
    }

    [Test]
    public void Malformed_csv_rows_name_the_line()
    {
        string csv = LiteXMapGenerator.ToCsv(s_design);
        var lines = csv.Split('\n').ToList();
        int i = lines.FindIndex(l => l.StartsWith("csr_register,ctrl_scratch", StringComparison.Ordinal));
        lines[i] = "csr_register,ctrl_scratch,0x00000004,1";
        var e = FluentActions.Invoking(() => CsrMap.FromCsv(string.Join('\n', lines), "b/csr.csv"))
            .Should().Throw<CsrMapException>().Which;
        e.Entry.Should().Be($"line {i + 1}");
        e.Problem.Should().Contain("expected 5 comma-separated columns, found 4");

        lines[i] = "csr_register,ctrl_scratch,4x,1,rw";
        FluentActions.Invoking(() => CsrMap.FromCsv(string.Join('\n', lines), "b/csr.csv"))
            .Should().Throw<CsrMapException>().Which.Problem.Should().Contain("not an address");

        lines[i] = "csr_thing,ctrl_scratch,0x4,1,rw";
        FluentActions.Invoking(() => CsrMap.FromCsv(string.Join('\n', lines), "b/csr.csv"))
            .Should().Throw<CsrMapException>().Which.Problem.Should().Contain("unknown row kind");
    }

    [Test]
    public void Unknown_file_extension_is_refused_with_the_path()
    {
        string path = Path.Combine(Path.GetTempPath(), $"map-{Guid.NewGuid():N}.txt");
        File.WriteAllText(path, "{}");
        try
        {
            FluentActions.Invoking(() => CsrMap.Load(path)).Should().Throw<CsrMapException>()
                .Which.Source.Should().Be(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void Csv_and_json_generated_for_one_design_load_identically()
    {
        var json = CsrMap.FromJson(LiteXMapGenerator.ToJson(s_design));
        var csv = CsrMap.FromCsv(LiteXMapGenerator.ToCsv(s_design), phyFamilyOverride: PhyFamily.Series7);
        csv.Registers.Should().Equal(json.Registers);
        csv.Bases.Should().BeEquivalentTo(json.Bases);
        csv.Layout.Guard.Describe().Should().Be(json.Layout.Guard.Describe());
    }
}
