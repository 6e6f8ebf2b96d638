using System.Text.Json.Nodes;
using FluentAssertions;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Simulation.Csr;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Csr;

/// <summary>
/// Boundaries of the CSR map loader that mutation testing found unguarded (docs/mutation.md): the last word of the
/// CSR region and of the 32-bit space, register sizes 1 and 64, every JSON section's shape, the CSV's comments and
/// constants, and the address lookups every register access goes through.
/// </summary>
[TestFixture]
public sealed class CsrMapLoaderEdgeTests
{
    private static readonly LitePcieDesign s_design = new() { Identifier = "loader-edges 2026-01-01 00:00:00", DmaChannels = 1 };

    private static JsonObject Json() => JsonNode.Parse(LiteXMapGenerator.ToJson(s_design))!.AsObject();

    private static CsrMap Load(JsonObject json) => CsrMap.FromJson(json.ToJsonString(), "edge/csr.json");

    private static CsrMapException Fails(JsonObject json) =>
        FluentActions.Invoking(() => Load(json)).Should().Throw<CsrMapException>().Which;

    private static CsrMapException FailsCsv(string csv) =>
        FluentActions.Invoking(() => CsrMap.FromCsv(csv, "edge/csr.csv")).Should().Throw<CsrMapException>().Which;

    private static JsonObject Register(long addr, long size, string type = "rw") => new() { ["addr"] = addr, ["size"] = size, ["type"] = type };

    [Test]
    public void A_register_may_end_on_the_last_word_of_the_csr_region_but_not_beyond()
    {
        var json = Json();
        json["csr_registers"]!["ctrl_extra"] = Register(0xFFFC, 1);
        Load(json).Register("ctrl_extra").EndAddress.Should().Be(0x10000u);

        json["csr_registers"]!["ctrl_extra"] = Register(0xFFFC, 2);
        var e = Fails(json);
        e.Entry.Should().Be("ctrl_extra");
        e.Problem.Should().Be("register ends at 0x10004 beyond the CSR region 0x00000000+0x10000");
    }

    [Test]
    public void A_register_may_end_on_the_last_word_of_the_32_bit_space_but_not_beyond()
    {
        var json = Json();
        json["csr_registers"]!["ctrl_top"] = Register(0xFFFF_FFFC, 1);
        Fails(json).Problem.Should().StartWith("register ends at 0x100000000 beyond the CSR region", "it fits the address space, not the region");

        json["csr_registers"]!["ctrl_top"] = Register(0xFFFF_FFFC, 2);
        Fails(json).Problem.Should().Be("register at 0xFFFFFFFC with 2 words runs past the 32-bit address space");
    }

    [TestCase(1, true)]
    [TestCase(64, true)]
    [TestCase(0, false)]
    [TestCase(65, false)]
    public void A_register_is_1_to_64_words(long size, bool accepted)
    {
        var json = Json();
        json["csr_registers"]!["ctrl_wide"] = Register(0xE000, size);
        if (accepted)
        {
            Load(json).Register("ctrl_wide").Words.Should().Be((int)size);
        }
        else
        {
            Fails(json).Problem.Should().Be($"size {size} words is outside 1..64");
        }
    }

    [Test]
    public void A_register_needs_a_name_an_aligned_address_and_rw_or_ro()
    {
        var json = Json();
        json["csr_registers"]![""] = Register(0xE000, 1);
        var e = Fails(json);
        e.Entry.Should().Be("csr_registers");
        e.Problem.Should().Be("register with an empty name");

        json = Json();
        json["csr_registers"]!["ctrl_odd"] = Register(0xE001, 1);
        Fails(json).Problem.Should().Be("address 0x0000E001 is not 32-bit aligned");
        json["csr_registers"]!["ctrl_odd"] = Register(0xE002, 1);
        Fails(json).Problem.Should().Be("address 0x0000E002 is not 32-bit aligned");

        json = Json();
        json["csr_registers"]!["ctrl_ro"] = Register(0xE000, 1, "ro");
        json["csr_registers"]!["ctrl_rw"] = Register(0xE004, 1, "rw");
        var map = Load(json);
        map.Register("ctrl_ro").Access.Should().Be(CsrAccess.ReadOnly);
        map.Register("ctrl_rw").Access.Should().Be(CsrAccess.ReadWrite);
    }

    [TestCase(-1)]
    [TestCase(4294967296)]
    public void An_address_outside_32_bits_is_refused_by_field(long addr)
    {
        var json = Json();
        json["csr_registers"]!["ctrl_far"] = Register(addr, 1);
        var e = Fails(json);
        e.Entry.Should().Be("csr_registers.ctrl_far.addr");
        e.Problem.Should().Be($"address {addr} is outside the 32-bit CSR address space");
    }

