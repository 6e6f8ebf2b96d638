using LitePcie.Hil.Pci;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Pci;

[TestFixture]
public sealed class PciConfigSpaceHeaderTests
{
    [Test]
    public void Parse_Type0Header_DecodesIdsCommandStatusClassAndInterrupt()
    {
        var image = ConfigImage.Function(vendorId: 0x10EE, deviceId: 0x9038, classCode: 0x118000)
            .U16(0x04, 0x0406)  // MemorySpace | BusMaster | InterruptDisable
            .U16(0x06, 0x0010)  // capability list
            .U8(0x08, 0x5A)
            .U8(0x0E, 0x80)     // type 0, multi-function
            .U16(0x2C, 0x10EE)
            .U16(0x2E, 0x0007)
            .U8(0x3C, 0x0B)
            .U8(0x3D, 0x01)
            .Bytes;

        var space = PciConfigSpace.Parse(image);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(space.VendorId, Is.EqualTo(0x10EE), "Vendor ID at 0x00");
            Assert.That(space.DeviceId, Is.EqualTo(0x9038), "Device ID at 0x02");
            Assert.That(
                space.Command,
                Is.EqualTo(PciCommand.MemorySpace | PciCommand.BusMaster | PciCommand.InterruptDisable),
                "Command register at 0x04 = 0x0406");
            Assert.That(space.Status, Is.EqualTo(0x0010), "Status register at 0x06");
            Assert.That(space.HasCapabilityList, Is.True, "Status bit 4 (capability list) is set");
            Assert.That(space.Revision, Is.EqualTo(0x5A), "Revision ID at 0x08");
            Assert.That(space.ClassCode, Is.EqualTo(0x118000u), "class code at 0x09..0x0B");
            Assert.That(space.BaseClass, Is.EqualTo(0x11), "base class at 0x0B");
            Assert.That(space.SubClass, Is.EqualTo(0x80), "sub class at 0x0A");
            Assert.That(space.ProgIf, Is.EqualTo(0x00), "programming interface at 0x09");
            Assert.That(space.ClassDescription, Is.EqualTo("Signal processing controller: Other"), "class name of 0x118000");
            Assert.That(space.HeaderType, Is.EqualTo(0), "header type 0x0E bits 6:0");
            Assert.That(space.IsMultiFunction, Is.True, "header type 0x0E bit 7");
            Assert.That(space.SubsystemVendorId, Is.EqualTo((ushort)0x10EE), "Subsystem Vendor ID at 0x2C");
            Assert.That(space.SubsystemId, Is.EqualTo((ushort)0x0007), "Subsystem ID at 0x2E");
            Assert.That(space.InterruptLine, Is.EqualTo(0x0B), "Interrupt Line at 0x3C");
            Assert.That(space.InterruptPin, Is.EqualTo(0x01), "Interrupt Pin at 0x3D (INTA#)");
            Assert.That(space.Length, Is.EqualTo(256), "conventional image length");
            Assert.That(space.Raw.ToArray(), Is.EqualTo(image), "Raw must be the parsed bytes");
            Assert.That(space.Capabilities, Is.Empty, "Status bit 4 set but pointer 0x34 = 0x00: no capabilities");
            Assert.That(space.ExtendedCapabilities, Is.Empty, "a 256-byte image has no extended area");
        }
    }

    [Test]
    public void Parse_KeepsAPrivateCopyOfTheImage()
    {
        var image = ConfigImage.Function(vendorId: 0x1234).Bytes;
        var space = PciConfigSpace.Parse(image);

        image[0] = 0xFF;

        Assert.That(space.VendorId, Is.EqualTo(0x1234), "Vendor ID must not follow later writes to the caller's buffer");
    }

    [Test]
    public void Parse_Type1Bridge_HasTwoBarsNoSubsystemIdsAndParsesCapabilities()
    {
        var image = ConfigImage.Function(vendorId: 0x8086, deviceId: 0x1901, classCode: 0x060400, headerType: 1)
            .U32(0x10, 0xF7000000)              // BAR0: 32-bit memory
            .U32(0x14, 0x00000000)              // BAR1: unimplemented
            .U32(0x18, 0x00020100)              // primary/secondary/subordinate bus: must not be read as a BAR
            .U16(0x2C, 0xBEEF)                  // memory base/limit area on a bridge, not subsystem IDs
            .CapabilityPointer(0x40)
            .Capability(0x40, 0x10, 0x00)
            .U16(0x42, 0x0042)                  // PCIe v2, root port
            .Bytes;

        var space = PciConfigSpace.Parse(image, [0xFF000000, 0x00000000]);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(space.HeaderType, Is.EqualTo(1), "header type register 0x0E");
            Assert.That(space.ClassDescription, Is.EqualTo("PCI bridge"), "class 0x060400");
            Assert.That(space.SubsystemVendorId, Is.Null, "a type 1 header has no Subsystem Vendor ID at 0x2C");
            Assert.That(space.SubsystemId, Is.Null, "a type 1 header has no Subsystem ID at 0x2E");
            Assert.That(
                space.Bars,
                Is.EqualTo(new[] { new PciBar(0, PciBarKind.Memory32, false, 0xF7000000, 0x0100_0000) }),
                "BAR0 at 0x10 (16 MiB); BAR1 mask 0 is unimplemented; 0x18 is bus numbers, not a BAR");
            Assert.That(
                space.Find<PciExpressCapability>()?.DeviceType,
                Is.EqualTo(PciExpressDeviceType.RootPort),
                "PCIe capability at 0x40 Device/Port type");
        }
    }

    [TestCase(0)]
    [TestCase(64)]
    [TestCase(255)]
    [TestCase(257)]
    [TestCase(1024)]
    [TestCase(4095)]
    [TestCase(8192)]
    public void Parse_WrongImageLength_Throws(int length)
    {
        var ex = Assert.Throws<PciConfigSpaceException>(() => PciConfigSpace.Parse(new byte[length], source: "0000:01:00.0"));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(
                ex!.Message,
                Is.EqualTo($"config space of 0000:01:00.0: image is {length} bytes; expected 256 (conventional) or 4096 (PCIe extended)"),
                $"a {length}-byte image is neither conventional nor extended config space");
            Assert.That(ex.Offset, Is.Null, "an image-length problem is not tied to a register");
            Assert.That(ex.ImageSource, Is.EqualTo("0000:01:00.0"), "the source passed to Parse");
        }
    }

    [TestCase(2)]
    [TestCase(0x7F)]
    public void Parse_UnsupportedHeaderType_Throws(int headerType)
    {
        var image = ConfigImage.Function(headerType: (byte)headerType).Bytes;

        var ex = Assert.Throws<PciConfigSpaceException>(() => PciConfigSpace.Parse(image));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(ex!.Message, Does.StartWith($"config space: header type {headerType} not supported"), "header type register 0x0E");
            Assert.That(ex.Offset, Is.EqualTo(0x0E), "offset of the header type register");
        }
    }

    [TestCase(0x058000u, "Memory controller: Other")]
    [TestCase(0x020000u, "Ethernet controller")]
    [TestCase(0x010802u, "NVMe")]
    [TestCase(0x010800u, "Non-Volatile memory controller")]
    [TestCase(0x060000u, "Host bridge")]
    [TestCase(0x060400u, "PCI bridge")]
    [TestCase(0x118000u, "Signal processing controller: Other")]
    [TestCase(0x120000u, "Processing accelerators")]
    [TestCase(0x00FF00u, "Class 0x00FF00")]
    [TestCase(0xFFFFFFu, "Class 0xFFFFFF")]
    public void ClassName_NamesCommonClasses(uint classCode, string expected) =>
        Assert.That(PciConfigSpace.ClassName(classCode), Is.EqualTo(expected), $"class code 0x{classCode:X6}");

    [TestCase(PciLinkSpeed.Gen1, 2.5, "2.5 GT/s")]
    [TestCase(PciLinkSpeed.Gen2, 5.0, "5.0 GT/s")]
    [TestCase(PciLinkSpeed.Gen3, 8.0, "8.0 GT/s")]
    [TestCase(PciLinkSpeed.Gen4, 16.0, "16.0 GT/s")]
    [TestCase(PciLinkSpeed.Gen5, 32.0, "32.0 GT/s")]
    [TestCase(PciLinkSpeed.Gen6, 64.0, "64.0 GT/s")]
    [TestCase(PciLinkSpeed.Unknown, 0.0, "unknown")]
    public void LinkSpeed_DescribesTransferRate(PciLinkSpeed speed, double gigaTransfers, string text)
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(speed.GigaTransfersPerSecond(), Is.EqualTo(gigaTransfers), $"{speed} rate per lane");
            Assert.That(speed.Describe(), Is.EqualTo(text), $"{speed} as lspci prints it");
        }
    }

    [Test]
    public void ExtendedCapabilityName_NamesWellKnownIds()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(new PciExtendedCapability(0x0001, 2, 0x100).Name, Is.EqualTo("Advanced Error Reporting"), "ID 0x0001");
            Assert.That(new PciExtendedCapability(0x0010, 1, 0x100).Name, Is.EqualTo("SR-IOV"), "ID 0x0010");
            Assert.That(new PciExtendedCapability(0x0026, 1, 0x100).Name, Is.EqualTo("Physical Layer 16.0 GT/s"), "ID 0x0026");
            Assert.That(new PciExtendedCapability(0x002A, 1, 0x100).Name, Is.EqualTo("Unknown (0x002A)"), "ID 0x002A");
        }
    }
}
