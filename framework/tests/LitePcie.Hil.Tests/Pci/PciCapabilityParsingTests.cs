using LitePcie.Hil.Pci;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Pci;

[TestFixture]
public sealed class PciCapabilityParsingTests
{
    private static PciConfigSpace ParseSingle(Func<ConfigImage, ConfigImage> capability, byte offset = 0x40) =>
        PciConfigSpace.Parse(capability(ConfigImage.Function().CapabilityPointer(offset)).Bytes);

    [Test]
    public void PowerManagement_DecodesPmcAndPmcsr()
    {
        var space = ParseSingle(image => image
            .Capability(0x40, 0x01, 0x00)
            .U16(0x42, 0xCA03)   // version 3, D1, PME from D0/D3hot/D3cold (0b11001)
            .U16(0x44, 0x810B)); // D3hot, No_Soft_Reset, PME_En, PME_Status

        Assert.That(
            space.Capabilities,
            Is.EqualTo(new PciCapability[]
            {
                new PowerManagementCapability(
                    0x40,
                    Version: 3,
                    PmeSupport: 0b11001,
                    D1Supported: true,
                    D2Supported: false,
                    PowerState: PciPowerState.D3Hot,
                    NoSoftReset: true,
                    PmeEnable: true,
                    PmeStatus: true),
            }),
            "PM capability at 0x40: PMC 0xCA03, PMCSR 0x810B");
    }

