using LitePcie.Hil.Pci;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Pci;

[TestFixture]
public sealed class PciBarDecodingTests
{
    // BAR0: 32-bit non-prefetchable 4 KiB at 0xFE800000
    // BAR1: unimplemented
    // BAR2/3: 64-bit prefetchable 1 MiB at 0x40_0010_0000
    // BAR4: I/O 256 bytes at 0xE000
    // BAR5: unimplemented
    private static readonly uint[] s_masks = [0xFFFFF000, 0x00000000, 0xFFF0000C, 0xFFFFFFFF, 0xFFFFFF01, 0x00000000];

    private static byte[] Image() =>
        ConfigImage.Function()
            .U32(0x10, 0xFE800000)
            .U32(0x18, 0x0010000C)
            .U32(0x1C, 0x00000040)
            .U32(0x20, 0x0000E001)
            .Bytes;

    [Test]
    public void Parse_WithSizingMasks_DecodesKindPrefetchAddressAndSize()
    {
        var space = PciConfigSpace.Parse(Image(), s_masks);

        Assert.That(
            space.Bars,
            Is.EqualTo(new[]
            {
                new PciBar(0, PciBarKind.Memory32, false, 0xFE800000, 4096),
                new PciBar(2, PciBarKind.Memory64, true, 0x40_0010_0000, 1 << 20),
                new PciBar(4, PciBarKind.Io, false, 0xE000, 256),
            }),
            "BAR0 mem32 4 KiB, BAR1 unimplemented (mask 0), BAR2/3 mem64 prefetchable 1 MiB listed once, BAR4 I/O 256 B, BAR5 unimplemented");
    }

    [Test]
    public void Parse_WithoutSizingMasks_LeavesSizeNullAndSkipsZeroRegisters()
    {
        var space = PciConfigSpace.Parse(Image());

        Assert.That(
            space.Bars,
            Is.EqualTo(new[]
            {
                new PciBar(0, PciBarKind.Memory32, false, 0xFE800000, null),
                new PciBar(2, PciBarKind.Memory64, true, 0x40_0010_0000, null),
                new PciBar(4, PciBarKind.Io, false, 0xE000, null),
            }),
            "without a sizing probe the BAR sizes are unknown; registers reading 0 are not listed");
    }

    [Test]
    public void Parse_IoBarWith16BitDecoder_SizesFromTheLow16Bits()
    {
        var image = ConfigImage.Function().U32(0x10, 0x0000C001).Bytes;

        var space = PciConfigSpace.Parse(image, [0x0000FFC1, 0, 0, 0, 0, 0]);

        Assert.That(
            space.Bars,
            Is.EqualTo(new[] { new PciBar(0, PciBarKind.Io, false, 0xC000, 64) }),
            "I/O BAR0 probe 0x0000FFC1 (upper half 0: 16-bit decoder) means 64 bytes");
    }

    [Test]
    public void Parse_Memory64BarAbove4GiB_CombinesBothMaskRegisters()
    {
        var image = ConfigImage.Function().U32(0x10, 0x0000000C).U32(0x14, 0x00000020).Bytes;

        var space = PciConfigSpace.Parse(image, [0x0000000C, 0xFFFFFFF0, 0, 0, 0, 0]);

        Assert.That(
            space.Bars,
            Is.EqualTo(new[] { new PciBar(0, PciBarKind.Memory64, true, 0x20_0000_0000, 0x10_0000_0000) }),
            "BAR0/1 probe 0xFFFFFFF0_0000000C is a 64 GiB prefetchable BAR at 0x20_0000_0000");
    }

    [Test]
    public void Parse_LegacyBelow1MiBType_IsTreatedAsMemory32()
    {
        var image = ConfigImage.Function().U32(0x10, 0x000D0002).Bytes;

        var space = PciConfigSpace.Parse(image, [0xFFFF0002, 0, 0, 0, 0, 0]);

        Assert.That(
            space.Bars,
            Is.EqualTo(new[] { new PciBar(0, PciBarKind.Memory32, false, 0x000D0000, 0x10000) }),
            "BAR0 memory type 0b01 (below 1 MiB) decodes as a 32-bit BAR");
    }

    [Test]
    public void Parse_ReservedMemoryType_Throws()
    {
        var image = ConfigImage.Function().U32(0x14, 0xF0000006).Bytes;

        var ex = Assert.Throws<PciConfigSpaceException>(() => PciConfigSpace.Parse(image));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(ex!.Offset, Is.EqualTo(0x14), "BAR1 register offset");
            Assert.That(ex.Problem, Does.Contain("memory type 0b11 is reserved"), "BAR1 reads 0xF0000006");
        }
    }

    [Test]
    public void Parse_Memory64BarInLastSlot_Throws()
    {
        var image = ConfigImage.Function().U32(0x24, 0x0000000C).Bytes;

        var ex = Assert.Throws<PciConfigSpaceException>(() => PciConfigSpace.Parse(image, source: "0000:03:00.0"));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(ex!.Offset, Is.EqualTo(0x24), "BAR5 register offset");
            Assert.That(
                ex.Message,
                Does.StartWith("config space of 0000:03:00.0: BAR5 at 0x24 is a 64-bit memory BAR but is the last BAR register"),
                "a 64-bit BAR in BAR5 has no register for its upper half");
        }
    }

    [Test]
    public void Parse_Memory64BarInLastBridgeSlot_Throws()
    {
        var image = ConfigImage.Function(headerType: 1).U32(0x14, 0x00000004).Bytes;

        var ex = Assert.Throws<PciConfigSpaceException>(() => PciConfigSpace.Parse(image));

        Assert.That(ex!.Problem, Does.StartWith("BAR1 at 0x14 is a 64-bit memory BAR"), "a bridge has only BAR0 and BAR1");
    }

    [TestCase(0, 5)]
    [TestCase(0, 7)]
    [TestCase(1, 6)]
    public void Parse_WrongMaskCount_ThrowsNamingTheExpectedCount(int headerType, int maskCount)
    {
        var image = ConfigImage.Function(headerType: (byte)headerType).Bytes;
        var expected = headerType == 0 ? 6 : 2;

        var ex = Assert.Throws<PciConfigSpaceException>(() => PciConfigSpace.Parse(image, new uint[maskCount]));

        Assert.That(
            ex!.Problem,
            Is.EqualTo($"header type {headerType} has {expected} BAR registers, so {expected} BAR sizing masks are expected, but {maskCount} were given"),
            "sizing mask count must match the BAR registers of the header");
    }

    [Test]
    public void Parse_MaskWithoutAddressBits_Throws()
    {
        var image = ConfigImage.Function().U32(0x10, 0x00000008).Bytes;

        var ex = Assert.Throws<PciConfigSpaceException>(() => PciConfigSpace.Parse(image, [0x00000008, 0, 0, 0, 0, 0]));

        Assert.That(ex!.Problem, Is.EqualTo("BAR0 at 0x10: sizing mask has no writable address bits"), "BAR0 probe 0x00000008");
    }
}
