using LitePcie.Hil.Pci;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Pci;

/// <summary>
/// A QEMU virtio-net (modern, PCIe) function as lspci -vvv -xxxx shows it: virtio_pci_cap vendor capabilities
/// (cfg_type, bar, offset, length), MSI-X with 3 vectors in BAR1, and a PCIe endpoint capability.
/// </summary>
[TestFixture]
public sealed class VirtioNetConfigSpaceTests
{
    private static readonly uint[] s_sizingMasks = [0, 0xFFFFF000, 0, 0, 0xFFFFC00C, 0xFFFFFFFF];

    private static byte[] VirtioNetImage()
    {
        var image = ConfigImage.Function(vendorId: 0x1AF4, deviceId: 0x1041, classCode: 0x020000, length: 4096)
            .U16(0x04, 0x0507)                       // I/O, memory, bus master, INTx disable
            .U16(0x06, 0x0010)                       // capability list
            .U8(0x08, 0x01)                          // revision 1
            .U32(0x14, 0xFE840000)                   // BAR1: 32-bit memory, 4 KiB (MSI-X table)
            .U32(0x20, 0xFCC0000C)                   // BAR4: 64-bit prefetchable, 16 KiB (virtio structures)
            .U32(0x24, 0x00000000)
            .U16(0x2C, 0x1AF4)
            .U16(0x2E, 0x1100)
            .U8(0x3C, 0x16)
            .U8(0x3D, 0x01)
            .U8(0x34, 0xDC);

        // [dc] MSI-X: Enable+ Count=3 Masked- Vector table: BAR=1 offset=00000000 PBA: BAR=1 offset=00000800
        image.Capability(0xDC, 0x11, 0xC8).U16(0xDE, 0x8002).U32(0xE0, 0x00000001).U32(0xE4, 0x00000801);

        // [c8] VirtIO Notify: cfg_type 2, BAR 4, offset 0x3000, length 0x1000, notify_off_multiplier 4
        VirtioCap(image, 0xC8, next: 0xB4, length: 0x14, cfgType: 2, bar: 4, offset: 0x3000, size: 0x1000);
        image.U32(0xD8, 4);

        // [b4] VirtIO DeviceCfg: cfg_type 4, BAR 4, offset 0x2000, length 0x1000
        VirtioCap(image, 0xB4, next: 0xA4, length: 0x10, cfgType: 4, bar: 4, offset: 0x2000, size: 0x1000);

        // [a4] VirtIO ISR: cfg_type 3, BAR 4, offset 0x1000, length 0x1000
        VirtioCap(image, 0xA4, next: 0x94, length: 0x10, cfgType: 3, bar: 4, offset: 0x1000, size: 0x1000);

        // [94] VirtIO CommonCfg: cfg_type 1, BAR 4, offset 0, length 0x1000
        VirtioCap(image, 0x94, next: 0x40, length: 0x10, cfgType: 1, bar: 4, offset: 0x0000, size: 0x1000);

        // [40] Express (v2) Endpoint: MaxPayload 128, MaxReadReq 512, Link Cap 2.5GT/s x1, Link Sta 2.5GT/s x1
        image.Capability(0x40, 0x10, 0x00)
            .U16(0x42, 0x0002)
            .U32(0x44, 0x10008000)
            .U16(0x48, 0x2810)
            .U32(0x4C, 0x00000011)
            .U16(0x52, 0x0011);

        return image.Bytes;
    }

    private static void VirtioCap(ConfigImage image, int at, byte next, byte length, byte cfgType, byte bar, uint offset, uint size) =>
        image.Capability(at, 0x09, next).U8(at + 2, length).U8(at + 3, cfgType).U8(at + 4, bar).U32(at + 8, offset).U32(at + 12, size);

    [Test]
    public void Parse_VirtioNet_MatchesLspci()
    {
        var space = PciConfigSpace.Parse(VirtioNetImage(), s_sizingMasks, "0000:00:02.0");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(space.VendorId, Is.EqualTo(0x1AF4), "Red Hat / virtio vendor ID");
            Assert.That(space.DeviceId, Is.EqualTo(0x1041), "virtio 1.0 network device ID (0x1040 + 1)");
            Assert.That(space.ClassDescription, Is.EqualTo("Ethernet controller"), "class 0x020000");
            Assert.That(space.SubsystemId, Is.EqualTo((ushort)0x1100), "Subsystem ID at 0x2E");
            Assert.That(space.Command.HasFlag(PciCommand.BusMaster), Is.True, "Command 0x0507 has bus master");
            Assert.That(
                space.Bars,
                Is.EqualTo(new[]
                {
                    new PciBar(1, PciBarKind.Memory32, false, 0xFE840000, 0x1000),
                    new PciBar(4, PciBarKind.Memory64, true, 0xFCC00000, 0x4000),
                }),
                "lspci: Memory at fe840000 (32-bit, non-prefetchable) [size=4K]; Memory at fcc00000 (64-bit, prefetchable) [size=16K]");
            Assert.That(
                space.Capabilities.Select(c => (c.Offset, c.Id)),
                Is.EqualTo(new[] { (0xDC, (byte)0x11), (0xC8, (byte)0x09), (0xB4, (byte)0x09), (0xA4, (byte)0x09), (0x94, (byte)0x09), (0x40, (byte)0x10) }),
                "capability chain [dc] MSI-X -> [c8] [b4] [a4] [94] vendor-specific -> [40] Express");
            Assert.That(
                space.Find<MsiXCapability>(),
                Is.EqualTo(new MsiXCapability(0xDC, true, false, 3, 1, 0x000, 1, 0x800)),
                "MSI-X: Enable+ Count=3 Masked-, table BAR=1 offset=0, PBA BAR=1 offset=0x800");
            Assert.That(
                space.FindAll<VendorSpecificCapability>().Select(v => v.Data.Span[0]),
                Is.EqualTo(new byte[] { 2, 4, 3, 1 }),
                "virtio cfg_type of each vendor capability: Notify, DeviceCfg, ISR, CommonCfg");
            Assert.That(
                space.FindAll<VendorSpecificCapability>().Select(v => v.Length),
                Is.EqualTo(new byte[] { 0x14, 0x10, 0x10, 0x10 }),
                "virtio_pci_cap is 16 bytes; the notify variant adds notify_off_multiplier");
            Assert.That(space.ExtendedCapabilities, Is.Empty, "QEMU virtio-net leaves 0x100 zero: no extended capabilities");
        }

        var pcie = space.Find<PciExpressCapability>()!;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(pcie.DeviceType, Is.EqualTo(PciExpressDeviceType.Endpoint), "Express (v2) Endpoint");
            Assert.That(pcie.MaxPayloadSupported, Is.EqualTo(128), "DevCap MaxPayload 128 bytes");
            Assert.That(pcie.MaxPayloadSize, Is.EqualTo(128), "DevCtl MaxPayload 128 bytes");
            Assert.That(pcie.MaxReadRequestSize, Is.EqualTo(512), "DevCtl MaxReadReq 512 bytes");
            Assert.That(pcie.LinkMaxSpeed.Describe(), Is.EqualTo("2.5 GT/s"), "LnkCap Speed 2.5GT/s");
            Assert.That(pcie.LinkMaxWidth, Is.EqualTo(1), "LnkCap Width x1");
            Assert.That(pcie.LinkSpeed, Is.EqualTo(PciLinkSpeed.Gen1), "LnkSta Speed 2.5GT/s");
            Assert.That(pcie.LinkWidth, Is.EqualTo(1), "LnkSta Width x1");
        }
    }
}