    [Test]
    public void Msi_32BitWithoutMasking_ReadsDataAtPlus8()
    {
        var space = ParseSingle(image => image
            .Capability(0x50, 0x05, 0x00)
            .U16(0x52, 0x0015)        // enable, MMC=2 (4 vectors), MME=1 (2 vectors), 32-bit
            .U32(0x54, 0xFEE00003)    // reserved address bits 1:0 set: must read as 0
            .U16(0x58, 0x4021)
            .U32(0x5C, 0xDEADBEEF),   // not part of a 10-byte MSI capability
            offset: 0x50);

        var msi = space.Find<MsiCapability>();

        Assert.That(
            msi,
            Is.EqualTo(new MsiCapability(0x50, true, 2, 1, false, false, 0xFEE00000, 0x4021, null, null)),
            "32-bit MSI at 0x50: control 0x0015, address at +4, data at +8, no mask/pending");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(msi!.RequestedVectors, Is.EqualTo(4), "Multiple Message Capable field 2 requests 4 vectors");
            Assert.That(msi.GrantedVectors, Is.EqualTo(2), "Multiple Message Enable field 1 grants 2 vectors");
        }
    }

    [Test]
    public void Msi_64BitWithoutMasking_ReadsHighAddressAtPlus8AndDataAtPlusC()
    {
        var space = ParseSingle(image => image
            .Capability(0x50, 0x05, 0x00)
            .U16(0x52, 0x0081)        // enable, 64-bit
            .U32(0x54, 0xFEE01000)
            .U32(0x58, 0x00000001)
            .U16(0x5C, 0x1234),
            offset: 0x50);

        Assert.That(
            space.Find<MsiCapability>(),
            Is.EqualTo(new MsiCapability(0x50, true, 0, 0, true, false, 0x1_FEE0_1000, 0x1234, null, null)),
            "64-bit MSI at 0x50: address +4/+8, data at +0x0C");
    }

    [Test]
    public void Msi_32BitWithMasking_ReadsMaskAtPlusCAndPendingAtPlus10()
    {
        var space = ParseSingle(image => image
            .Capability(0x60, 0x05, 0x00)
            .U16(0x62, 0x010A)        // per-vector masking, MMC=5 (32 vectors), 32-bit
            .U32(0x64, 0xFEE00000)
            .U16(0x68, 0x0041)
            .U32(0x6C, 0xFFFF0000)
            .U32(0x70, 0x00000005),
            offset: 0x60);

        Assert.That(
            space.Find<MsiCapability>(),
            Is.EqualTo(new MsiCapability(0x60, false, 5, 0, false, true, 0xFEE00000, 0x0041, 0xFFFF0000, 0x00000005)),
            "32-bit MSI with masking at 0x60: data +8, mask +0x0C, pending +0x10");
    }

    [Test]
    public void Msi_64BitWithMasking_ReadsMaskAtPlus10AndPendingAtPlus14()
    {
        var space = ParseSingle(image => image
            .Capability(0x60, 0x05, 0x00)
            .U16(0x62, 0x01B7)        // 64-bit, masking, MMC=3, MME=3, enabled
            .U32(0x64, 0xFEE00000)
            .U32(0x68, 0x00000000)
            .U16(0x6C, 0x00A0)
            .U32(0x70, 0x000000F0)
            .U32(0x74, 0x00000001),
            offset: 0x60);

        var msi = space.Find<MsiCapability>();

        Assert.That(
            msi,
            Is.EqualTo(new MsiCapability(0x60, true, 3, 3, true, true, 0xFEE00000, 0x00A0, 0x000000F0, 0x00000001)),
            "64-bit MSI with masking at 0x60: data +0x0C, mask +0x10, pending +0x14");
        Assert.That(msi!.GrantedVectors, Is.EqualTo(8), "Multiple Message Enable field 3 grants 8 vectors");
    }

    [Test]
    public void MsiX_DecodesControlTableAndPba()
    {
        var space = ParseSingle(image => image
            .Capability(0x70, 0x11, 0x00)
            .U16(0x72, 0xC03F)        // enable, function mask, 64 entries
            .U32(0x74, 0x00002002)    // table in BAR2 at 0x2000
            .U32(0x78, 0x00003004),   // PBA in BAR4 at 0x3000
            offset: 0x70);

        Assert.That(
            space.Capabilities,
            Is.EqualTo(new PciCapability[] { new MsiXCapability(0x70, true, true, 64, 2, 0x2000, 4, 0x3000) }),
            "MSI-X at 0x70: control 0xC03F, table 0x00002002, PBA 0x00003004");
    }

    [Test]
    public void PciExpress_DecodesDeviceAndLinkRegisters()
    {
        var space = ParseSingle(image => image
            .Capability(0x80, 0x10, 0x00)
            .U16(0x82, 0x0002)        // version 2, endpoint
            .U32(0x84, 0x00008002)    // MPS supported 512 (other DevCap bits set)
            .U16(0x88, 0x2020)        // MPS 256, MRRS 512
            .U32(0x8C, 0x01000C83)    // Gen3 x8, ASPM L0s/L1, port 1
            .U16(0x92, 0x2042),       // Gen2 x4, DLL active
            offset: 0x80);

        Assert.That(
            space.Find<PciExpressCapability>(),
            Is.EqualTo(new PciExpressCapability(
                0x80,
                Version: 2,
                DeviceType: PciExpressDeviceType.Endpoint,
                SlotImplemented: false,
                MaxPayloadSupported: 512,
                MaxPayloadSize: 256,
                MaxReadRequestSize: 512,
                LinkMaxSpeed: PciLinkSpeed.Gen3,
                LinkMaxWidth: 8,
                LinkSpeed: PciLinkSpeed.Gen2,
                LinkWidth: 4,
                LinkTraining: false,
                DataLinkLayerActive: true,
                LinkCapabilities: 0x01000C83,
                LinkStatus: 0x2042)),
            "PCIe capability at 0x80: DevCap 0x8002, DevCtl 0x2020, LinkCap 0x01000C83, LinkSta 0x2042");
    }

    [Test]
    public void PciExpress_KeepsReservedDeviceTypeAndMapsUndefinedSpeedToUnknown()
    {
        var space = ParseSingle(image => image
            .Capability(0x40, 0x10, 0x00)
            .U16(0x42, 0x0132)        // version 2, type 3 (reserved), slot implemented
            .U32(0x4C, 0x0000001F)    // speed field 0xF, x1
            .U16(0x52, 0x0810));      // speed 0, x1, training

        var pcie = space.Find<PciExpressCapability>()!;

        using (Assert.EnterMultipleScope())
        {
            Assert.That((int)pcie.DeviceType, Is.EqualTo(3), "reserved Device/Port type 3 is kept as its value");
            Assert.That(pcie.SlotImplemented, Is.True, "PCIe Capabilities bit 8");
            Assert.That(pcie.LinkMaxSpeed, Is.EqualTo(PciLinkSpeed.Unknown), "Link Capabilities speed field 0xF is undefined");
            Assert.That(pcie.LinkSpeed, Is.EqualTo(PciLinkSpeed.Unknown), "Link Status speed field 0 is undefined");
            Assert.That(pcie.LinkTraining, Is.True, "Link Status bit 11");
            Assert.That(pcie.DataLinkLayerActive, Is.False, "Link Status bit 13");
        }
    }

    [Test]
    public void VendorSpecific_ReadsLengthAndData()
    {
        var space = ParseSingle(image => image
            .Capability(0x40, 0x09, 0x00)
            .U8(0x42, 8)
            .U32(0x43, 0x04030201)
            .U8(0x47, 0x05));

        Assert.That(
            space.Capabilities,
            Is.EqualTo(new PciCapability[] { new VendorSpecificCapability(0x40, 8, new byte[] { 1, 2, 3, 4, 5 }) }),
            "vendor-specific capability at 0x40 with length byte 8 carries 5 data bytes");
    }

    [Test]
    public void UnknownId_KeepsIdAndOffset_AndChainOrderIsPreserved()
    {
        var space = ParseSingle(
            image => image
                .Capability(0xC0, 0x0D, 0x40)   // bridge subsystem ID capability, not decoded
                .Capability(0x40, 0x01, 0x00),
            offset: 0xC0);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(space.Capabilities, Has.Count.EqualTo(2), "chain 0x34 -> 0xC0 -> 0x40 -> end");
            Assert.That(space.Capabilities[0], Is.EqualTo(new UnknownCapability(0x0D, 0xC0)), "first entry (pointer 0x34 = 0xC0)");
            Assert.That(space.Capabilities[1], Is.TypeOf<PowerManagementCapability>(), "second entry at 0x40");
            Assert.That(space.FindAll<PowerManagementCapability>().Count(), Is.EqualTo(1), "one PM capability");
            Assert.That(space.Find<MsiCapability>(), Is.Null, "no MSI capability in the chain");
        }
    }

    [Test]
    public void ReservedLowPointerBits_AreMasked()
    {
        var image = ConfigImage.Function()
            .CapabilityPointer(0x43)          // masks to 0x40
            .Capability(0x40, 0x01, 0x4B)     // next masks to 0x48
            .Capability(0x48, 0x11, 0x02)     // next masks to 0x00: end
            .Bytes;

        var space = PciConfigSpace.Parse(image);

        Assert.That(
            space.Capabilities.Select(c => c.Offset),
            Is.EqualTo(new[] { 0x40, 0x48 }),
            "pointer 0x43 -> 0x40, next 0x4B -> 0x48, next 0x02 -> end (bits 1:0 are reserved)");
    }

    [Test]
    public void StatusBit4Clear_IgnoresCapabilityPointer()
    {
        var image = ConfigImage.Function().U8(0x34, 0x40).Capability(0x40, 0x01, 0x40).Bytes;

        var space = PciConfigSpace.Parse(image);

        Assert.That(space.Capabilities, Is.Empty, "Status bit 4 clear: pointer 0x34 is not valid, even though 0x40 loops");
    }

    [Test]
    public void FullRingOf48Capabilities_IsReportedAsALoop()
    {
        var image = ConfigImage.Function().CapabilityPointer(0x40);
        for (var offset = 0x40; offset <= 0xFC; offset += 4)
        {
            image.Capability(offset, 0x0D, (byte)(offset == 0xFC ? 0x40 : offset + 4));
        }

        var ex = Assert.Throws<PciConfigSpaceException>(() => PciConfigSpace.Parse(image.Bytes));

        Assert.That(
            ex!.Problem,
            Is.EqualTo("capability pointer at 0xFC points to 0x40 which was already visited (loop)"),
            "all 48 slots chained and the capability at 0xFC points back to 0x40");
    }

    [Test]
    public void FullChainOf48Capabilities_Parses()
    {
        var image = ConfigImage.Function().CapabilityPointer(0x40);
        for (var offset = 0x40; offset <= 0xFC; offset += 4)
        {
            image.Capability(offset, 0x0D, (byte)(offset == 0xFC ? 0 : offset + 4));
        }

        var space = PciConfigSpace.Parse(image.Bytes);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(space.Capabilities, Has.Count.EqualTo(PciConfigSpace.MaxCapabilities), "every aligned slot 0x40..0xFC holds a capability");
            Assert.That(PciConfigSpace.MaxCapabilities, Is.EqualTo(48), "192-byte area / 4");
        }
    }
}
