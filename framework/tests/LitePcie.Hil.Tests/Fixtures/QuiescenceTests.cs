using FluentAssertions;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Fixtures;
using LitePcie.Hil.Simulation.Sil;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Fixtures;

/// <summary>
/// The clean-close check of the session fixture, against the SIL: a running engine and an enabled MSI are
/// reported in register terms, and closing a session that left DMA running leaves the board quiescent.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class QuiescenceTests
{
    [Test]
    public async Task A_running_engine_and_enabled_interrupts_are_reported_by_register()
    {
        await using var backend = new SilBackend();
        var device = (await backend.EnumerateAsync())[0];
        await using var session = await backend.OpenAsync(device);

        DeviceSuite.Quiescence(session).Should().BeEmpty("a freshly opened session has no engine started and no MSI enabled");

        session.Channels[0].Start(DmaDirection.Writer, DmaStartOptions.Default);
        var problems = DeviceSuite.Quiescence(session);
        problems.Should().Contain(p => p.StartsWith("pcie_dma0_writer_enable = 0x", StringComparison.Ordinal) && p.EndsWith("(DMA still enabled)", StringComparison.Ordinal),
            "bit 0 of the writer's enable is set (bit 1, idle, depends on whether it is waiting for descriptors)");
        problems.Should().Contain(p => p.StartsWith("pcie_msi_enable = 0x", StringComparison.Ordinal) && p.EndsWith("(interrupts still enabled)", StringComparison.Ordinal),
            "the writer's interrupt is unmasked while it runs");

        session.Channels[0].Stop(DmaDirection.Writer);
        DeviceSuite.Quiescence(session).Should().BeEmpty("Stop disables the engine and masks its interrupt");
    }

    [Test]
    public async Task Closing_a_session_with_DMA_running_leaves_the_board_quiescent()
    {
        await using var backend = new SilBackend();
        var device = (await backend.EnumerateAsync())[0];
        var session = await backend.OpenAsync(device);
        session.Channels[1].Start(DmaDirection.Reader, DmaStartOptions.Default);
        session.Channels[1].Start(DmaDirection.Writer, DmaStartOptions.Default);
        await session.DisposeAsync();

        await using var check = await backend.OpenAsync(device);
        DeviceSuite.Quiescence(check).Should().BeEmpty("the dext's close stops every engine before it releases the rings (docs/dext-design.md#stop-client-death-and-power)");
    }
}
