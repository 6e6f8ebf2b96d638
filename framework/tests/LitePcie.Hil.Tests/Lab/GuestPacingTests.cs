using FluentAssertions;
using LitePcie.Hil.DeviceServer;
using LitePcie.Hil.Tests.Support;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Lab;

/// <summary>The board runs at most a lead ahead of what the guest's driver last read of each engine.</summary>
[TestFixture]
public sealed class GuestPacingTests
{
    [Test]
    public void AnEngine_WaitsForTheDriversNextLookAfterItsLead()
    {
        var map = SimBoards.Profile().CsrMap;
        var pacing = new GuestPacing(map, lead: 4);
        var writer = map.Layout.DmaChannels[0].Writer;
        for (long done = 0; done < 4; done++)
        {
            pacing.MayProcess(0, DmaDirection.Writer, done).Should().BeTrue($"buffer {done} is within the lead");
        }

        pacing.MayProcess(0, DmaDirection.Writer, 4).Should().BeFalse("4 buffers ahead of a driver that has not looked");
        pacing.MayProcess(0, DmaDirection.Reader, 0).Should().BeTrue("each engine has its own window");
        pacing.OnCsrRead(map.BarOffsetOf(map.Register("ctrl_scratch")));
        pacing.MayProcess(0, DmaDirection.Writer, 4).Should().BeFalse("only a loop_status read is the driver looking");
        pacing.OnCsrRead(map.BarOffsetOf(writer.LoopStatus));
        pacing.MayProcess(0, DmaDirection.Writer, 4).Should().BeTrue("the ISR read the writer's loop_status at 4 completed");
        pacing.MayProcess(0, DmaDirection.Writer, 8).Should().BeFalse();
        pacing.Holds.Should().Be(3);
    }

    [Test]
    public void ATableReset_StartsTheWindowAgain()
    {
        var map = SimBoards.Profile().CsrMap;
        var pacing = new GuestPacing(map, lead: 2);
        pacing.MayProcess(1, DmaDirection.Reader, 1).Should().BeTrue();
        pacing.OnCsrRead(map.BarOffsetOf(map.Layout.DmaChannels[1].Reader.LoopStatus));
        pacing.MayProcess(1, DmaDirection.Reader, 3).Should().BeFalse();
        pacing.MayProcess(1, DmaDirection.Reader, 0).Should().BeTrue("a count lower than the last one is a fresh table");
        pacing.MayProcess(1, DmaDirection.Reader, 1).Should().BeTrue();
        pacing.MayProcess(1, DmaDirection.Reader, 2).Should().BeFalse();
    }

    [Test]
    public void AHold_IsBounded_SoADriverThatNeverLooksCannotStopTheBoard()
    {
        var map = SimBoards.Profile().CsrMap;
        var pacing = new GuestPacing(map, lead: 1, maxHold: TimeSpan.Zero);
        pacing.MayProcess(0, DmaDirection.Writer, 0).Should().BeTrue();
        pacing.MayProcess(0, DmaDirection.Writer, 1).Should().BeFalse("held: the driver has not looked");
        Thread.Sleep(1);
        pacing.MayProcess(0, DmaDirection.Writer, 1).Should().BeTrue("the hold ended at its bound");
        pacing.Released.Should().Be(1);
    }
}
