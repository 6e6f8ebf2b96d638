using FluentAssertions;
using FsCheck;
using FsCheck.Fluent;
using LitePcie.Hil.Dma;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Dma;

/// <summary>loop_status → 64-bit hardware count (docs/linux-driver.md#hardware-and-software-counts), including the 2^24 wrap.</summary>
[TestFixture]
public sealed class HwCounterTests
{
    [Test]
    public void Linux_driver_test_vectors()
    {
        var c = new HwCounter(256);
        (uint Status, long Expected)[] vectors =
        [
            (0x0000_0000, 0),
            (0x0000_0020, 32),
            (0x0001_0000, 256),
            (0xFFFF_00E0, 16_777_184),
            (0x0000_0000, 16_777_216),
            (0x0000_0020, 16_777_248),
        ];
        foreach (var (status, expected) in vectors)
        {
            c.Update(status).Should().Be(expected, $"after loop_status 0x{status:X8}");
        }
    }

    [Test]
    public void Loop_status_decodes_index_and_count()
    {
        var s = LoopStatus.FromRaw(0x0003_0011);
        (s.Index, s.Count).Should().Be(((ushort)0x11, (ushort)3));
        s.Raw.Should().Be(0x0003_0011u);
    }

    [Test]
    public void Count_is_exact_and_monotonic_for_any_sequence_of_readings_less_than_one_wrap_apart()
    {
        // A reading every k ≤ ring×65535 descriptors: the reconstructed count equals the true count (k−1, docs/gateware.md#loop_status).
        var steps = Gen.ListOf(Gen.Choose(1, 200_000));
        var rings = Gen.Elements(4, 64, 256, 1024);
        Prop.ForAll(rings.ToArbitrary(), steps.ToArbitrary(), (ring, increments) =>
        {
            var c = new HwCounter(ring);
            long completed = 0;
            long previous = 0;
            foreach (int inc in increments)
            {
                completed += inc;
                long truth = completed - 1; // count·N + index = k − 1
                long index = truth % ring;
                long count = truth / ring % 65536;
                long value = c.Update((uint)((count << 16) | index));
                if (value != truth || value < previous)
                {
                    return false;
                }

                previous = value;
            }

            return true;
        }).QuickCheckThrowOnFailure();
    }
}
