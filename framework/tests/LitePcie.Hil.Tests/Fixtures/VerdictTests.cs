using FluentAssertions;
using LitePcie.Hil.Fixtures;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Fixtures;

[TestFixture]
public sealed class VerdictTests
{
    [Test]
    public void The_kind_is_the_first_line_and_the_details_follow()
    {
        Verdict.Fail("MSI interrupts lost", "pcie_dma0 writer: loop_status 96, driver 64").Message
            .Should().Be("MSI interrupts lost\npcie_dma0 writer: loop_status 96, driver 64");
    }

    [Test]
    public void The_place_goes_below_the_kind_and_before_the_details()
    {
        Verdict.At("MSI interrupts lost\npcie_dma0 writer: loop_status 96, driver 64\nsecond line", "stream from buffer 224 of 4096").Message
            .Should().Be("MSI interrupts lost\nstream from buffer 224 of 4096: pcie_dma0 writer: loop_status 96, driver 64\nsecond line");
    }

    [Test]
    public void A_one_line_verdict_keeps_its_line_first_and_gets_the_place_below()
    {
        Verdict.At("pcie_dma0: stalled", "at RX buffer 7").Message.Should().Be("pcie_dma0: stalled\nat RX buffer 7");
    }
}
