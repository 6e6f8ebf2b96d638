using System.Buffers.Binary;
using LitePcie.Hil.Pci;
using LitePcie.Hil.Simulation.Pci;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Pci;

[TestFixture]
public sealed class PciConfigSpaceBuilderTests
{
    private static readonly PciConfigSpaceBuilder s_builder = new();

    private static PciFunctionSpec Spec() => new() { VendorId = 0x10EE, DeviceId = 0x7021, ClassCode = 0x058000 };

    [Test]
    public void Build_PlacesCapabilitiesFrom0x40AlignedAndChained()
    {
        var spec = Spec() with
        {
            Capabilities =
            [
                new VendorSpecificCapabilitySpec(new byte[] { 1, 2 }),   // 5 bytes -> next at 0x48
                new MsiCapabilitySpec(Is64Bit: false),                  // 10 bytes -> next at 0x54
                new PowerManagementCapabilitySpec(),
            ],
        };

        var built = s_builder.Build(spec);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(built.Image, Has.Length.EqualTo(256), "Extended = false gives a conventional image");
            Assert.That(built.CapabilityOffsets, Is.EqualTo(new[] { 0x40, 0x48, 0x54 }), "capability offsets, 4-byte aligned");
            Assert.That(built.Image[0x06] & 0x10, Is.EqualTo(0x10), "Status bit 4 set because there are capabilities");
            Assert.That(built.Image[0x34], Is.EqualTo(0x40), "capability pointer at 0x34");
            Assert.That(built.Image[0x41], Is.EqualTo(0x48), "next pointer of the capability at 0x40");
            Assert.That(built.Image[0x49], Is.EqualTo(0x54), "next pointer of the capability at 0x48");
            Assert.That(built.Image[0x55], Is.EqualTo(0x00), "last next pointer is 0");
        }
    }

    [Test]
    public void Build_BarSizingMasksDescribeEachRegister()
    {
        var spec = Spec() with
        {
            Bars =
            [
                new PciBarSpec(0, PciBarKind.Memory32, 0x1000, Address: 0xFE800000),
                new PciBarSpec(2, PciBarKind.Memory64, 1 << 20, Prefetchable: true, Address: 0x40_0010_0000),
                new PciBarSpec(4, PciBarKind.Io, 256, Address: 0xE000),
            ],
        };

        var built = s_builder.Build(spec);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(
                built.BarSizingMasks,
                Is.EqualTo(new uint[] { 0xFFFFF000, 0, 0xFFF0000C, 0xFFFFFFFF, 0xFFFFFF01, 0 }),
                "probe read-back per BAR register (BAR1/BAR5 unimplemented, BAR3 is BAR2's upper half)");
            Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(built.Image.AsSpan(0x18)), Is.EqualTo(0x0010000Cu), "BAR2 register at 0x18");
            Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(built.Image.AsSpan(0x1C)), Is.EqualTo(0x00000040u), "BAR3 register at 0x1C");
        }
    }

    [Test]
    public void Build_ExtendedCapabilitiesFrom0x100()
    {
        var spec = Spec() with
        {
            Extended = true,
            ExtendedCapabilities = [new AerCapabilitySpec(), new DeviceSerialNumberCapabilitySpec(0x0011_2233_4455_6677)],
        };

        var built = s_builder.Build(spec);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(built.Image, Has.Length.EqualTo(4096), "Extended = true gives a 4096-byte image");
            Assert.That(built.ExtendedCapabilityOffsets, Is.EqualTo(new[] { 0x100, 0x148 }), "AER occupies 0x48 bytes");
            Assert.That(
                BinaryPrimitives.ReadUInt32LittleEndian(built.Image.AsSpan(0x100)),
                Is.EqualTo(0x14820001u),
                "AER header at 0x100: ID 0x0001, version 2, next 0x148");
        }
    }

    [Test]
    public void Build_OverlappingBarIndices_Throws()
    {
        var spec = Spec() with
        {
            Bars = [new PciBarSpec(0, PciBarKind.Memory64, 0x1000), new PciBarSpec(1, PciBarKind.Memory32, 0x1000)],
        };

        var ex = Assert.Throws<ArgumentException>(() => s_builder.Build(spec));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(ex!.ParamName, Is.EqualTo("Bars[1].Index"), "BAR1 is the upper half of the 64-bit BAR0");
            Assert.That(ex.Message, Does.Contain("BAR register 1 is already used by Bars[0]"), "names the owner of BAR1");
        }
    }

    [TestCase(PciBarKind.Memory32, 24ul)]
    [TestCase(PciBarKind.Memory32, 8ul)]
    [TestCase(PciBarKind.Memory64, 0ul)]
    [TestCase(PciBarKind.Io, 2ul)]
    [TestCase(PciBarKind.Io, 0x3000ul)]
    public void Build_InvalidBarSize_Throws(PciBarKind kind, ulong size)
    {
        var spec = Spec() with { Bars = [new PciBarSpec(0, kind, size)] };

        var ex = Assert.Throws<ArgumentException>(() => s_builder.Build(spec));

        Assert.That(ex!.ParamName, Is.EqualTo("Bars[0].Size"), $"{kind} BAR of 0x{size:X} bytes");
    }

    [Test]
    public void Build_Memory64AtIndex5_Throws()
    {
        var spec = Spec() with { Bars = [new PciBarSpec(5, PciBarKind.Memory64, 0x1000)] };

        var ex = Assert.Throws<ArgumentException>(() => s_builder.Build(spec));

        Assert.That(ex!.ParamName, Is.EqualTo("Bars[0].Index"), "a 64-bit BAR at BAR5 has no upper register");
    }

    [Test]
    public void Build_MisalignedBarAddress_Throws()
    {
        var spec = Spec() with { Bars = [new PciBarSpec(0, PciBarKind.Memory32, 0x1000, Address: 0xFE800800)] };

        var ex = Assert.Throws<ArgumentException>(() => s_builder.Build(spec));

        Assert.That(ex!.ParamName, Is.EqualTo("Bars[0].Address"), "0xFE800800 is not aligned to 4 KiB");
    }

    [Test]
    public void Build_CapabilitiesThatDoNotFit_Throws()
    {
        var pcie = new PciExpressCapabilitySpec();
        var spec = Spec() with { Capabilities = [pcie, pcie, pcie, pcie] };

        var ex = Assert.Throws<ArgumentException>(() => s_builder.Build(spec));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(ex!.ParamName, Is.EqualTo("Capabilities[3]"), "four 60-byte PCIe capabilities exceed 0x40..0xFF");
            Assert.That(ex.Message, Does.Contain("needs 60 bytes at 0xF4"), "the fourth lands at 0xF4");
        }
    }

    [Test]
    public void Build_InvalidCapabilityField_ThrowsNamingIt()
    {
        var spec = Spec() with { Capabilities = [new PowerManagementCapabilitySpec(), new MsiXCapabilitySpec(TableSize: 0)] };

        var ex = Assert.Throws<ArgumentException>(() => s_builder.Build(spec));

        Assert.That(ex!.ParamName, Is.EqualTo("Capabilities[1].TableSize"), "MSI-X table size 0 does not fit the 11-bit N-1 field");
    }

    [Test]
    public void Build_ExtendedCapabilitiesWithoutExtendedImage_Throws()
    {
        var spec = Spec() with { ExtendedCapabilities = [new AerCapabilitySpec()] };

        var ex = Assert.Throws<ArgumentException>(() => s_builder.Build(spec));

        Assert.That(ex!.ParamName, Is.EqualTo("ExtendedCapabilities"), "a 256-byte image has no extended area");
    }

    [Test]
    public void Build_FirstCapabilityOffsetIsConfigurable()
    {
        var builder = new PciConfigSpaceBuilder { FirstCapabilityOffset = 0x80 };

        var built = builder.Build(Spec() with { Capabilities = [new PowerManagementCapabilitySpec()] });

        Assert.That(built.Image[0x34], Is.EqualTo(0x80), "capability pointer at 0x34 follows FirstCapabilityOffset");
    }
}
