using FluentAssertions;
using LitePcie.Hil.Pci;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Pci;

/// <summary>
/// A malformed config space is refused with one whole sentence naming the register, what it reads and what the
/// specification allows — the user reads it in a lab log without the image at hand, so every clause of it counts.
/// Also the summary line and the lookups a report prints from a parsed space.
/// </summary>
[TestFixture]
public sealed class PciConfigSpaceDiagnosticTests
{
    private static PciConfigSpaceException ParseFails(byte[] image, IReadOnlyList<uint>? masks = null) =>
        FluentActions.Invoking(() => PciConfigSpace.Parse(image, masks, "0000:03:00.0"))
            .Should().Throw<PciConfigSpaceException>().Which;

    [Test]
    public void An_unsupported_header_type_is_refused_quoting_the_register()
    {
        var ex = ParseFails(ConfigImage.Function(headerType: 0x82).Bytes);
        ex.Problem.Should().Be("header type 2 not supported (header type register at 0x0E reads 0x82)",
            "a multi-function CardBus header (0x82) has layout 2, which the parser does not decode");
        ex.Offset.Should().Be(0x0E);
    }

    [Test]
    public void A_64_bit_bar_in_the_last_register_names_the_header_and_why()
    {
        var ex = ParseFails(ConfigImage.Function().U32(0x24, 0x0000000C).Bytes);
        ex.Problem.Should().Be("BAR5 at 0x24 is a 64-bit memory BAR but is the last BAR register " +
            "(header type 0 has 6); its upper half has nowhere to live");
    }

    /// <summary>
    /// A 32-bit I/O decoder's sizing probe must read back contiguous ones from the top down to the size. 0xFF00_FF01
    /// has a hole at bits 16..23: no power-of-two size fits, whatever its low half would suggest (256 bytes).
    /// </summary>
    [Test]
    public void A_non_contiguous_io_sizing_mask_is_refused_at_its_own_bar_register()
    {
        var image = ConfigImage.Function().U32(0x18, 0x0000_E001).Bytes;   // BAR2: I/O at 0xE000
        var ex = ParseFails(image, [0, 0, 0xFF00_FF01, 0, 0, 0]);
        ex.Offset.Should().Be(0x18, "BAR2's register");
        ex.Problem.Should().Be("BAR2 at 0x18: sizing mask 0xFF00FF00 has non-contiguous address bits " +
            "(would give size 0xFF0100, not a power of two)");
    }

    [Test]
    public void A_16_bit_io_decoder_is_sized_within_64_KiB()
    {
        // Devices decoding only 16 address bits read 0 in the upper half of the probe: size = ~0xFF00 + 1 in 16 bits.
        var space = PciConfigSpace.Parse(ConfigImage.Function().U32(0x10, 0x0000_E001).Bytes, [0x0000_FF01, 0, 0, 0, 0, 0]);
        space.Bars.Should().ContainSingle().Which.Should().Be(new PciBar(0, PciBarKind.Io, false, 0xE000, 0x100));
    }

    [Test]
    public void A_capability_pointer_into_the_header_says_where_capabilities_start()
    {
        var ex = ParseFails(ConfigImage.Function().CapabilityPointer(0x20).Bytes);
        ex.Problem.Should().Be("capability pointer at 0x34 points to 0x20, inside the standard header (capabilities start at 0x40)");
    }

    [Test]
    public void An_extended_pointer_below_0x100_says_where_the_extended_area_starts()
    {
        var image = ConfigImage.Function(length: 4096).ExtendedCapability(0x100, 0x0001, 2, 0x0C0).Bytes;
        var ex = ParseFails(image);
        ex.Offset.Should().Be(0x100, "the AER header at 0x100 holds the bad next pointer");
        ex.Problem.Should().Be("extended capability pointer at 0x100 points to 0xC0, below the extended area " +
            "(extended capabilities start at 0x100)");
    }

    [TestCase((ushort)0x0000, false)]
    [TestCase((ushort)0x0290, true)]
    [TestCase((ushort)0x02A0, false)]   // DEVSEL medium and 66 MHz capable, no capability list
    public void The_capability_list_bit_is_status_bit_4_alone(ushort status, bool expected)
    {
        var space = PciConfigSpace.Parse(ConfigImage.Function().U16(0x06, status).Bytes);
        space.HasCapabilityList.Should().Be(expected, $"Status reads 0x{status:X4}");
    }

    [Test]
    public void Looking_up_an_extended_capability_the_device_lacks_gives_null()
    {
        var image = ConfigImage.Function(length: 4096).ExtendedCapability(0x100, 0x0001, 2, 0).Bytes;   // AER only
        PciConfigSpace.Parse(image).FindExtended<DeviceSerialNumberCapability>().Should().BeNull("the chain holds AER alone");
        PciConfigSpace.Parse(ConfigImage.Function().Bytes).FindExtended<DeviceSerialNumberCapability>()
            .Should().BeNull("a 256-byte image has no extended capabilities");
    }

    [Test]
    public void The_summary_line_names_ids_class_revision_and_counts()
    {
        var image = ConfigImage.Function(vendorId: 0x10EE, deviceId: 0x7021, classCode: 0x058000)
            .U8(0x08, 0x01)
            .U32(0x10, 0xF000_0000)
            .CapabilityPointer(0x40).Capability(0x40, PciCapability.PowerManagementId, 0)
            .U16(0x42, 0x0003);
        PciConfigSpace.Parse(image.Bytes).ToString().Should().Be(
            "[10ee:7021] Memory controller: Other rev 01, header type 0, 1 BAR(s), 1 capability(ies), 0 extended");
    }
}
