using LitePcie.Hil.Pci;
using NUnit.Framework;

namespace LitePcie.Hil.GuestTests;

/// <summary>
/// The virtual board as the guest kernel sees it: the QEMU device presents the profile's identity, BARs,
/// capabilities and link, and the real litepcie.ko probes it (driver bound, MSI allocated, one node per channel).
/// </summary>
[TestFixture]
[Category("VirtualBoard")]
public sealed class VirtualBoardTests
{
    [SetUp]
    public void RequireGuest() => Guest.Require();

    [Test]
    public void Function_HasTheProfilesIdentity()
    {
        var b = Guest.Board;
        string f = Guest.FunctionPath();
        Guest.Step($"function {Path.GetFileName(f)}");
        ((ushort)Guest.ReadHex(Path.Combine(f, "subsystem_vendor"))).Should().Be(b.SubsystemVendorId, "subsystem vendor ID");
        ((ushort)Guest.ReadHex(Path.Combine(f, "subsystem_device"))).Should().Be(b.SubsystemId, "subsystem ID");
        ((uint)Guest.ReadHex(Path.Combine(f, "class"))).Should().Be(b.ClassCode, "class code");
        ((byte)Guest.ReadHex(Path.Combine(f, "revision"))).Should().Be(b.Revision, "revision (the driver refuses any other than 0)");
    }

    [Test]
    public void Bars_HaveTheProfilesSizesAndTypes()
    {
        string f = Guest.FunctionPath();
        // sysfs 'resource': one line per resource, "start end flags" (IORESOURCE_MEM 0x200, MEM_64 0x100000, PREFETCH 0x2000).
        string[] lines = File.ReadAllLines(Path.Combine(f, "resource"));
        Guest.Attach("resource", string.Join('\n', lines));
        foreach (var bar in Guest.Board.Bars)
        {
            ulong[] v = lines[bar.Index].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(x => Convert.ToUInt64(x, 16)).ToArray();
            ulong size = v[1] - v[0] + 1;
            size.Should().Be(bar.Size, $"BAR{bar.Index} size");
            ((v[2] & 0x100000) != 0).Should().Be(bar.Kind == PciBarKind.Memory64, $"BAR{bar.Index} 64-bit flag ({bar.Kind})");
            ((v[2] & 0x2000) != 0).Should().Be(bar.Prefetchable, $"BAR{bar.Index} prefetchable flag");
            Guest.Step($"BAR{bar.Index}: 0x{v[0]:x} size 0x{size:x} flags 0x{v[2]:x}");
        }
    }

    [Test]
    public void ConfigSpace_HasTheProfilesCapabilitiesAndLink()
    {
        var b = Guest.Board;
        string f = Guest.FunctionPath();
        byte[] image = File.ReadAllBytes(Path.Combine(f, "config"));
        image.Length.Should().Be(4096, "a PCIe function's config space is 4 KiB (the guest reads it through ECAM)");
        var config = PciConfigSpace.Parse(image, source: Path.Combine(f, "config"));
        config.VendorId.Should().Be(b.VendorId);
        config.DeviceId.Should().Be(b.DeviceId);
        config.Find<PowerManagementCapability>().Should().NotBeNull("a PM capability");
        if (b.MsiXTableSize > 0)
        {
            var msix = config.Find<MsiXCapability>();
            msix.Should().NotBeNull("an MSI-X capability");
            msix!.TableSize.Should().Be(b.MsiXTableSize, "MSI-X table size");
        }
        else
        {
            config.Find<MsiCapability>().Should().NotBeNull("an MSI capability");
        }

        var pcie = config.Find<PciExpressCapability>();
        pcie.Should().NotBeNull("a PCI Express capability");
        pcie!.LinkMaxSpeed.Should().Be(b.LinkSpeed, "Link Capabilities max speed");
        pcie.LinkMaxWidth.Should().Be(b.LinkWidth, "Link Capabilities max width");
        pcie.LinkSpeed.Should().Be(b.LinkSpeed, "Link Status current speed");
        pcie.LinkWidth.Should().Be(b.LinkWidth, "Link Status negotiated width");
        File.ReadAllText(Path.Combine(f, "current_link_width")).Trim().Should().Be(b.LinkWidth.ToString(System.Globalization.CultureInfo.InvariantCulture), "sysfs current_link_width");
        File.ReadAllText(Path.Combine(f, "current_link_speed")).Trim().Should().StartWith(b.LinkSpeed.Describe(), "sysfs current_link_speed");
        Guest.Step($"capabilities: {string.Join(", ", config.Capabilities.Select(c => c.GetType().Name))}; link {pcie.LinkSpeed.Describe()} x{pcie.LinkWidth}");
    }

    [Test]
    public void Driver_ProbedTheBoard()
    {
        var b = Guest.Board;
        string f = Guest.FunctionPath();
        string bdf = Path.GetFileName(f);
        Directory.Exists($"/sys/bus/pci/drivers/litepcie/{bdf}").Should().BeTrue($"litepcie.ko is bound to {bdf}");
        string msiIrqs = Path.Combine(f, "msi_irqs");
        (Directory.Exists(msiIrqs) ? Directory.GetFileSystemEntries(msiIrqs).Length : 0).Should().BeGreaterThan(0, "the driver allocated MSI vectors");
        int channels = b.CsrMap.Layout.DmaChannels.Count;
        for (int c = 0; c < channels; c++)
        {
            File.Exists($"/dev/litepcie{c}").Should().BeTrue($"/dev/litepcie{c} exists (one node per DMA channel, {channels} channels)");
        }

        var probe = Guest.Run("dmesg", "", TimeSpan.FromSeconds(30));
        probe.Output.Should().Contain("[Probing device]", "dmesg shows the probe");
        probe.Output.Should().MatchRegex(@"\d+ MSI(-X)? IRQs allocated", "dmesg shows the interrupts the driver allocated");
        probe.Output.Should().Contain($"Version {b.CsrMap.Identifier}", "the driver read the identifier ROM");
        Guest.Step($"probe: {string.Join(" | ", probe.Output.Split('\n').Where(l => l.Contains("litepcie", StringComparison.Ordinal)).Take(8))}");
    }
}
