using LitePcie.Hil.Boards;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Dma;
using LitePcie.Hil.Reporting;
using NUnit.Framework;

namespace LitePcie.Hil.Suites.Common;

/// <summary>
/// Verified DMA on channel 0 for the suites that need "I/O before and after": internal loopback where the design
/// has it, else writer-only from the board's user-logic pattern source (with the synchronizer released), else
/// none (the reason says why).
/// </summary>
internal static class VerifiedIo
{
    /// <summary>The mode a board can be verified with, or null and the reason.</summary>
    public static (StreamMode? Mode, string Reason) ModeFor(IDmaChannel channel, BoardProfile profile) =>
        channel.Layout.LoopbackEnable is not null ? (StreamMode.Loopback, "")
        : profile.WriterSource == UserWriterSource.SequencePattern ? (StreamMode.WriterOnly, "")
        : (null, $"{profile.Name} has no DMA loopback and no user-side pattern source: no verified DMA is possible");

    /// <summary>Streams <paramref name="bytes"/> and throws an <see cref="AssertionException"/> naming the first bad buffer when not clean.</summary>
    public static async Task<StreamReport> RunAsync(IDeviceSession session, BoardProfile profile, long bytes, TimeSpan stall, IStepReporter? steps,
        string what, CancellationToken cancellationToken)
    {
        var ch = session.Channels[0];
        var (mode, reason) = ModeFor(ch, profile);
        if (mode is null)
        {
            throw new IgnoreException(reason);
        }

        var options = new StreamOptions { Mode = mode.Value, Bytes = bytes, StallTimeout = stall, Steps = steps, KeepLoopbackSetting = mode != StreamMode.Loopback };
        var pattern = new SequencePattern(ch.Geometry.BufferSize);
        var report = mode == StreamMode.WriterOnly
            ? await WithUserStreamsReleased(session, ch, () => DmaStreamer.RunAsync(ch, pattern, options, cancellationToken)).ConfigureAwait(false)
            : await DmaStreamer.RunAsync(ch, pattern, options, cancellationToken).ConfigureAwait(false);
        if (!report.Clean || report.RxBuffers * ch.Geometry.BufferSize < bytes)
        {
            string first = report.ErrorDetails.Count > 0 ? report.ErrorDetails[0].ToString() : report.Stall ?? $"only {report.RxBuffers} buffers arrived";
            throw new AssertionException($"{what}: {report.Errors} bad buffer(s) of {report.RxBuffers} on pcie_dma{ch.Index}; first: {first}");
        }

        return report;
    }

    /// <summary>Runs <paramref name="action"/> with user streams released when <paramref name="mode"/> uses them (not for loopback).</summary>
    public static Task<T> WithUserStreamsReleasedIf<T>(StreamMode mode, IDeviceSession session, IDmaChannel channel, Func<Task<T>> action) =>
        mode == StreamMode.Loopback ? action() : WithUserStreamsReleased(session, channel, action);

    /// <summary>Designs with a synchronizer block user streams until it is bypassed (P15, docs/checklist.md#p15); restores the setting after.</summary>
    public static async Task<T> WithUserStreamsReleased<T>(IDeviceSession session, IDmaChannel channel, Func<Task<T>> action)
    {
        var sync = channel.Layout.Synchronizer;
        uint saved = sync is null ? 0 : session.Read32(sync.Bypass);
        if (sync is not null)
        {
            session.Write(sync.Bypass, 1);
        }

        try
        {
            return await action().ConfigureAwait(false);
        }
        finally
        {
            if (sync is not null && !session.IsDeviceGone)
            {
                session.Write(sync.Bypass, saved);
            }
        }
    }
}
