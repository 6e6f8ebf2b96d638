using System.Buffers;

namespace LitePcie.Hil.Simulation.Gateware;

/// <summary>
/// A byte stream between DMA engines (the loopback path): chunks with an end-of-packet mark. The owner bounds it
/// by the data FIFO depth (<see cref="DmaChannelModel"/>) so the reader can only run ahead of the writer by that much.
/// </summary>
internal sealed class StreamFifo
{
    private readonly Queue<Chunk> _chunks = new();
    private long _bytes;
    private int _headConsumed;

    public long Bytes => _bytes;

    /// <summary>Pushes a copy of <paramref name="data"/>.</summary>
    public void Push(ReadOnlySpan<byte> data, bool last)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Max(data.Length, 1));
        data.CopyTo(buffer);
        _chunks.Enqueue(new Chunk(buffer, data.Length, last));
        _bytes += data.Length;
    }

    /// <summary>
    /// Pops up to <c>destination.Length</c> bytes. When <paramref name="stopAtLast"/> is set, stops after the
    /// chunk carrying an end-of-packet mark and reports it in <paramref name="hitLast"/>.
    /// </summary>
    public int Pop(Span<byte> destination, bool stopAtLast, out bool hitLast)
    {
        hitLast = false;
        int copied = 0;
        while (copied < destination.Length && _chunks.Count > 0)
        {
            var c = _chunks.Peek();
            int n = Math.Min(c.Length - _headConsumed, destination.Length - copied);
            c.Buffer.AsSpan(_headConsumed, n).CopyTo(destination[copied..]);
            copied += n;
            _bytes -= n;
            _headConsumed += n;
            if (_headConsumed == c.Length)
            {
                DequeueHead();
                if (c.Last && stopAtLast)
                {
                    hitLast = true;
                    break;
                }
            }
        }

        return copied;
    }

    /// <summary>Discards up to <paramref name="bytes"/> bytes (a disabled writer accepts and drops its stream).</summary>
    public long Discard(long bytes)
    {
        long dropped = 0;
        while (dropped < bytes && _chunks.Count > 0)
        {
            int n = _chunks.Peek().Length - _headConsumed;
            dropped += n;
            _bytes -= n;
            DequeueHead();
        }

        return dropped;
    }

    private void DequeueHead()
    {
        var c = _chunks.Dequeue();
        _headConsumed = 0;
        ArrayPool<byte>.Shared.Return(c.Buffer);
    }

    /// <summary>Drops everything (the FIFO is held in reset).</summary>
    public void Clear() => Discard(long.MaxValue);

    private readonly record struct Chunk(byte[] Buffer, int Length, bool Last);
}
