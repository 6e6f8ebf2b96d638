using System.Text.Json.Nodes;
using FluentAssertions;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Simulation.Csr;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Csr;

/// <summary>
/// The layout guard's report line by line and its word-size check (P14, HIL-04), which mutation testing found
/// unguarded (docs/mutation.md): what an engineer reads when the kernel's fixed offsets do not fit the design.
/// </summary>
[TestFixture]
public sealed class LayoutGuardEdgeTests
{
    private static LitePcieDesign Design(bool loopback, bool sync = false, bool buffering = false, bool monitor = false, bool status = false) => new()
    {
        Identifier = "guard-edges 2026-01-01 00:00:00",
        DmaChannels = 1,
        Loopback = loopback,
        Synchronizer = sync,
        Buffering = buffering,
        Monitor = monitor,
        DmaStatus = status,
    };

    private static LayoutGuardReport Guard(LitePcieDesign design, Action<JsonObject>? edit = null)
    {
        var json = JsonNode.Parse(LiteXMapGenerator.ToJson(design))!.AsObject();
        edit?.Invoke(json["csr_registers"]!.AsObject());
        return CsrMap.FromJson(json.ToJsonString()).Layout.Guard;
    }

    [Test]
    public void A_bare_design_without_loopback_has_nothing_at_0x40_and_says_so()
    {
        var guard = Guard(Design(loopback: false));
        var c = guard.Channels.Should().ContainSingle().Subject;
        c.Should().Match<DmaChannelGuard>(g => !g.HasLoopback && !g.HasSynchronizer && !g.HasBuffering && !g.HasMonitor && !g.HasDmaStatus &&
                                               g.DriverOffsetsHold && !g.LoopbackAtDriverOffset && g.RegisterAtLoopbackOffset == null);
        c.Findings.Should().Equal("no loopback_enable; +0x40 is unmapped");
        guard.AllDriverOffsetsHold.Should().BeTrue();
        guard.AllLoopbackSafe.Should().BeFalse();
        guard.Describe().Should().Be("pcie_dma0: driver offsets hold, loopback absent, plugins: none; no loopback_enable; +0x40 is unmapped" + Environment.NewLine);
    }

    [Test]
    public void Without_loopback_the_register_the_kernel_would_overwrite_is_named_in_the_line()
    {
        var guard = Guard(Design(loopback: false, sync: true, status: true));
        var c = guard.Channels[0];
        c.RegisterAtLoopbackOffset.Should().Be("pcie_dma0_synchronizer_bypass");
        c.HasSynchronizer.Should().BeTrue();
        c.HasDmaStatus.Should().BeTrue();
        guard.Describe().Should().StartWith("pcie_dma0: driver offsets hold, loopback absent (+0x40 is pcie_dma0_synchronizer_bypass), plugins: synchronizer+status; " +
                                            "no loopback_enable; +0x40 is pcie_dma0_synchronizer_bypass: LITEPCIE_IOCTL_DMA would overwrite it (P14)");
    }

    [Test]
    public void A_design_with_every_plugin_lists_them_in_order_and_is_safe()
    {
        var guard = Guard(Design(loopback: true, sync: true, buffering: true, monitor: true, status: true));
        guard.AllLoopbackSafe.Should().BeTrue();
        guard.Channels[0].Findings.Should().BeEmpty();
        guard.Describe().Should().Be("pcie_dma0: driver offsets hold, loopback at +0x40, plugins: synchronizer+buffering+monitor+status" + Environment.NewLine);
    }

    [Test]
    public void Loopback_away_from_0x40_is_reported_with_what_the_driver_would_write()
    {
        // Loopback moved to +0x48 (an unmapped word in a bare design): the ioctl would write +0x40, which is unmapped.
        var guard = Guard(Design(loopback: true), regs => regs["pcie_dma0_loopback_enable"]!["addr"] = regs["pcie_dma0_loopback_enable"]!["addr"]!.GetValue<long>() + 8);
        var c = guard.Channels[0];
        c.HasLoopback.Should().BeTrue();
        c.LoopbackAtDriverOffset.Should().BeFalse();
        c.DriverOffsetsHold.Should().BeTrue();
        c.KernelDmaIoctlsSafe.Should().BeTrue();
        c.KernelLoopbackIoctlSafe.Should().BeFalse();
        guard.AllLoopbackSafe.Should().BeFalse();
        c.Findings.Should().Equal("loopback_enable at +0x48, driver writes +0x40 (unmapped)");
        guard.Describe().Should().StartWith("pcie_dma0: driver offsets hold, loopback elsewhere, plugins: none; loopback_enable at +0x48");
    }

    [Test]
    public void A_reader_engine_away_from_0x20_is_reported_against_the_reader_offsets()
    {
        var guard = Guard(Design(loopback: true), regs => regs["pcie_dma0_reader_enable"]!["addr"] = regs["pcie_dma0_reader_enable"]!["addr"]!.GetValue<long>() + 0x30);
        guard.Channels[0].Findings.Should().Equal("pcie_dma0_reader_enable at +0x50, driver assumes +0x20");
        guard.Channels[0].DriverOffsetsHold.Should().BeFalse();
    }
}
