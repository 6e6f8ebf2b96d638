using FluentAssertions;
using FsCheck;
using FsCheck.Fluent;
using LitePcie.Hil.Dma;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Dma;

/// <summary>
/// Edges of the pattern that mutation testing showed unguarded (docs/mutation.md): the sizes refused, the
/// zero seed, the words a corruption report quotes, and the two span overloads' size checks.
/// </summary>
[TestFixture]
public sealed class SequencePatternEdgeTests
{
    [TestCase(0)]
    [TestCase(-8)]
    [TestCase(4)]
    public void A_buffer_size_that_is_not_a_positive_multiple_of_8_is_refused_by_name(int size)
    {
        FluentActions.Invoking(() => new SequencePattern(size)).Should().Throw<ArgumentOutOfRangeException>()
            .Which.ParamName.Should().Be("bufferSize");
    }

    [Test]
    public void The_smallest_buffer_is_one_word()
    {
        var p = new SequencePattern(8);
        p.Words.Should().Be(1);
        p.BufferSize.Should().Be(8);
        var b = new byte[8];
        p.Fill(b, 7);
        p.Matches(b, 7).Should().BeTrue();
    }

    [Test]
    public void A_zero_seed_still_gives_a_pseudo_random_pattern()
    {
        // xorshift has 0 as a fixed point: seed 0 must be replaced, or every word of buffer 0 would be zero and an
        // unwritten (zeroed) RX buffer would pass as buffer 0.
        var p = new SequencePattern(4096, seed: 0);
        p.Seed.Should().Be(0);
        p.Matches(new byte[4096], 0).Should().BeFalse("a zeroed buffer is not buffer 0, even with seed 0");
        Enumerable.Range(0, p.Words).Select(w => p.ExpectedWord(0, w)).Distinct().Should().HaveCount(p.Words,
            "the PRBS words of a buffer are all different");
        new SequencePattern(4096, seed: 1).ExpectedWord(0, 0).Should().NotBe(p.ExpectedWord(0, 0), "seed 0 is not seed 1");
    }

    [Test]
    public void A_non_zero_seed_is_used_as_given()
    {
        // Two non-zero seeds give two patterns; the replacement constant applies to seed 0 only.
        var replaced = new SequencePattern(64, seed: 0);
        var literal = new SequencePattern(64, seed: 0x2545F4914F6CDD1DUL);
        var other = new SequencePattern(64, seed: 0x1234);
        replaced.ExpectedWord(3, 0).Should().Be(literal.ExpectedWord(3, 0), "seed 0 stands for the xorshift constant");
        other.ExpectedWord(3, 0).Should().NotBe(literal.ExpectedWord(3, 0));
    }

    [Test]
    public void Expected_word_is_the_word_fill_writes()
    {
        Prop.ForAll(Gen.Choose(1, 300).ToArbitrary(), ArbMap.Default.ArbFor<long>(), (words, seq) =>
        {
            var p = new SequencePattern(words * 8);
            var b = new byte[words * 8];
            p.Fill(b, seq);
            var written = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(b).ToArray();
            return Enumerable.Range(0, words).All(w => written[w] == p.ExpectedWord(seq, w) &&
                                                       (written[w] ^ SequencePattern.KeyOf(seq)) == p.ExpectedWord(0, w));
        }).QuickCheckThrowOnFailure();
    }

    [Test]
    public void A_corruption_report_quotes_the_expected_and_the_received_word()
    {
        var p = new SequencePattern(8192);
        var b = new byte[8192];
        p.Fill(b, 41);
        b[1000 * 8 + 2] ^= 0x10; // word 1000, bit 20
        var c = p.Check(b, 41);
        c.Should().Be(new BufferCheck(BufferVerdict.Corrupted, 41, 41, 1000, p.ExpectedWord(41, 1000), p.ExpectedWord(41, 1000) ^ (1UL << 20)));
    }

    [Test]
    public void An_intact_buffer_reports_no_bad_word()
    {
        var p = new SequencePattern(64);
        var b = new byte[64];
        p.Fill(b, -3);
        p.Check(b, -3).Should().Be(new BufferCheck(BufferVerdict.Ok, -3, -3, -1, 0, 0));
    }

    [Test]
    public void A_buffer_whose_first_word_is_corrupted_decodes_to_a_number_that_does_not_fit_and_stays_corrupted()
    {
        // The decoded number comes from word 0; when word 0 is the corrupted one, the other words disagree with it.
        var p = new SequencePattern(256);
        var b = new byte[256];
        p.Fill(b, 9);
        b[0] ^= 1;
        var c = p.Check(b, 9);
        c.Verdict.Should().Be(BufferVerdict.Corrupted);
        c.FirstBadWord.Should().Be(0);
        c.Found.Should().NotBe(9);
    }

    [Test]
    public void Fill_refuses_a_destination_of_another_size()
    {
        var p = new SequencePattern(64);
        FluentActions.Invoking(() => p.Fill(new byte[56], 0)).Should().Throw<ArgumentException>()
            .WithMessage("buffer is 56 bytes; the pattern is for 64-byte buffers*").Which.ParamName.Should().Be("buffer");
        FluentActions.Invoking(() => p.Check(new byte[72], 0)).Should().Throw<ArgumentException>()
            .WithMessage("buffer is 72 bytes; the pattern is for 64-byte buffers*").Which.ParamName.Should().Be("buffer");
    }

    [Test]
    public void Bits_differing_counts_every_differing_bit()
    {
        SequencePattern.BitsDiffering(0, 0).Should().Be(0);
        SequencePattern.BitsDiffering(0, ulong.MaxValue).Should().Be(64);
        SequencePattern.BitsDiffering(0xF0, 0x0F).Should().Be(8);
    }
}
