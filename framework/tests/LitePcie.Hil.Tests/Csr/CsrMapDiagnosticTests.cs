using System.Text.Json.Nodes;
using FluentAssertions;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Simulation.Csr;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Csr;

/// <summary>
/// What a csr.json must and need not hold, and the entry a refusal names: the user fixes the file from the message
/// alone, so the entry path (section, name, field) and the quoted values must be the ones at fault.
/// </summary>
[TestFixture]
public sealed class CsrMapDiagnosticTests
{
    private static readonly LitePcieDesign s_design = new() { Identifier = "diagnostics 2026-01-01 00:00:00", DmaChannels = 1 };

    private static JsonObject Json() => JsonNode.Parse(LiteXMapGenerator.ToJson(s_design))!.AsObject();

    private static CsrMap Load(JsonObject json) => CsrMap.FromJson(json.ToJsonString(), "lab/csr.json");

    private static CsrMapException Fails(string text) =>
        FluentActions.Invoking(() => CsrMap.FromJson(text, "lab/csr.json")).Should().Throw<CsrMapException>().Which;

    private static CsrMapException Fails(JsonObject json) => Fails(json.ToJsonString());

    [Test]
    public void Memories_and_cores_are_optional_sections()
    {
        // Older LiteX and hand-trimmed maps carry no memories or cores; the driver needs neither.
        var json = Json();
        json.Remove("memories");
        json.Remove("cores");
        var map = Load(json);
        map.Memories.Should().BeEmpty();
        map.Register("ctrl_scratch").Address.Should().Be(Json()["csr_registers"]!["ctrl_scratch"]!["addr"]!.GetValue<uint>());
    }

    [Test]
    public void A_map_without_constants_is_refused_naming_the_constant_the_layout_needs()
    {
        // The section itself is optional to the reader; what a LitePCIe map cannot do without is its channel count.
        var json = Json();
        json.Remove("constants");
        var e = Fails(json);
        e.Entry.Should().Be("constants.dma_channels");
        e.Problem.Should().Be("required constant is missing or not an integer");
    }

    [Test]
    public void Csr_registers_is_a_required_section()
    {
        var json = Json();
        json.Remove("csr_registers");
        var e = Fails(json);
        e.Entry.Should().Be("csr_registers");
        e.Problem.Should().Be("required section is missing");
    }

    [Test]
    public void Json_with_a_trailing_comma_is_refused_as_malformed()
    {
        // LiteX writes strict JSON; a trailing comma means the file was edited by hand or cut short.
        var text = Json().ToJsonString();
        text = text[..text.LastIndexOf('}')] + ",}";
        Fails(text).Problem.Should().StartWith("malformed JSON");
    }

    [Test]
    public void A_register_size_that_is_not_an_integer_names_the_field()
    {
        var json = Json();
        json["csr_registers"]!["ctrl_scratch"]!["size"] = "1";
        var e = Fails(json);
        e.Entry.Should().Be("csr_registers.ctrl_scratch.size");
        e.Problem.Should().Be("expected an integer, found String");
    }

    [Test]
    public void A_fractional_constant_names_the_constant_and_quotes_the_value()
    {
        var json = Json();
        json["constants"]!["config_clock_frequency"] = 125e6 + 0.5;
        var e = Fails(json);
        e.Entry.Should().Be("constants.config_clock_frequency");
        e.Problem.Should().Be("expected an integer, found 125000000.5");
    }

    [Test]
    public void A_memory_entry_names_the_region_and_the_field_at_fault()
    {
        var json = Json();
        json["memories"]!["extra"] = new JsonArray();
        var e = Fails(json);
        e.Entry.Should().Be("memories.extra");
        e.Problem.Should().Be("expected an object with base/size/type, found Array");

        json["memories"]!["extra"] = new JsonObject { ["base"] = "0x40000", ["size"] = 0x1000 };
        Fails(json).Entry.Should().Be("memories.extra.base");

        json["memories"]!["extra"] = new JsonObject { ["base"] = 0x40000, ["size"] = 4.5 };
        e = Fails(json);
        e.Entry.Should().Be("memories.extra.size");
        e.Problem.Should().Be("expected an integer, found 4.5");
    }

    [Test]
    public void A_memory_type_that_is_not_a_string_is_read_as_no_type()
    {
        var json = Json();
        json["memories"]!["extra"] = new JsonObject { ["base"] = 0x40000, ["size"] = 0x1000, ["type"] = 3 };
        Load(json).Memories["extra"].Should().Be(new CsrMemoryRegion("extra", 0x40000, 0x1000, ""));
    }

    [Test]
    public void A_csr_alignment_other_than_32_says_what_the_driver_assumes()
    {
        var json = Json();
        json["constants"]!["config_csr_alignment"] = 64;
        Fails(json).Problem.Should().Be("CSR alignment is 64 bits; the driver assumes consecutive 32-bit words (alignment 32)");
    }

    [Test]
    public void An_overlap_quotes_the_word_range_of_the_register_it_lands_in()
    {
        var json = Json();
        json["csr_registers"]!["x_wide"] = new JsonObject { ["addr"] = 0xF000, ["size"] = 2, ["type"] = "rw" };
        json["csr_registers"]!["x_next"] = new JsonObject { ["addr"] = 0xF004, ["size"] = 1, ["type"] = "ro" };
        var e = Fails(json);
        e.Entry.Should().Be("x_next");
        e.Problem.Should().Be("overlaps x_wide (0x0000F000..0x0000F007) at 0x0000F004", "a 2-word register at 0xF000 spans bytes 0xF000..0xF007");
    }

    [Test]
    public void A_misaligned_base_names_its_csr_bases_entry()
    {
        var json = Json();
        json["csr_bases"]!["extra"] = 0x102;
        var e = Fails(json);
        e.Entry.Should().Be("csr_bases.extra");
        e.Problem.Should().Be("origin 0x00000102 is not 32-bit aligned");
    }

    [Test]
    public void A_csr_base_of_0xffffffff_fits_32_bits_and_is_judged_against_the_registers()
    {
        var json = Json();
        json["memories"]!["csr"]!["base"] = 0xFFFF_FFFFL;
        Fails(json).Problem.Should().Be("address 0x00000000 is below the CSR base 0xFFFFFFFF", "0xFFFFFFFF is the last 32-bit address, not beyond it");
    }

    [Test]
    public void A_csv_address_of_0xffffffff_is_read_and_then_refused_as_misaligned()
    {
        var e = FluentActions.Invoking(() => CsrMap.FromCsv(LiteXMapGenerator.ToCsv(s_design) + "csr_base,x,0xffffffff,,\n", "lab/csr.csv"))
            .Should().Throw<CsrMapException>().Which;
        e.Entry.Should().Be("csr_bases.x");
        e.Problem.Should().Be("origin 0xFFFFFFFF is not 32-bit aligned");
    }

    [Test]
    public void A_bad_csv_row_of_80_characters_is_quoted_whole()
    {
        string row = "csr_register," + new string('r', 67);
        row.Should().HaveLength(80);
        FluentActions.Invoking(() => CsrMap.FromCsv(LiteXMapGenerator.ToCsv(s_design) + row + "\n", "lab/csr.csv"))
            .Should().Throw<CsrMapException>().Which.Problem.Should().Be($"expected 5 comma-separated columns, found 2: '{row}'");
    }
}
