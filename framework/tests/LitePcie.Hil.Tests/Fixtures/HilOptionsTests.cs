using System.Xml.Linq;
using FluentAssertions;
using LitePcie.Hil.Options;
using LitePcie.Hil.Pci;
using LitePcie.Hil.Simulation.Faults;
using LitePcie.Hil.Tests.Support;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Fixtures;

/// <summary>The suites' options: defaults, ranges, every problem reported together, unknown names refused.</summary>
[TestFixture]
public sealed class HilOptionsTests
{
    private static HilOptions Parse(params (string Name, string Value)[] parameters) =>
        HilOptions.Parse(parameters.Select(p => new KeyValuePair<string, string>(p.Name, p.Value)));

    private static IReadOnlyList<string> Problems(params (string Name, string Value)[] parameters)
    {
        var act = () => Parse(parameters);
        return act.Should().Throw<HilOptionsException>().Which.Problems;
    }

    [Test]
    public void No_parameters_give_the_documented_defaults()
    {
        var o = Parse();
        o.Should().BeEquivalentTo(new HilOptions(), "an empty TestRunParameters section means every default");
        foreach (var d in HilOptions.Definitions.Where(d => d.Default.Length > 0))
        {
            var act = () => Parse((d.Name, d.Default));
            act.Should().NotThrow($"the documented default of {d.Name} ('{d.Default}') must itself be accepted");
        }

        o.Target.Backend.Should().Be(BackendKind.Sim);
        o.Target.Boards.Should().Equal("sim-ac701-2ch");
        o.Dma.MinGbpsFor(PciLinkSpeed.Gen2, 4).Should().Be(10, "the published Gen2 x4 loopback floor");
    }

    [Test]
    public void Every_problem_is_reported_together_naming_parameter_and_range()
    {
        var problems = Problems(
            ("Backend", "windows"),
            ("DmaBytes", "12"),
            ("DmaIrqEveryGrid", "1,70000"),
            ("MsiMaxLatencyUs", "fast"),
            ("SimPaced", "yes"),
            ("Board", "no-such-board"));

        problems.Should().HaveCount(6, "six parameters are wrong and each is reported once: {0}", string.Join(" | ", problems));
        problems.Should().ContainSingle(p => p.StartsWith("Backend = 'windows'", StringComparison.Ordinal) && p.Contains("sim, linux or macos"));
        problems.Should().ContainSingle(p => p.StartsWith("DmaBytes = '12'", StringComparison.Ordinal) && p.Contains("1MiB..1024GiB"));
        problems.Should().ContainSingle(p => p.StartsWith("DmaIrqEveryGrid entry '70000'", StringComparison.Ordinal) && p.Contains("1..65535"));
        problems.Should().ContainSingle(p => p.StartsWith("MsiMaxLatencyUs = 'fast'", StringComparison.Ordinal) && p.Contains("1..10000000"));
        problems.Should().ContainSingle(p => p.StartsWith("SimPaced = 'yes'", StringComparison.Ordinal) && p.Contains("true or false"));
        problems.Should().ContainSingle(p => p.StartsWith("Board = 'no-such-board'", StringComparison.Ordinal));
    }

    [Test]
    public void The_exception_message_lists_every_problem()
    {
        var act = () => Parse(("DmaStartStopCycles", "0"), ("OpenRetries", "-1"));
        act.Should().Throw<HilOptionsException>()
            .WithMessage("invalid TestRunParameters (2 problems):*DmaStartStopCycles = '0': accepted an integer in 1..1000000*OpenRetries = '-1': accepted an integer in 0..100*");
    }

    [Test]
    public void An_unknown_parameter_is_an_error_with_a_hint()
    {
        Problems(("dmaBytes", "1GiB")).Should().ContainSingle()
            .Which.Should().Be("dmaBytes: unknown parameter (names are case-sensitive: did you mean DmaBytes?)");
        Problems(("DmaMinGbs", "2")).Should().ContainSingle()
            .Which.Should().Be("DmaMinGbs: unknown parameter (did you mean DmaMinGbps?)", "a typo gets the nearest name");
        Problems(("Colour", "red")).Should().ContainSingle()
            .Which.Should().StartWith("Colour: unknown parameter (known: Backend, Board, Device,", "nothing near: every name is listed");
    }

