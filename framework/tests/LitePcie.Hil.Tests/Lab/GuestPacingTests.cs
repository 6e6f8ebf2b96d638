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

    /// <summary>
    /// Measured in the guest: the interrupt handler read loop_status every 32 buffers while our zero-copy streamer (user
    /// space, TCG) fell a ring behind, and the CLI's loopback lapped from its first buffer on. An enable read (our backend,
    /// before each counter read) couples the engine to that consumer, with half the lead, until the next start.
    /// </summary>
    [Test]
    public void AConsumerThatLooksAtTheCounts_HoldsTheEngine_TheInterruptHandlerNoLonger()
    {
        var map = SimBoards.Profile().CsrMap;
        var pacing = new GuestPacing(map, lead: 8);
        var writer = map.Layout.DmaChannels[0].Writer;
        pacing.MayProcess(0, DmaDirection.Writer, 0).Should().BeTrue();
        pacing.OnCsrRead(map.BarOffsetOf(writer.Enable));
        pacing.ConsumerCouplings.Should().Be(1);
        for (long done = 0; done < 4; done++)
        {
            pacing.MayProcess(0, DmaDirection.Writer, done).Should().BeTrue($"buffer {done} is within half the lead of the consumer's look at 0");
        }

        pacing.OnCsrRead(map.BarOffsetOf(writer.LoopStatus));
        pacing.MayProcess(0, DmaDirection.Writer, 4).Should().BeFalse("the interrupt handler looked, the consumer did not: the engine waits for the consumer");
        pacing.OnCsrRead(map.BarOffsetOf(writer.Enable));
        pacing.MayProcess(0, DmaDirection.Writer, 4).Should().BeTrue("the consumer looked at 4 completed");
        pacing.MayProcess(0, DmaDirection.Writer, 8).Should().BeFalse();
        pacing.MayProcess(0, DmaDirection.Writer, 0).Should().BeTrue("a new start: the table's count starts again");
        pacing.MayProcess(0, DmaDirection.Writer, 4).Should().BeFalse("a new table counts from the consumer's look at 0");
    }

    [Test]
    public void AConsumerThatStopsLooking_HandsTheEngineBackToTheDriversCoupling()
    {
        var map = SimBoards.Profile().CsrMap;
        var pacing = new GuestPacing(map, lead: 8, consumerMaxHold: TimeSpan.Zero);
        var writer = map.Layout.DmaChannels[0].Writer;
        pacing.MayProcess(0, DmaDirection.Writer, 0).Should().BeTrue();
        pacing.OnCsrRead(map.BarOffsetOf(writer.Enable));
        Thread.Sleep(1);
        pacing.OnCsrRead(map.BarOffsetOf(writer.LoopStatus));
        for (long done = 1; done < 8; done++)
        {
            pacing.MayProcess(0, DmaDirection.Writer, done).Should().BeTrue("the consumer's look is past its window: the driver's look and the full lead");
        }
    }

    [Test]
    public void AHold_IsBounded_SoADriverThatNeverLooksCannotStopTheBoard()
    {
        var map = SimBoards.Profile().CsrMap;
        var pacing = new GuestPacing(map, lead: 1, maxHold: TimeSpan.Zero);
        pacing.MayProcess(0, DmaDirection.Writer, 0).Should().BeTrue();
        pacing.MayProcess(0, DmaDirection.Writer, 1).Should().BeFalse("held: the driver has not looked");
        TickPasses();
        pacing.MayProcess(0, DmaDirection.Writer, 1).Should().BeFalse("the guest read no register since the hold began: it is stalled, not ignoring the engine");
        pacing.OnCsrRead(map.BarOffsetOf(map.Register("ctrl_scratch")));
        TickPasses();
        pacing.MayProcess(0, DmaDirection.Writer, 1).Should().BeTrue("the guest runs (it read a register) and still did not look: the hold ended at its bound");
        pacing.Released.Should().Be(1);
    }

    [Test]
    public void ASilentGuest_KeepsTheBoardHeld_UntilTheLongerBound()
    {
        var map = SimBoards.Profile().CsrMap;
        var pacing = new GuestPacing(map, lead: 1, maxHold: TimeSpan.Zero, silentMaxHold: TimeSpan.Zero);
        pacing.MayProcess(0, DmaDirection.Writer, 0).Should().BeTrue();
        pacing.MayProcess(0, DmaDirection.Writer, 1).Should().BeFalse("held: the driver has not looked");
        TickPasses();
        pacing.MayProcess(0, DmaDirection.Writer, 1).Should().BeTrue("a silent guest's hold ends at the silent bound");
        pacing.Released.Should().Be(1);
        GuestPacing.SilentMaxHold.Should().BeGreaterThan(TimeSpan.FromMilliseconds(250), "a stalled guest is held longer than a running one that does not look");
    }

    // The bounds under test are zero: a hold ends once the clock has moved past its start (no wait on anything else).
    private static void TickPasses()
    {
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        SpinWait.SpinUntil(() => System.Diagnostics.Stopwatch.GetTimestamp() > start + 1);
    }
}
