using System.Text.Json.Nodes;
using FluentAssertions;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Simulation.Csr;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Csr;

/// <summary>HIL-04 (docs/checklist.md#hil-04): the layout guard recognises what the Linux driver's fixed offsets would hit (P14).</summary>
[TestFixture]
public sealed class LayoutGuardTests
{
    private static LitePcieDesign Design(bool loopback, bool sync = false) => new()
    {
        Identifier = "guard 2026-01-01 00:00:00",
        DmaChannels = 2,
        Loopback = loopback,
        Synchronizer = sync,
        Buffering = true,
        Monitor = true,
    };

    [Test]
    public void Design_with_loopback_at_0x40_is_safe_for_every_kernel_ioctl()
    {
        var guard = LiteXMapGenerator.Generate(Design(loopback: true, sync: true)).Layout.Guard;
        guard.Channels.Should().OnlyContain(c => c.DriverOffsetsHold && c.HasLoopback && c.LoopbackAtDriverOffset && c.KernelLoopbackIoctlSafe);
        guard.Channels[0].HasSynchronizer.Should().BeTrue();
        guard.Describe().Should().Contain("pcie_dma1: driver offsets hold, loopback at +0x40, plugins: synchronizer+buffering+monitor");
    }

    [Test]
    public void Design_without_loopback_is_recognised_and_names_what_sits_at_0x40()
    {
        var map = LiteXMapGenerator.Generate(Design(loopback: false));
        foreach (var c in map.Layout.Guard.Channels)
        {
            c.HasLoopback.Should().BeFalse();
            c.DriverOffsetsHold.Should().BeTrue("the engines themselves are where the driver expects them");
            c.KernelDmaIoctlsSafe.Should().BeTrue();
            c.KernelLoopbackIoctlSafe.Should().BeFalse("LITEPCIE_IOCTL_DMA would write +0x40 blindly");
            c.RegisterAtLoopbackOffset.Should().Be($"pcie_dma{c.Channel}_buffering_reader_fifo_control");
            c.Findings.Should().ContainSingle().Which.Should().Contain("P14");
        }

        map.Layout.DmaChannels[0].LoopbackEnable.Should().BeNull();
    }

    [Test]
    public void Engines_away_from_the_driver_offsets_are_reported_register_by_register()
    {
        var json = JsonNode.Parse(LiteXMapGenerator.ToJson(Design(loopback: true)))!.AsObject();
        var regs = json["csr_registers"]!.AsObject();
        // Shift every pcie_dma1 register by one word, as if a CSR had been created before the writer.
        foreach (var (name, node) in regs.ToList())
        {
            if (name.StartsWith("pcie_dma1_", StringComparison.Ordinal))
            {
                node!["addr"] = node["addr"]!.GetValue<long>() + 4;
            }
        }

        regs["pcie_dma1_prefix"] = new JsonObject { ["addr"] = 0x4800, ["size"] = 1, ["type"] = "rw" };
        var guard = CsrMap.FromJson(json.ToJsonString()).Layout.Guard;

        guard.Channels[0].DriverOffsetsHold.Should().BeTrue();
        var c1 = guard.Channels[1];
        c1.DriverOffsetsHold.Should().BeFalse();
        c1.KernelDmaIoctlsSafe.Should().BeFalse();
        c1.LoopbackAtDriverOffset.Should().BeFalse();
        c1.Findings.Should().Contain(f => f.Contains("pcie_dma1_writer_enable at +0x04, driver assumes +0x00", StringComparison.Ordinal));
        c1.Findings.Should().Contain(f => f.Contains("loopback_enable at +0x44", StringComparison.Ordinal));
        guard.AllDriverOffsetsHold.Should().BeFalse();
    }

    [Test]
    public void Channels_never_share_dma0_addresses()
    {
        var layout = LiteXMapGenerator.Generate(Design(loopback: true)).Layout;
        var all = layout.DmaChannels.SelectMany(c => c.AllRegisters().Select(r => r.Address)).ToList();
        all.Should().OnlyHaveUniqueItems("each channel has its own block page");
        layout.DmaChannels[1].BaseAddress.Should().Be(layout.DmaChannels[0].BaseAddress + LitePcieLayout.BlockPageSize);
    }
}
