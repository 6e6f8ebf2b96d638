using FluentAssertions;
using LitePcie.Hil.Backends;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Simulation;
using LitePcie.Hil.Simulation.Faults;
using LitePcie.Hil.Simulation.Gateware;
using LitePcie.Hil.Simulation.Sil;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Composition;

/// <summary>The one registry of backends and the one format of a PCI address.</summary>
[TestFixture]
public sealed class BackendRegistryTests
{
    [TestCase("0000:01:00.0", 0, 1, 0, 0)]
    [TestCase("0001:a3:1f.7", 1, 0xA3, 31, 7)]
    [TestCase("0000:FF:00.1", 0, 0xFF, 0, 1)]
    public void A_pci_address_parses_and_writes_back_the_same(string text, int domain, int bus, int device, int function)
    {
        var address = PciAddress.Parse(text);
        address.Should().Be(new PciAddress(domain, bus, device, function));
        address.ToString().Should().Be(text.ToLowerInvariant());
    }

    [TestCase("")]
    [TestCase("01:00.0")]
    [TestCase("0000:01:20.0")]
    [TestCase("0000:01:00.8")]
    [TestCase("0000-01-00.0")]
    [TestCase("registry:0x1000002a3")]
    public void Anything_else_is_not_a_pci_address_and_the_error_says_the_form(string text)
    {
        PciAddress.TryParse(text, out _).Should().BeFalse();
        FluentActions.Invoking(() => PciAddress.Parse(text)).Should().Throw<FormatException>()
            .WithMessage($"PCI address '{text}': accepted domain:bus:device.function in hex*");
    }

    [Test]
    public async Task Simulated_board_i_sits_at_bus_i_plus_1_on_the_backend_and_in_discovery()
    {
        var request = new BackendRequest { Boards = ["sim-ac701-2ch", "sim-xcu1525-msix"] };
        var provider = BackendRegistry.For(request);
        provider.Discover(request).Boards.Select(b => b.Address).Should().Equal(PciAddress.OfSimulatedSlot(0).ToString(), PciAddress.OfSimulatedSlot(1).ToString());
        await using var backend = provider.Create(request);
        backend.Should().BeOfType<SilBackend>().Which.Slots.Select(s => s.Address).Should().Equal("0000:01:00.0", "0000:02:00.0");
        (await backend.EnumerateAsync()).Select(d => d.Address).Should().Equal("0000:01:00.0", "0000:02:00.0");
        provider.ProfileFor(request, "0000:02:00.0", "-").Name.Should().Be("sim-xcu1525-msix");
        PciAddress.Parse("0000:02:00.0").SimulatedSlot.Should().Be(1);
    }

    [Test]
    public void Every_backend_has_one_provider_and_an_unknown_name_lists_them()
    {
        BackendRegistry.Names.Should().Equal("sim", "linux", "macos");
        FluentActions.Invoking(() => BackendRegistry.Provider("windows")).Should().Throw<ArgumentException>()
            .WithMessage("backend 'windows': accepted sim | linux | macos*");
    }

    [Test]
    public void The_macos_re_enumeration_bound_is_the_request_s_whoever_asks()
    {
        // The CLI and the fixtures used to differ (15 s fixed vs ReenumerationTimeoutMs): both now hand it over in the request.
        new BackendRequest().ReenumerationTimeout.Should().Be(TimeSpan.FromSeconds(15), "the CLI's bound, and ReenumerationTimeoutMs' default");
        var request = LitePcie.Hil.Fixtures.BackendFactory.Request(new LitePcie.Hil.Options.HilOptions { Qualification = new() { ReenumerationTimeoutMs = 2500 }, Sim = new() { SimFlowControl = false } });
        request.ReenumerationTimeout.Should().Be(TimeSpan.FromMilliseconds(2500));
        request.FlowControl.Should().BeFalse("SimFlowControl reaches the simulator through the request");
    }

    [Test]
    public void The_device_server_s_board_comes_from_the_simulator_s_provider()
    {
        var request = new BackendRequest { Boards = ["sim-xcu1525-msix"], Faults = "msi-drop=0.5", Paced = true, AskedAs = "--engine" };
        using var memory = new HostMemory(64);
        using var board = BackendRegistry.Server(request).Serve(request, new BoardServing(memory) { PacedBytesPerSecond = 32 << 20 });
        board.Profile.Name.Should().Be("sim-xcu1525-msix", "the request's first board");
        board.Faults.ToString().Should().Be(FaultPlan.Parse("msi-drop=0.5").ToString(), "the request's faults");
        board.Engine.Should().Be(SimEngine.Model, "the request's engine");

        FluentActions.Invoking(() => BackendRegistry.Server(request with { Backend = "linux" })).Should().Throw<ArgumentException>()
            .WithMessage("backend 'linux' serves no board on its own: accepted sim*");
    }
}