    [Test]
    public void The_highest_32_bit_address_is_read_and_then_judged_on_alignment()
    {
        var json = Json();
        json["csr_registers"]!["ctrl_far"] = Register(0xFFFF_FFFF, 1);
        Fails(json).Problem.Should().Be("address 0xFFFFFFFF is not 32-bit aligned");
    }

    [Test]
    public void Register_entries_must_be_objects_with_integer_fields_and_a_string_type()
    {
        var json = Json();
        json["csr_registers"]!["ctrl_bad"] = 5;
        Fails(json).Problem.Should().Be("expected an object with addr/size/type, found Number");

        json["csr_registers"]!["ctrl_bad"] = new JsonObject { ["addr"] = 0xE000, ["type"] = "rw" };
        var e = Fails(json);
        e.Entry.Should().Be("csr_registers.ctrl_bad");
        e.Problem.Should().Be("missing field 'size'");

        json["csr_registers"]!["ctrl_bad"] = new JsonObject { ["addr"] = 0xE000, ["size"] = 1.5, ["type"] = "rw" };
        Fails(json).Problem.Should().Be("expected an integer, found 1.5");

        json["csr_registers"]!["ctrl_bad"] = new JsonObject { ["addr"] = 0xE000, ["size"] = "1", ["type"] = "rw" };
        Fails(json).Problem.Should().Be("expected an integer, found String");

        json["csr_registers"]!["ctrl_bad"] = new JsonObject { ["addr"] = 0xE000, ["size"] = 1, ["type"] = 1 };
        e = Fails(json);
        e.Entry.Should().Be("csr_registers.ctrl_bad.type");
        e.Problem.Should().Be("expected \"rw\" or \"ro\"");
    }

    [Test]
    public void Sections_have_their_shapes_and_the_required_ones_are_present()
    {
        FluentActions.Invoking(() => CsrMap.FromJson("[]", "edge/csr.json")).Should().Throw<CsrMapException>()
            .Which.Problem.Should().Be("top level must be an object, found Array");

        var json = Json();
        json.Remove("csr_bases");
        var e = Fails(json);
        e.Entry.Should().Be("csr_bases");
        e.Problem.Should().Be("required section is missing");

        json = Json();
        json["csr_registers"] = new JsonArray();
        e = Fails(json);
        e.Entry.Should().Be("csr_registers");
        e.Problem.Should().Be("expected an object, found Array");

        json = Json();
        json["csr_bases"]!["ctrl"] = "0";
        Fails(json).Entry.Should().Be("csr_bases.ctrl");
    }

    [Test]
    public void Constants_are_integers_booleans_strings_or_null()
    {
        var json = Json();
        json["constants"]!["x_true"] = true;
        json["constants"]!["x_false"] = false;
        json["constants"]!["x_null"] = null;
        json["constants"]!["x_text"] = "abc";
        json["constants"]!["x_int"] = -7;
        var map = Load(json);
        map.IntegerConstant("x_true").Should().Be(1);
        map.IntegerConstant("x_false").Should().Be(0);
        map.TryGetConstant("x_null", out var n).Should().BeTrue();
        n!.Integer.Should().BeNull();
        n.Text.Should().BeNull();
        map.Constants["x_text"].Text.Should().Be("abc");
        map.IntegerConstant("x_int").Should().Be(-7);
        map.IntegerConstant("x_absent").Should().BeNull();

        json["constants"]!["x_list"] = new JsonArray(1, 2);
        var e = Fails(json);
        e.Entry.Should().Be("constants.x_list");
        e.Problem.Should().Be("expected an integer, string or null, found Array");
    }

    [Test]
    public void Memories_and_cores_have_their_shapes()
    {
        var json = Json();
        json["memories"]!["extra"] = new JsonObject { ["base"] = 0x40000, ["size"] = 0x1000 };
        Load(json).Memories["extra"].Should().Be(new CsrMemoryRegion("extra", 0x40000, 0x1000, ""));

        json["memories"]!["extra"] = new JsonObject { ["base"] = -1, ["size"] = 0x1000, ["type"] = "io" };
        Fails(json).Problem.Should().Be("base and size must not be negative");
        json["memories"]!["extra"] = new JsonObject { ["base"] = 0, ["size"] = -1, ["type"] = "io" };
        Fails(json).Problem.Should().Be("base and size must not be negative");
        json["memories"]!["extra"] = 3;
        Fails(json).Problem.Should().Be("expected an object with base/size/type, found Number");

        json = Json();
        json["cores"]!["ctrl"] = 1;
        var e = Fails(json);
        e.Entry.Should().Be("cores.ctrl");
        e.Problem.Should().Be("expected a class name string, found Number");
    }

