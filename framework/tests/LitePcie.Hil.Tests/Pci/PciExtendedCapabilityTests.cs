using LitePcie.Hil.Pci;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Pci;

[TestFixture]
public sealed class PciExtendedCapabilityTests
{
    private static ConfigImage Extended() => ConfigImage.Function(length: 4096);

    [Test]
    public void Chain_DecodesIdsVersionsSerialAndVendorSpecific()
    {
        var image = Extended()
            .ExtendedCapability(0x100, 0x0001, 2, 0x148)           // AER
            .ExtendedCapability(0x148, 0x0003, 1, 0x160)           // DSN
            .U32(0x14C, 0x89ABCDEF)
            .U32(0x150, 0x01234567)
            .ExtendedCapability(0x160, 0x000B, 1, 0x180)           // VSEC id 0x1234 rev 2 length 12
            .U32(0x164, 0x1234 | (2u << 16) | (12u << 20))
            .U32(0x168, 0xA5A5A5A5)
            .ExtendedCapability(0x180, 0x0019, 1, 0x000);          // Secondary PCIe

        var space = PciConfigSpace.Parse(image.Bytes);

        Assert.That(
            space.ExtendedCapabilities,
            Is.EqualTo(new PciExtendedCapability[]
            {
                new(0x0001, 2, 0x100),
                new DeviceSerialNumberCapability(1, 0x148, 0x01234567_89ABCDEF),
                new VendorSpecificExtendedCapability(1, 0x160, 0x1234, 2, 12, new byte[] { 0xA5, 0xA5, 0xA5, 0xA5 }),
                new(0x0019, 1, 0x180),
            }),
            "chain 0x100 (AER) -> 0x148 (DSN) -> 0x160 (VSEC) -> 0x180 (Secondary PCIe) -> end");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(space.ExtendedCapabilities[3].Name, Is.EqualTo("Secondary PCI Express"), "name of ID 0x0019");
            Assert.That(space.FindExtended<DeviceSerialNumberCapability>()?.SerialNumber, Is.EqualTo(0x01234567_89ABCDEFul), "DSN at 0x148: lower dword 0x14C, upper 0x150");
        }
    }

    [TestCase(0x00000000u)]
    [TestCase(0xFFFFFFFFu)]
    public void EmptyHeaderAt0x100_MeansNoExtendedCapabilities(uint header)
    {
        var space = PciConfigSpace.Parse(Extended().U32(0x100, header).Bytes);

        Assert.That(space.ExtendedCapabilities, Is.Empty, $"extended header 0x{header:X8} at 0x100 means none");
    }

    [Test]
    public void ExtendedLoop_ThrowsNamingWhereTheLoopCloses()
    {
        var image = Extended()
            .ExtendedCapability(0x100, 0x0001, 2, 0x140)
            .ExtendedCapability(0x140, 0x0018, 1, 0x100);

        var ex = Assert.Throws<PciConfigSpaceException>(() => PciConfigSpace.Parse(image.Bytes, source: "0000:02:00.0"));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(
                ex!.Message,
                Is.EqualTo("config space of 0000:02:00.0: extended capability pointer at 0x140 points to 0x100 which was already visited (loop)"),
                "extended chain 0x100 -> 0x140 -> 0x100 loops");
            Assert.That(ex.Offset, Is.EqualTo(0x140), "the loop closes at the extended capability at 0x140");
        }
    }

    [Test]
    public void ExtendedNextBelow0x100_Throws()
    {
        var image = Extended().ExtendedCapability(0x100, 0x0001, 2, 0x0F0);

        var ex = Assert.Throws<PciConfigSpaceException>(() => PciConfigSpace.Parse(image.Bytes));

        Assert.That(ex!.Problem, Does.StartWith("extended capability pointer at 0x100 points to 0xF0, below the extended area"), "AER at 0x100 next pointer 0x0F0");
    }

    [Test]
    public void ExtendedReservedLowPointerBits_AreMasked()
    {
        var image = Extended()
            .ExtendedCapability(0x100, 0x0001, 2, 0x143)
            .ExtendedCapability(0x140, 0x000D, 1, 0x000);

        var space = PciConfigSpace.Parse(image.Bytes);

        Assert.That(space.ExtendedCapabilities.Select(c => c.Offset), Is.EqualTo(new[] { 0x100, 0x140 }), "next pointer 0x143 masks to 0x140");
    }

    [Test]
    public void SerialNumberPastTheEnd_Throws()
    {
        var image = Extended()
            .ExtendedCapability(0x100, 0x0001, 2, 0xFF8)
            .ExtendedCapability(0xFF8, 0x0003, 1, 0x000);

        var ex = Assert.Throws<PciConfigSpaceException>(() => PciConfigSpace.Parse(image.Bytes));

        Assert.That(ex!.Problem, Does.StartWith("device serial number capability at 0xFF8 needs 12 bytes"), "DSN at 0xFF8 runs past 0xFFF");
    }

    [Test]
    public void VendorSpecificExtendedLengthPastTheEnd_Throws()
    {
        var image = Extended()
            .ExtendedCapability(0x100, 0x000B, 1, 0x000)
            .U32(0x104, 0x0001 | (0xFFFu << 20));

        var ex = Assert.Throws<PciConfigSpaceException>(() => PciConfigSpace.Parse(image.Bytes));

        Assert.That(ex!.Problem, Does.Contain("declares length 4095 (0xFFF), which runs to 0x10FE"), "VSEC length field at 0x104");
    }

    [Test]
    public void ConventionalImage_IgnoresExtendedArea() =>
        Assert.That(PciConfigSpace.Parse(ConfigImage.Function().Bytes).ExtendedCapabilities, Is.Empty, "a 256-byte image has no 0x100 header");
}