    [Test]
    public void Simulator_parameters_are_refused_with_a_platform_backend()
    {
        var problems = Problems(("Backend", "linux"), ("Board", LabBoards.Ac701), ("SimFaults", "msi-drop=0.1"), ("SimPaced", "true"));
        problems.Should().BeEquivalentTo(
            "SimFaults: only valid with Backend=sim (Backend is linux)",
            "SimPaced: only valid with Backend=sim (Backend is linux)");
    }

    [Test]
    public void Fault_strings_are_parsed_with_the_seed_and_bad_ones_name_the_entry()
    {
        var o = Parse(("SimFaults", "dma-bitflip=1%;bar-alias"), ("SimSeed", "7"));
        o.Sim.SimFaults.Value(FaultKind.DmaBitflip).Should().Be(0.01);
        o.Sim.SimFaults.Has(FaultKind.BarAlias).Should().BeTrue();
        o.Sim.SimFaults.Seed.Should().Be(7);

        Problems(("SimFaults", "dma-bitflop=0.1")).Should().ContainSingle()
            .Which.Should().StartWith("SimFaults: ").And.Contain("'dma-bitflop=0.1': unknown fault 'dma-bitflop'");
    }

    [Test]
    public void Throughput_floors_are_per_link_with_an_optional_default()
    {
        Parse().IsGiven(nameof(DmaOptions.DmaMinGbps)).Should().BeFalse("on the simulator the published floors apply only when the run gives DmaMinGbps");
        var o = Parse(("DmaMinGbps", "gen3x8=40;gen2x4=9.5;default=1"));
        o.IsGiven(nameof(DmaOptions.DmaMinGbps)).Should().BeTrue();
        o.Dma.MinGbpsFor(PciLinkSpeed.Gen3, 8).Should().Be(40);
        o.Dma.MinGbpsFor(PciLinkSpeed.Gen2, 4).Should().Be(9.5);
        o.Dma.MinGbpsFor(PciLinkSpeed.Gen1, 1).Should().Be(1, "unlisted links fall to default");

        Parse(("DmaMinGbps", "gen3x8=40")).Dma.MinGbpsFor(PciLinkSpeed.Gen2, 4).Should().BeNull("no floor for an unlisted link without a default");
        Parse(("DmaMinGbps", "3.5")).Dma.MinGbpsFor(PciLinkSpeed.Gen4, 16).Should().Be(3.5, "a bare number applies to every link");

        Problems(("DmaMinGbps", "gen3x3=40;gen9x4=1;gen2x4")).Should().HaveCount(3)
            .And.AllSatisfy(p => p.Should().Contain("accepted genNxW=Gb/s (N 1..6, W 1/2/4/8/16) or default=Gb/s"));
    }

    [Test]
    public void Lab_commands_come_in_pairs_with_known_placeholders_and_never_on_the_simulator()
    {
        Problems(("Backend", "linux"), ("Board", LabBoards.Ac701), ("AttachCommand", "switchctl on {device}")).Should().ContainSingle()
            .Which.Should().Be("AttachCommand and DetachCommand: set both (a lab switch needs both directions) or neither");
        Problems(("Backend", "macos"), ("Board", LabBoards.Ac701), ("AttachCommand", "relay on {port}"), ("DetachCommand", "relay off {device}"), ("SleepCommand", "rtcwake -s {device}")).Should().BeEquivalentTo(
            "AttachCommand: 'relay on {port}': unknown placeholder {port} (known: {device})",
            "SleepCommand: 'rtcwake -s {device}': unknown placeholder {device} (known: {seconds})");
        Problems(("SleepCommand", "rtcwake -m mem -s {seconds}")).Should().ContainSingle()
            .Which.Should().StartWith("SleepCommand: only valid with Backend=linux or macos");

        var lab = Parse(("Backend", "linux"), ("Board", LabBoards.Ac701), ("AttachCommand", "switchctl on {device}"), ("DetachCommand", "switchctl off {device}"));
        lab.Lab.AttachCommand.Should().Be("switchctl on {device}");
    }

