using System.Text.Json.Nodes;
using FluentAssertions;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Simulation.Csr;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Csr;

/// <summary>
/// The guard's verdicts on the kernel driver's fixed offsets (P14, HIL-04) when they do not hold: the loopback ioctl
/// is unsafe whenever the engines are misplaced, one bad channel makes the whole design unsafe, and a misplaced
/// loopback names the register the ioctl would overwrite instead.
/// </summary>
[TestFixture]
public sealed class LayoutGuardVerdictTests
{
    private static LayoutGuardReport Guard(LitePcieDesign design, Action<JsonObject> edit)
    {
        var json = JsonNode.Parse(LiteXMapGenerator.ToJson(design))!.AsObject();
        edit(json["csr_registers"]!.AsObject());
        return CsrMap.FromJson(json.ToJsonString()).Layout.Guard;
    }

    private static void Move(JsonObject regs, string name, long by) => regs[name]!["addr"] = regs[name]!["addr"]!.GetValue<long>() + by;

    [Test]
    public void With_the_reader_engine_misplaced_neither_ioctl_is_safe_even_with_loopback_at_0x40()
    {
        var guard = Guard(new LitePcieDesign { Identifier = "guard 2026-01-01 00:00:00", DmaChannels = 1, Loopback = true },
            regs => Move(regs, "pcie_dma0_reader_enable", 0x30));
        var c = guard.Channels[0];
        c.LoopbackAtDriverOffset.Should().BeTrue("loopback_enable itself is at +0x40");
        c.KernelDmaIoctlsSafe.Should().BeFalse("DMA_READER would program +0x20, where the reader no longer is");
        c.KernelLoopbackIoctlSafe.Should().BeFalse("the loopback ioctl is only safe on a channel whose engines the driver finds");
        guard.Describe().Should().StartWith("pcie_dma0: driver offsets DO NOT hold, loopback at +0x40, plugins: none; pcie_dma0_reader_enable at +0x50");
    }

    [Test]
    public void One_channel_with_loopback_elsewhere_makes_the_design_unsafe_for_the_loopback_ioctl()
    {
        var guard = Guard(new LitePcieDesign { Identifier = "guard 2026-01-01 00:00:00", DmaChannels = 2, Loopback = true },
            regs => Move(regs, "pcie_dma1_loopback_enable", 8));
        guard.Channels[0].KernelLoopbackIoctlSafe.Should().BeTrue();
        guard.Channels[1].KernelLoopbackIoctlSafe.Should().BeFalse();
        guard.AllLoopbackSafe.Should().BeFalse("pcie_dma1's loopback_enable is at +0x48");
        guard.AllDriverOffsetsHold.Should().BeTrue();
    }

    [Test]
    public void Loopback_swapped_with_a_plugin_register_names_the_register_the_ioctl_would_overwrite()
    {
        var guard = Guard(new LitePcieDesign { Identifier = "guard 2026-01-01 00:00:00", DmaChannels = 1, Loopback = true, Synchronizer = true },
            regs =>
            {
                var loopback = regs["pcie_dma0_loopback_enable"]!["addr"]!.GetValue<long>();
                var bypass = regs["pcie_dma0_synchronizer_bypass"]!["addr"]!.GetValue<long>();
                regs["pcie_dma0_loopback_enable"]!["addr"] = bypass;
                regs["pcie_dma0_synchronizer_bypass"]!["addr"] = loopback;
            });
        var c = guard.Channels[0];
        c.RegisterAtLoopbackOffset.Should().Be("pcie_dma0_synchronizer_bypass");
        c.Findings.Should().ContainSingle().Which.Should().EndWith(", driver writes +0x40 (pcie_dma0_synchronizer_bypass)");
    }
}
