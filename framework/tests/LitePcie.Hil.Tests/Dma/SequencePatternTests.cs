using FluentAssertions;
using FsCheck;
using FsCheck.Fluent;
using LitePcie.Hil.Dma;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Dma;

/// <summary>Laws of the sequence-numbered pattern: exact match, exact first bad word, sequence recovery.</summary>
[TestFixture]
public sealed class SequencePatternTests
{
    [Test]
    public void A_filled_buffer_matches_its_own_sequence_only()
    {
        Prop.ForAll(Gen.Choose(1, 1200).Select(w => w * 8).ToArbitrary(), ArbMap.Default.ArbFor<long>(), (size, seq) =>
        {
            var p = new SequencePattern(size);
            var b = new byte[size];
            p.Fill(b, seq);
            return p.Matches(b, seq) && !p.Matches(b, seq + 1) && p.Check(b, seq).Verdict == BufferVerdict.Ok;
        }).QuickCheckThrowOnFailure();
    }

    [Test]
    public void A_single_flipped_bit_is_located_exactly_at_any_word_for_vector_and_scalar_paths()
    {
        // From two words up: a one-word buffer is always some intact sequence, corruption cannot be told apart.
        var sizes = Gen.Elements(16, 24, 64, 72, 128, 136, 8192, 8200);
        var gen = from size in sizes
                  from bit in Gen.Choose(0, size * 8 - 1)
                  from seq in Gen.Choose(0, int.MaxValue)
                  select (size, bit, seq);
        Prop.ForAll(gen.ToArbitrary(), t =>
        {
            var p = new SequencePattern(t.size);
            var b = new byte[t.size];
            p.Fill(b, t.seq);
            b[t.bit / 8] ^= (byte)(1 << (t.bit % 8));
            var c = p.Check(b, t.seq);
            return c.Verdict == BufferVerdict.Corrupted && c.FirstBadWord == t.bit / 64 &&
                   SequencePattern.BitsDiffering(c.ExpectedWord, c.ActualWord) == 1;
        }).QuickCheckThrowOnFailure();
    }

    /// <summary>
    /// <see cref="SequencePattern.Matches"/> is the streamer's fast path: every buffer that passes it is counted
    /// good without <see cref="SequencePattern.Check"/>. Any single flipped bit anywhere must fail it — in the
    /// vectorised body, at a vector boundary and in the scalar tail (buffer sizes that are not a multiple of two
    /// vectors), with the word index drawn towards both ends where an off-by-one hides.
    /// </summary>
    [Test]
    public void Matches_rejects_any_single_flipped_bit_vector_body_and_tail_included()
    {
        var gen = from words in Gen.Choose(2, 1100)
                  from word in Gen.OneOf(Gen.Constant(0), Gen.Constant(words - 1), Gen.Choose(Math.Max(0, words - 17), words - 1), Gen.Choose(0, words - 1))
                  from bit in Gen.Choose(0, 63)
                  from seq in ArbMap.Default.GeneratorFor<long>()
                  select (words, word, bit, seq);
        Prop.ForAll(gen.ToArbitrary(), t =>
        {
            var p = new SequencePattern(t.words * 8);
            var b = new byte[t.words * 8];
            p.Fill(b, t.seq);
            bool intact = p.Matches(b, t.seq);
            b[t.word * 8 + t.bit / 8] ^= (byte)(1 << (t.bit % 8));
            return (intact && !p.Matches(b, t.seq))
                .Label($"{t.words} words, bit {t.bit} of word {t.word}, sequence {t.seq}: intact {intact}, flipped matched {p.Matches(b, t.seq)}");
        }).QuickCheckThrowOnFailure();
    }

    [Test]
    public void Matches_rejects_a_flipped_bit_in_every_word_of_every_small_buffer()
    {
        // Exhaustive over the sizes where body/tail boundaries of 256- and 512-bit vectors fall (1..40 words).
        for (int words = 1; words <= 40; words++)
        {
            var p = new SequencePattern(words * 8);
            for (int word = 0; word < words; word++)
            {
                foreach (int bit in new[] { 0, 31, 63 })
                {
                    var b = new byte[words * 8];
                    p.Fill(b, 12345);
                    b[word * 8 + bit / 8] ^= (byte)(1 << (bit % 8));
                    p.Matches(b, 12345).Should().BeFalse($"a {words}-word buffer with bit {bit} of word {word} flipped is not sequence 12345");
                }
            }
        }
    }

    [Test]
    public void An_intact_buffer_of_another_sequence_is_recognised_with_its_number()
    {
        Prop.ForAll(ArbMap.Default.ArbFor<long>(), ArbMap.Default.ArbFor<long>(), (expected, actual) =>
        {
            var p = new SequencePattern(8192);
            var b = new byte[8192];
            p.Fill(b, actual);
            var c = p.Check(b, expected);
            return expected == actual
                ? c.Verdict == BufferVerdict.Ok
                : c.Verdict == BufferVerdict.WrongSequence && c.Found == actual && c.FirstBadWord == 0;
        }).QuickCheckThrowOnFailure();
    }

    [Test]
    public void The_sequence_key_is_invertible()
    {
        Prop.ForAll(ArbMap.Default.ArbFor<long>(), n => SequencePattern.SequenceOf(SequencePattern.KeyOf(n)) == n).QuickCheckThrowOnFailure();
    }

    [Test]
    public void Different_seeds_give_different_patterns_and_zero_buffers_never_match()
    {
        var a = new SequencePattern(8192, 1);
        var b = new SequencePattern(8192, 2);
        var buf = new byte[8192];
        a.Fill(buf, 5);
        b.Matches(buf, 5).Should().BeFalse();
        a.Matches(new byte[8192], 0).Should().BeFalse("an unwritten (zero) buffer is not a valid buffer 0");
        a.Check(new byte[8192], 0).Verdict.Should().Be(BufferVerdict.Corrupted);
    }

    [Test]
    public void Wrong_buffer_size_is_refused()
    {
        FluentActions.Invoking(() => new SequencePattern(12)).Should().Throw<ArgumentOutOfRangeException>();
        var p = new SequencePattern(64);
        FluentActions.Invoking(() => p.Matches(new byte[72], 0)).Should().Throw<ArgumentException>().WithMessage("*72 bytes*64-byte*");
    }
}