    [Test]
    public void The_csr_region_bounds_registers_and_bases_from_below_and_above()
    {
        var json = Json();
        json["memories"]!["csr"]!["base"] = 0x1000;
        var e = Fails(json);
        e.Problem.Should().Be("address 0x00000000 is below the CSR base 0x00001000");

        json = Json();
        json["csr_bases"]!["extra"] = 0x10000;
        e = Fails(json);
        e.Entry.Should().Be("csr_bases.extra");
        e.Problem.Should().Be("origin 0x00010000 is outside the CSR region starting at 0x00000000");

        json["csr_bases"]!["extra"] = 0xFFFC;
        Load(json).Bases["extra"].Should().Be(0xFFFCu, "the last word of the region is inside it");

        json["csr_bases"]!["extra"] = 0x102;
        Fails(json).Problem.Should().Be("origin 0x00000102 is not 32-bit aligned");
    }

    [Test]
    public void A_csr_base_above_32_bits_is_refused()
    {
        var json = Json();
        json["memories"]!["csr"]!["base"] = 0x1_0000_0000L;
        var e = Fails(json);
        e.Entry.Should().Be("memories.csr");
        e.Problem.Should().Be("CSR base 0x100000000 is beyond 32 bits");
    }

    [Test]
    public void Register_at_finds_the_register_of_every_word_and_nothing_between()
    {
        var map = Load(Json());
        foreach (var r in map.Registers)
        {
            for (uint a = r.Address; a < r.EndAddress; a += 4)
            {
                map.RegisterAt(a).Should().BeSameAs(r, $"0x{a:X} is inside {r.Name}");
            }
        }

        var covered = map.Registers.SelectMany(r => Enumerable.Range(0, r.Words).Select(w => r.Address + (uint)(4 * w))).ToHashSet();
        uint gap = Enumerable.Range(0, 0x4000).Select(i => (uint)(4 * i)).First(a => !covered.Contains(a) && a > map.Registers[0].Address);
        map.RegisterAt(gap).Should().BeNull();
        map.RegisterAt((uint)map.Registers[^1].EndAddress).Should().BeNull();
        map.RegisterAt(0xFFFF_FFFC).Should().BeNull();
    }

    [Test]
    public void Bar_offsets_are_relative_to_the_csr_base()
    {
        var json = Json();
        foreach (var (_, reg) in json["csr_registers"]!.AsObject())
        {
            reg!["addr"] = reg["addr"]!.GetValue<long>() + 0x8000_0000L;
        }

        foreach (var (name, value) in json["csr_bases"]!.AsObject().ToList())
        {
            json["csr_bases"]![name] = value!.GetValue<long>() + 0x8000_0000L;
        }

        json["memories"]!["csr"]!["base"] = 0x8000_0000L;
        var map = Load(json);
        map.CsrBase.Should().Be(0x8000_0000u);
        var scratch = map.Register("ctrl_scratch");
        map.BarOffsetOf(scratch).Should().Be(scratch.Address - 0x8000_0000u);
        map.ToAddress(map.ToBarOffset(scratch.Address)).Should().Be(scratch.Address);
        map.ToBarOffset(0x8000_0000).Should().Be(0u);
        FluentActions.Invoking(() => map.ToBarOffset(0x7FFF_FFFC)).Should().Throw<ArgumentOutOfRangeException>()
            .WithMessage("address 0x7FFFFFFC is below the CSR base 0x80000000 of edge/csr.json*");
        map.ToAddress(0x7FFF_FFFF).Should().Be(0xFFFF_FFFFu);
        FluentActions.Invoking(() => map.ToAddress(0x8000_0000)).Should().Throw<ArgumentOutOfRangeException>()
            .WithMessage("BAR0 offset 0x80000000 + CSR base 0x80000000 overflows 32 bits*");
    }

    [Test]
    public void An_absent_register_is_named_with_the_map()
    {
        var map = Load(Json());
        var e = FluentActions.Invoking(() => map.Register("ctrl_nothing")).Should().Throw<CsrMapException>().Which;
        e.Entry.Should().Be("ctrl_nothing");
        e.Source.Should().Be("edge/csr.json");
        e.Problem.Should().Be("register not present in this design");
        map.TryGetRegister("ctrl_scratch", out var r).Should().BeTrue();
        r!.Name.Should().Be("ctrl_scratch");
        map.Identifier.Should().Be("loader-edges 2026-01-01 00:00:00");
    }