    [Test]
    public void Cycling_parameters_are_validated_with_their_own_words()
    {
        Problems(("DetachMix", "idle,hibernate"), ("LeakMaxSlope", "driver.*=-1"), ("QualificationCycles", "0")).Should().BeEquivalentTo(
            "DetachMix entry 'hibernate': accepted idle, open or dma, each with an optional =weight in 0..1000, comma-separated",
            "LeakMaxSlope entry 'driver.*=-1': accepted resource=limit or prefix*=limit with a limit ≥ 0 per cycle and an optional noise band (limit+band, ≥ 0), ';'- or ','-separated",
            "QualificationCycles = '0': accepted an integer in 1..1000000");
        var o = Parse(("DetachMix", "dma=3,idle"), ("LeakMaxSlope", "process.*=10"));
        o.Qualification.DetachMix.ToString().Should().Be("dma=3,idle=1");
        o.Cycling.LeakMaxSlope.LimitFor("process.threads").Should().Be(10);
        new HilOptions().Qualification.QualificationCycles.Should().Be(1000, "the qualification bar is 1,000 attach/detach cycles");
    }

    [Test]
    public void Sizes_accept_units_and_hex()
    {
        Parse(("DmaBytes", "1GiB")).Dma.DmaBytes.Should().Be(1L << 30);
        Parse(("DmaBytes", "0x200000")).Dma.DmaBytes.Should().Be(2L << 20);
        Parse(("BarPatternBytes", "0")).Register.BarPatternBytes.Should().Be(0, "0 means the whole BAR");
        Problems(("BarPatternBytes", "2")).Should().ContainSingle().Which.Should().Contain("accepted 0 (whole BAR) or 4..2GiB");
    }

    [Test]
    public void SimEngine_selects_the_rtl_which_has_no_flow_control_pacing_or_gateware_faults()
    {
        Parse().Sim.SimEngine.Should().Be(LitePcie.Hil.Simulation.Gateware.SimEngine.Model);
        var rtl = Parse(("SimEngine", "rtl"));
        rtl.Sim.SimEngine.Should().Be(LitePcie.Hil.Simulation.Gateware.SimEngine.Rtl);
        rtl.Sim.SimFlowControl.Should().BeFalse("the RTL never waits for software: lossy is its only flow");
        Problems(("SimEngine", "verilog")).Should().ContainSingle().Which.Should().Contain("SimEngine = 'verilog': accepted model or rtl");
        Problems(("SimEngine", "rtl"), ("SimFlowControl", "true")).Should().ContainSingle().Which.Should().Contain("SimFlowControl = true: SimEngine=rtl has no flow control");
        Problems(("SimEngine", "rtl"), ("SimPaced", "true")).Should().ContainSingle().Which.Should().Contain("SimPaced");
        Problems(("SimEngine", "rtl"), ("SimFaults", "dma-bitflip=0.1;msi-drop=0.5")).Should().ContainSingle()
            .Which.Should().Contain("dma-bitflip").And.NotContain("msi-drop", "board-level faults work on both engines");
    }

    [Test]
    public void Every_runsettings_file_holds_only_known_valid_parameters()
    {
        var files = Directory.GetFiles(Path.Combine(TestPaths.RepoRoot, "runsettings"), "*.runsettings");
        files.Select(Path.GetFileName).Should().BeEquivalentTo(
            ["sim.runsettings", "linux-lab.runsettings", "linux-guest.runsettings", "macos-lab.runsettings", "nightly.runsettings", "rtl.runsettings"]);
        foreach (var file in files)
        {
            var parameters = XDocument.Load(file).Root!.Element("TestRunParameters")!.Elements("Parameter")
                .Select(p => new KeyValuePair<string, string>((string)p.Attribute("name")!, (string)p.Attribute("value")!))
                .ToList();
            parameters.Should().NotBeEmpty($"{Path.GetFileName(file)} sets its TestRunParameters");
            if (Path.GetFileName(file).Contains("-lab", StringComparison.Ordinal))
            {
                // A lab file names no board: the one in the slot must be given, and nothing else is missing.
                var bare = () => HilOptions.Parse(parameters);
                bare.Should().Throw<HilOptionsException>().Which.Problems.Should().ContainSingle()
                    .Which.Should().StartWith("Board: required with Backend=", $"{Path.GetFileName(file)} has no default board");
                parameters = [.. parameters.Where(p => p.Key != "Board"), new("Board", LabBoards.Ac701)];
            }

            var act = () => HilOptions.Parse(parameters);
            act.Should().NotThrow($"{Path.GetFileName(file)} must parse");
        }
    }

