using FluentAssertions;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Fixtures;
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
        var options = new HilOptions { Backend = kind };
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

        var (_, reason) = BackendFactory.Discover(new HilOptions { Backend = BackendKind.Linux });
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
        var options = new HilOptions { Boards = ["sim-ac701-2ch", "sim-xcu1525-msix", "sim-kcu105-noloop"] };
        var (targets, reason) = BackendFactory.Discover(options);
        reason.Should().BeNull();
        targets.Select(t => t.ToString()).Should().Equal(
            "sim:sim-ac701-2ch@0000:01:00.0", "sim:sim-xcu1525-msix@0000:02:00.0", "sim:sim-kcu105-noloop@0000:03:00.0");
        BackendFactory.ProfileFor(options, targets[1]).Name.Should().Be("sim-xcu1525-msix", "the profile of the board in slot 02");

        var one = BackendFactory.Discover(options with { Device = "0000:03:00.0" });
        one.Targets.Should().ContainSingle().Which.Board.Should().Be("sim-kcu105-noloop");

        var none = BackendFactory.Discover(options with { Device = "0000:09:00.0" });
        none.Targets.Should().BeEmpty();
        none.Reason.Should().Be("no simulated board at Device=0000:09:00.0 (simulated boards: 0000:01:00.0, 0000:02:00.0, 0000:03:00.0)");
    }
}