    [Test]
    public void Csv_skips_comments_and_blank_lines_and_reads_crlf_none_and_text_constants()
    {
        string csv = "# written by hand\r\n\r\n   # indented comment\r\n" + LiteXMapGenerator.ToCsv(s_design).Replace("\n", "\r\n", StringComparison.Ordinal) +
                     "constant,x_none,None,,\r\nconstant,x_text, some text ,,\r\nconstant,x_neg,-12,,\r\n";
        var map = CsrMap.FromCsv(csv, "edge/csr.csv", PhyFamily.Series7);
        map.Registers.Should().Equal(CsrMap.FromJson(LiteXMapGenerator.ToJson(s_design)).Registers);
        map.Constants["x_none"].Should().Match<CsrConstant>(c => c.Integer == null && c.Text == null);
        map.Constants["x_text"].Text.Should().Be(" some text ");
        map.IntegerConstant("x_neg").Should().Be(-12);
    }

    [Test]
    public void Csv_rows_name_the_line_and_the_column_at_fault()
    {
        string good = LiteXMapGenerator.ToCsv(s_design);
        FailsCsv(good + "csr_register,,0x0000e000,1,rw\n").Problem.Should().Be("empty name in column 2");
        var e = FailsCsv(good + "csr_register,ctrl_x,0x0000e000,one,rw\n");
        e.Entry.Should().Be($"line {good.Split('\n').Length} (csr_register ctrl_x)");
        e.Problem.Should().Be("size 'one' is not a decimal word count");
        FailsCsv(good + "memory_region,x,0x40000,big,io\n").Problem.Should().Be("size 'big' is not a decimal byte count");
        FailsCsv(good + "csr_base,x,0x100000000,,\n").Problem.Should().Be("address 0x100000000 is outside the 32-bit CSR address space");
        FailsCsv(good + "csr_base,x,0xe00g,,\n").Problem.Should().Be("'0xe00g' is not an address (expected 0x-prefixed hex, as LiteX writes it, or a decimal number)");
        FailsCsv(good + "csr_base,x,-4096,,\n").Problem.Should().Be("'-4096' is not an address (expected 0x-prefixed hex, as LiteX writes it, or a decimal number)");
        FailsCsv("constant,a,1,,\n").Problem.Should().Be("no csr_register rows: not a LiteX csr.csv");
        string longRow = "csr_register," + new string('r', 100);
        FailsCsv(good + longRow + "\n").Problem.Should().Be($"expected 5 comma-separated columns, found 2: '{longRow[..77]}...'");
    }

    [Test]
    public void Csv_addresses_are_read_as_hex_with_0x_and_as_decimal_without()
    {
        var map = CsrMap.FromCsv(LiteXMapGenerator.ToCsv(s_design) + "memory_region,dec,65536,4096,io\nmemory_region,hex,0X20000,4096,io\n", "edge/csr.csv", PhyFamily.Series7);
        map.Memories["dec"].Base.Should().Be(0x1_0000UL);
        map.Memories["hex"].Base.Should().Be(0x2_0000UL);
    }

    [Test]
    public void Csv_memory_regions_are_read_with_64_bit_bases()
    {
        var map = CsrMap.FromCsv(LiteXMapGenerator.ToCsv(s_design) + "memory_region,big,0x100000000,4096,cached\n", "edge/csr.csv", PhyFamily.Series7);
        map.Memories["big"].Should().Be(new CsrMemoryRegion("big", 0x1_0000_0000UL, 4096, "cached"));
        map.Bases.Should().ContainKey("ctrl");
    }

    [Test]
    public void Load_reads_json_and_csv_by_extension_and_names_an_unreadable_path()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"csr-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            string json = Path.Combine(dir, "csr.JSON"), csv = Path.Combine(dir, "csr.csv");
            File.WriteAllText(json, LiteXMapGenerator.ToJson(s_design));
            File.WriteAllText(csv, LiteXMapGenerator.ToCsv(s_design));
            CsrMap.Load(json).Source.Should().Be(json);
            CsrMap.Load(csv, PhyFamily.Series7).Registers.Should().Equal(CsrMap.Load(json).Registers);
            var e = FluentActions.Invoking(() => CsrMap.Load(Path.Combine(dir, "absent.json"))).Should().Throw<CsrMapException>().Which;
            e.Problem.Should().StartWith("cannot read the file (");
            e.InnerException.Should().BeAssignableTo<IOException>();
            FluentActions.Invoking(() => CsrMap.Load(Path.Combine(dir, "a.yaml"))).Should().Throw<CsrMapException>()
                .Which.Problem.Should().StartWith("cannot read the file", "reading comes before the format");
            File.WriteAllText(Path.Combine(dir, "a.yaml"), "x");
            FluentActions.Invoking(() => CsrMap.Load(Path.Combine(dir, "a.yaml"))).Should().Throw<CsrMapException>()
                .Which.Problem.Should().Be("unknown CSR map format '.YAML' (expected .json or .csv)");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