    [Test]
    public void A_real_backend_needs_the_profile_of_the_board_in_the_slot()
    {
        Problems(("Backend", "linux")).Should().ContainSingle().Which.Should()
            .StartWith("Board: required with Backend=linux: the profile of the board in the slot");
        Problems(("Backend", "macos"), ("Board", "")).Should().ContainSingle().Which.Should().StartWith("Board: required with Backend=macos");
        Parse(("Backend", "linux"), ("Board", "sim-ac701-2ch")).Target.Boards.Should().Equal(["sim-ac701-2ch"],
            "named explicitly, a built-in profile is the lab's choice (the QEMU guest's virtual board is that design)");
        Parse(("Backend", "linux"), ("Board", LabBoards.Ac701)).Target.Boards.Should().Equal(LabBoards.Ac701);
    }

    [TestCase("SimFaults", "dma-bitflip=0.01 seed=7", "dma-bitflip=0.01,seed=7")]
    [TestCase("SimFaults", "bar-alias wrong-ident", "bar-alias,wrong-ident")]
    [TestCase("DmaMinGbps", "gen2x4=10 default=2", "gen2x4=10,default=2")]
    [TestCase("LeakMaxSlope", "driver.*=0.01 process.*=2048", "driver.*=0.01,process.*=2048")]
    public void A_list_whose_semicolons_the_command_line_turned_into_spaces_is_explained(string name, string mangled, string fixedValue)
    {
        Problems((name, mangled)).Should().ContainSingle().Which.Should()
            .StartWith($"{name} = '{mangled}': its entries are separated by spaces, which is what dotnet test's command line")
            .And.Contain($"Write '{fixedValue}' (',' survives the command line)").And.Contain(".runsettings file, where ';' is kept");
        var act = () => Parse((name, fixedValue));
        act.Should().NotThrow("the ','-separated form is what the message suggests");
    }

    [Test]
    public void Comma_separated_lists_mean_the_same_as_semicolon_separated_ones()
    {
        Parse(("DmaMinGbps", "gen2x4=9.5,default=1")).Dma.MinGbpsFor(PciLinkSpeed.Gen2, 4).Should().Be(9.5);
        Parse(("LeakMaxSlope", "driver.*=0.5,process.*=10")).Cycling.LeakMaxSlope.LimitFor("driver.pending_waits").Should().Be(0.5);
        Parse(("SimFaults", "dma-bitflip=0.01,seed=3")).Sim.SimFaults.ToString().Should().Be(Parse(("SimFaults", "dma-bitflip=0.01;seed=3")).Sim.SimFaults.ToString());
    }

    [Test]
    public void A_board_whose_csr_json_lacks_a_required_register_is_a_runsettings_problem()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"litepcie-noscratch-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            string source = Path.Combine(TestPaths.Boards, "sim-ac701-2ch");
            File.Copy(Path.Combine(source, "profile.json"), Path.Combine(dir, "profile.json"));
            File.WriteAllText(Path.Combine(dir, "csr.json"), File.ReadAllText(Path.Combine(source, "csr.json"))
                .Replace("\"ctrl_scratch\"", "\"ctrl_scratch_gone\"", StringComparison.Ordinal));
            Problems(("Board", dir)).Should().ContainSingle().Which.Should().Contain("ctrl_scratch: required register is missing");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Test]
    public void The_runsettings_page_documents_every_parameter()
    {
        string page = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "docs", "runsettings.md"));
        var missing = HilOptions.Definitions.Where(d => !page.Contains($"| `{d.Name}` |", StringComparison.Ordinal)).Select(d => d.Name);
        missing.Should().BeEmpty("docs/runsettings.md's table must list every parameter HilOptions accepts");
    }

    [Test]
    public void The_runsettings_table_is_the_declarations_table()
    {
        string page = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "docs", "runsettings.md")).ReplaceLineEndings("\n");
        string table = HilOptions.Binder.MarkdownTable();
        page.Should().Contain(table, "docs/runsettings.md's parameter table is generated from the [Option] declarations of HilOptions; " +
            "after changing one, paste HilOptions.Binder.MarkdownTable() over the table. Generated:\n" + table);
    }

    [Test]
    public void Every_declaration_names_what_it_accepts_and_what_it_controls()
    {
        foreach (var d in HilOptions.Definitions)
        {
            d.Accepted.Should().NotBeNullOrWhiteSpace(d.Name);
            d.Description.Should().NotBeNullOrWhiteSpace(d.Name);
        }

        HilOptions.Definitions.Select(d => d.Name).Should().OnlyHaveUniqueItems();
    }
}
