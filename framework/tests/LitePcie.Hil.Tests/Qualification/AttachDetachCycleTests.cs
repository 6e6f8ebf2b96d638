using FluentAssertions;
using LitePcie.Hil.Boards;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Qualification;
using LitePcie.Hil.Simulation;
using LitePcie.Hil.Simulation.Sil;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Qualification;

/// <summary>
/// The attach/detach cycle's account of a removal it did not plan: the fault matrix twice saw a surprise removal pass
/// unnoticed on sim-kc705-msix64-noloop, so every place a cycle could absorb one is pinned here.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class AttachDetachCycleTests
{
    private const string Address = "0000:01:00.0";

    private static AttachDetachCycle Cycle(SilBackend backend, bool startsAttached) => new(new CycleBench
    {
        Backend = backend,
        Address = Address,
        Profile = BoardCatalog.Load(BoardCatalog.DefaultBoard),
        Open = async ct => await backend.OpenAsync((await backend.EnumerateAsync(ct)).Single(d => d.Address == Address), ct),
        Attach = new SilAttachControl(backend),
        StateOf = _ => "idle",
        StartsAttached = startsAttached,
    });

    [Test]
    public async Task A_board_gone_before_the_first_cycle_of_a_run_that_began_with_it_attached_fails_that_cycle()
    {
        await using var backend = new SilBackend(new SilBackendOptions());
        var cycle = Cycle(backend, startsAttached: true);
        (await backend.DetachAsync(Address)).Should().BeTrue("the board starts on the bus");

        var run = async () => await cycle.RunAsync(1, new CyclePhases(TimeProvider.System), CancellationToken.None);

        var thrown = (await run.Should().ThrowAsync<CyclePhaseException>("cycle 1 found the board off the bus although the run began with it attached")).Which;
        thrown.Phase.Should().Be("between-cycles");
        thrown.InnerException.Should().BeOfType<DeviceGoneException>().Which.Message.Should().Contain("after the run began with it on the bus").And.Contain("before cycle 1");
        (await backend.EnumerateAsync()).Should().Contain(d => d.Address == Address, "the failed cycle still brought the board back for the next one");
        (await cycle.RunAsync(2, new CyclePhases(TimeProvider.System), CancellationToken.None)).Should().Be("idle", "cycle 2 starts from a recovered board");
    }

    [Test]
    public async Task A_run_that_did_not_check_the_board_first_recovers_it_in_the_first_cycle()
    {
        await using var backend = new SilBackend(new SilBackendOptions());
        var cycle = Cycle(backend, startsAttached: false);
        await backend.DetachAsync(Address);

        (await cycle.RunAsync(1, new CyclePhases(TimeProvider.System), CancellationToken.None)).Should().Be("idle",
            "a resumed bench run may find the board where a crash left it: off the bus");
    }

    [Test]
    public async Task A_planned_detach_reports_whether_the_board_was_on_the_bus()
    {
        await using var backend = new SilBackend(new SilBackendOptions());
        (await backend.DetachAsync(Address)).Should().BeTrue("the first detach takes the board off the bus");
        (await backend.DetachAsync(Address)).Should().BeFalse("a board already off the bus cannot be detached again");
    }

    [Test]
    public void SurpriseRemove_reports_whether_the_board_was_present()
    {
        using var board = new SimulatedBoard(BoardCatalog.Load(BoardCatalog.DefaultBoard));
        board.SurpriseRemove().Should().BeTrue("the board was on the bus");
        board.SurpriseRemove().Should().BeFalse("the second removal finds it gone");
        board.Reattach();
        board.SurpriseRemove().Should().BeTrue("a re-attached board can leave again");
    }
}
