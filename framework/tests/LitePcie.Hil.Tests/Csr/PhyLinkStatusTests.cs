using FluentAssertions;
using FsCheck;
using FsCheck.Fluent;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Pci;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Csr;

/// <summary>Per-family decoding of <c>pcie_phy_phy_link_status</c> (docs/gateware.md#phy-status).</summary>
[TestFixture]
public sealed class PhyLinkStatusTests
{
    [TestCase(0x0000_002Du, true, PciLinkSpeed.Gen1, 8, 2, TestName = "7-series: up, 2.5 GT/s, x8, LTSSM 2")]
    [TestCase(0x0000_0103u, true, PciLinkSpeed.Gen2, 1, 0x10, TestName = "7-series: up, 5.0 GT/s, x1, LTSSM 0x10")]
    [TestCase(0x0000_000Au, false, PciLinkSpeed.Gen2, 4, 0, TestName = "7-series: down, 5.0 GT/s, x4")]
    public void Series7_fields(uint raw, bool up, PciLinkSpeed speed, int width, int ltssm)
    {
        var s = PhyLinkStatusCodec.Decode(PhyFamily.Series7, raw);
        (s.LinkUp, s.Speed, s.Width, s.Ltssm).Should().Be((up, speed, width, ltssm), $"raw 0x{raw:X8}");
    }

    [Test]
    public void UltraScale_uses_one_hot_rate_and_width()
    {
        // up, phy_status 3 (DL up), rate one-hot 4 (8 GT/s), width one-hot 8, LTSSM 0x10
        uint raw = 1u | (3u << 2) | (4u << 4) | (8u << 7) | (0x10u << 11);
        var s = PhyLinkStatusCodec.Decode(PhyFamily.UltraScale, raw);
        s.LinkUp.Should().BeTrue();
        s.Speed.Should().Be(PciLinkSpeed.Gen3);
        s.Width.Should().Be(8);
        s.PhyStatus.Should().Be(3);
        s.Ltssm.Should().Be(0x10);
    }

    [Test]
    public void UltraScalePlus_encodes_gen4_and_x16()
    {
        uint raw = 1u | (3u << 2) | (3u << 4) | (4u << 6) | (0x11u << 9);
        var s = PhyLinkStatusCodec.Decode(PhyFamily.UltraScalePlus, raw);
        (s.Speed, s.Width, s.Ltssm).Should().Be((PciLinkSpeed.Gen4, 16, 0x11));
    }

    [Test]
    public void Unknown_family_keeps_the_raw_value()
    {
        var s = PhyLinkStatusCodec.Decode(PhyFamily.Unknown, 0x1234);
        s.IsDecoded.Should().BeFalse();
        s.ToString().Should().Contain("0x00001234");
    }

    [Test]
    public void Encode_then_decode_is_the_identity_for_every_family_speed_and_width_it_supports()
    {
        var cases =
            from family in new[] { PhyFamily.Series7, PhyFamily.UltraScale, PhyFamily.UltraScalePlus }
            from speed in Enum.GetValues<PciLinkSpeed>().Where(s => s != PciLinkSpeed.Unknown && s <= PhyLinkStatusCodec.MaxSpeed(family))
            from width in new[] { 1, 2, 4, 8, 16 }.Where(w => w <= PhyLinkStatusCodec.MaxWidth(family))
            select (family, speed, width);
        var gen = from c in Gen.Elements(cases.ToArray())
                  from up in ArbMap.Default.GeneratorFor<bool>()
                  from ltssm in Gen.Choose(0, 63)
                  select (c.family, c.speed, c.width, up, ltssm);

        Prop.ForAll(gen.ToArbitrary(), t =>
        {
            uint raw = PhyLinkStatusCodec.Encode(t.family, t.up, t.speed, t.width, t.ltssm);
            var s = PhyLinkStatusCodec.Decode(t.family, raw);
            return s.LinkUp == t.up && s.Speed == t.speed && s.Width == t.width && s.Ltssm == t.ltssm;
        }).QuickCheckThrowOnFailure();
    }

    [Test]
    public void Encoding_what_a_family_cannot_report_is_refused()
    {
        FluentActions.Invoking(() => PhyLinkStatusCodec.Encode(PhyFamily.Series7, true, PciLinkSpeed.Gen3, 4, 0))
            .Should().Throw<ArgumentOutOfRangeException>().WithMessage("*7-series*");
        FluentActions.Invoking(() => PhyLinkStatusCodec.Encode(PhyFamily.UltraScale, true, PciLinkSpeed.Gen3, 16, 0))
            .Should().Throw<ArgumentOutOfRangeException>();
    }
}
