using LitePcie.Hil.Pci;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Pci;

[TestFixture]
public sealed class PciCapabilityChainErrorTests
{
    private static PciConfigSpaceException ParseFails(ConfigImage image, string? source = null) =>
        Assert.Throws<PciConfigSpaceException>(() => PciConfigSpace.Parse(image.Bytes, source: source))!;

    [Test]
    public void PointerLoop_ThrowsNamingWhereTheLoopCloses()
    {
        var image = ConfigImage.Function()
            .CapabilityPointer(0x40)
            .Capability(0x40, 0x01, 0x48)
            .Capability(0x48, 0x11, 0x40);

        var ex = ParseFails(image, "0000:01:00.0");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(
                ex.Message,
                Is.EqualTo("config space of 0000:01:00.0: capability pointer at 0x48 points to 0x40 which was already visited (loop)"),
                "chain 0x40 -> 0x48 -> 0x40 loops");
            Assert.That(ex.Offset, Is.EqualTo(0x48), "the loop closes at the capability at 0x48");
        }
    }

    [Test]
    public void SelfLoop_Throws()
    {
        var ex = ParseFails(ConfigImage.Function().CapabilityPointer(0x80).Capability(0x80, 0x05, 0x80));

        Assert.That(ex.Problem, Is.EqualTo("capability pointer at 0x80 points to 0x80 which was already visited (loop)"), "capability at 0x80 points to itself");
    }

    [TestCase(0x20)]
    [TestCase(0x3C)]
    [TestCase(0x3F)]   // masked to 0x3C
    public void FirstPointerBelow0x40_Throws(int pointer)
    {
        var ex = ParseFails(ConfigImage.Function().CapabilityPointer((byte)pointer));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(
                ex.Problem,
                Does.StartWith($"capability pointer at 0x34 points to 0x{pointer & 0xFC:X2}, inside the standard header"),
                $"pointer register 0x34 = 0x{pointer:X2}");
            Assert.That(ex.Offset, Is.EqualTo(0x34), "offset of the capability pointer register");
        }
    }

    [Test]
    public void NextPointerBelow0x40_Throws()
    {
        var ex = ParseFails(ConfigImage.Function().CapabilityPointer(0x40).Capability(0x40, 0x01, 0x10));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(ex.Problem, Does.StartWith("capability pointer at 0x40 points to 0x10, inside the standard header"), "next pointer of the PM capability at 0x40");
            Assert.That(ex.Offset, Is.EqualTo(0x40), "the capability holding the bad pointer");
        }
    }

    [TestCase(0x10, 0xF0, 2, "PCI Express capability (version 2) at 0xF0 needs 60 bytes")]
    [TestCase(0x10, 0xE0, 1, "PCI Express capability (version 1) at 0xE0 needs 36 bytes")]
    [TestCase(0x11, 0xF8, 0, "MSI-X capability at 0xF8 needs 12 bytes")]
    [TestCase(0x01, 0xFC, 0, "power management capability at 0xFC needs 8 bytes")]
    public void CapabilityBodyPastTheEndOfTheArea_Throws(int id, int offset, int version, string expected)
    {
        var image = ConfigImage.Function().CapabilityPointer((byte)offset).Capability(offset, (byte)id, 0x00);
        if (id == 0x10)
        {
            image.U8(offset + 2, (byte)version);
        }

        var ex = ParseFails(image);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(ex.Problem, Does.StartWith(expected), $"capability 0x{id:X2} at 0x{offset:X2} overflows 0xFF");
            Assert.That(ex.Offset, Is.EqualTo(offset), "offset of the overflowing capability");
        }
    }

    [TestCase(0x0000, 0xF8, "MSI capability (32-bit) at 0xF8 needs 10 bytes")]
    [TestCase(0x0080, 0xF4, "MSI capability (64-bit) at 0xF4 needs 14 bytes")]
    [TestCase(0x0100, 0xF0, "MSI capability (32-bit, per-vector masking) at 0xF0 needs 20 bytes")]
    [TestCase(0x0180, 0xEC, "MSI capability (64-bit, per-vector masking) at 0xEC needs 24 bytes")]
    public void MsiBodyPastTheEndOfTheArea_DependsOnLayout(int control, int offset, string expected)
    {
        var image = ConfigImage.Function()
            .CapabilityPointer((byte)offset)
            .Capability(offset, 0x05, 0x00)
            .U16(offset + 2, (ushort)control);

        var ex = ParseFails(image);

        Assert.That(ex.Problem, Does.StartWith(expected), $"MSI at 0x{offset:X2} with Message Control 0x{control:X4}");
    }

    [Test]
    public void MsiThatExactlyFits_Parses()
    {
        var image = ConfigImage.Function()
            .CapabilityPointer(0xE8)
            .Capability(0xE8, 0x05, 0x00)
            .U16(0xEA, 0x0180);

        var msi = PciConfigSpace.Parse(image.Bytes).Find<MsiCapability>();

        Assert.That(msi?.PendingBits, Is.Not.Null, "64-bit masked MSI at 0xE8 ends exactly at 0xFF (pending bits at 0xFC)");
    }

    [Test]
    public void VendorSpecificLengthPastTheEnd_Throws()
    {
        var image = ConfigImage.Function().CapabilityPointer(0xF0).Capability(0xF0, 0x09, 0x00).U8(0xF2, 0x20);

        var ex = ParseFails(image);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(
                ex.Problem,
                Is.EqualTo("vendor-specific capability at 0xF0 declares length 32 (0x20), which runs to 0x10F, past the end of the capability area at 0xFF"),
                "vendor-specific length byte at 0xF2");
            Assert.That(ex.Offset, Is.EqualTo(0xF0), "offset of the vendor-specific capability");
        }
    }

    [Test]
    public void VendorSpecificLengthShorterThanHeader_Throws()
    {
        var image = ConfigImage.Function().CapabilityPointer(0x40).Capability(0x40, 0x09, 0x00).U8(0x42, 2);

        var ex = ParseFails(image);

        Assert.That(ex.Problem, Does.Contain("declares length 2, shorter than its 3-byte header"), "vendor-specific length byte at 0x42");
    }

    [Test]
    public void VendorSpecificEndingExactlyAt0xFF_Parses()
    {
        var image = ConfigImage.Function().CapabilityPointer(0xF0).Capability(0xF0, 0x09, 0x00).U8(0xF2, 0x10);

        var vendor = PciConfigSpace.Parse(image.Bytes).Find<VendorSpecificCapability>();

        Assert.That(vendor?.Data.Length, Is.EqualTo(13), "length 16 at 0xF0 covers 0xF0..0xFF: 13 data bytes");
    }
}
