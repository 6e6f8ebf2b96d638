using FluentAssertions;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Fixtures;
using LitePcie.Hil.Options;
using LitePcie.Hil.Simulation.Sil;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Fixtures;

/// <summary>The backend factory never falls back to the simulator and finds one target per simulated board.</summary>
[TestFixture]
public sealed class BackendFactoryTests
{
    [TestCase(BackendKind.Linux)]
    [TestCase(BackendKind.MacOS)]
    public void A_platform_backend_is_never_replaced_by_the_simulator(BackendKind kind)
    {
        var options = new HilOptions { Target = new() { Backend = kind } };
        var act = () => BackendFactory.Create(options);
        act.Should().Throw<DeviceCapabilityException>()
            .WithMessage($"*Backend={kind.ToString().ToLowerInvariant()} not available*never replaced by the simulator*");

        var (targets, reason) = BackendFactory.Discover(options);
        targets.Should().BeEmpty($"no {kind} board can be found by a run that cannot reach one");
        reason.Should().StartWith($"Backend={kind.ToString().ToLowerInvariant()}: ", "the skip reason names the backend that was asked for");
    }

    [Test]
    public void On_this_machine_the_linux_backend_says_why_there_is_no_board()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("not Linux");
        }

        var (_, reason) = BackendFactory.Discover(new HilOptions { Target = new() { Backend = BackendKind.Linux } });
        reason.Should().Match("Backend=linux: no function bound to litepcie.ko (/sys/bus/pci/drivers/litepcie does not exist: the module is not loaded) and no LitePCIe vendor:device ID among * PCI functions",
            "this VM has virtio functions only, and the reason says exactly that");
    }

    [Test]
    public async Task The_simulator_backend_carries_the_options_faults()
    {
        var options = HilOptions.Parse([new("SimFaults", "dma-stall=3"), new("SimSeed", "42")]);
        await using var backend = BackendFactory.Create(options);
        backend.Should().BeOfType<SilBackend>().Which.Faults.ToString().Should().Be("dma-stall=3;seed=42");
    }

    [Test]
    public void Every_simulated_board_is_one_target_and_Device_selects_one()
    {
        var options = new HilOptions { Target = new() { Boards = ["sim-ac701-2ch", "sim-xcu1525-msix", "sim-kcu105-noloop"] } };
        var (targets, reason) = BackendFactory.Discover(options);
        reason.Should().BeNull();
        targets.Select(t => t.ToString()).Should().Equal(
            "sim:sim-ac701-2ch@0000:01:00.0", "sim:sim-xcu1525-msix@0000:02:00.0", "sim:sim-kcu105-noloop@0000:03:00.0");
        BackendFactory.ProfileFor(options, targets[1]).Name.Should().Be("sim-xcu1525-msix", "the profile of the board in slot 02");

        var one = BackendFactory.Discover(options with { Target = options.Target with { Device = "0000:03:00.0" } });
        one.Targets.Should().ContainSingle().Which.Board.Should().Be("sim-kcu105-noloop");

        var none = BackendFactory.Discover(options with { Target = options.Target with { Device = "0000:09:00.0" } });
        none.Targets.Should().BeEmpty();
        none.Reason.Should().Be("no simulated board at Device=0000:09:00.0 (simulated boards: 0000:01:00.0, 0000:02:00.0, 0000:03:00.0)");
    }

    /// <summary>A lab run with no board must be red: with RequireBoards every fixture target fails instead of skipping.</summary>
    [TestCase(BackendKind.Linux)]
    [TestCase(BackendKind.MacOS)]
    public async Task With_RequireBoards_a_lab_run_that_finds_no_board_fails_instead_of_skipping(BackendKind kind)
    {
        var options = new HilOptions { Target = new() { Backend = kind, RequireBoards = true, Boards = ["sim-ac701-2ch"] } };
        var targets = BackendFactory.Targets(options);
        targets.Should().NotBeEmpty().And.OnlyContain(t => t.Unavailable != null && t.Required, "no board is reachable here, and every one is required");
        targets.Should().Contain(t => t.Board == "sim-ac701-2ch" && t.Unavailable!.Contains("RequireBoards: board sim-ac701-2ch was not found", StringComparison.Ordinal));

        var suite = new ProbeSuite(targets[0]);
        await FluentActions.Awaiting(suite.OpenSessionAsync).Should().ThrowAsync<AssertionException>()
            .WithMessage("*requires one (RequireBoards=true)*");

        var relaxed = BackendFactory.Targets(options with { Target = options.Target with { RequireBoards = false } });
        relaxed.Should().ContainSingle().Which.Required.Should().BeFalse("without RequireBoards a missing board is a skip with the reason");
        await FluentActions.Awaiting(new ProbeSuite(relaxed[0]).OpenSessionAsync).Should().ThrowAsync<IgnoreException>();
    }

    [TestCase("linux-lab.runsettings")]
    [TestCase("macos-lab.runsettings")]
    [TestCase("linux-guest.runsettings")]
    public void The_lab_runsettings_require_their_boards(string file)
    {
        var text = File.ReadAllText(Path.Combine(Support.TestPaths.RepoRoot, "runsettings", file));
        text.Should().Contain("<Parameter name=\"RequireBoards\" value=\"true\" />", $"{file}: a lab run that finds no board must fail, not skip");
    }

    [Test]
    public void A_board_whose_map_is_in_an_absent_shared_tree_is_a_target_skipped_with_the_reason()
    {
        var options = new HilOptions { Target = new() { Boards = ["sim-ac701-2ch"], UnavailableBoards = new Dictionary<string, string> { ["shared-ac701-2ch"] = "the shared tree is absent" } } };
        var targets = BackendFactory.Targets(options);
        targets.Select(t => t.ToString()).Should().Equal("sim:sim-ac701-2ch@0000:01:00.0", "sim:shared-ac701-2ch:not-found");
        targets[1].Unavailable.Should().Be("board shared-ac701-2ch: the shared tree is absent");
        targets[1].Required.Should().BeFalse();
    }

    private sealed class ProbeSuite(BoardTarget target) : DeviceSuite(target);
}
