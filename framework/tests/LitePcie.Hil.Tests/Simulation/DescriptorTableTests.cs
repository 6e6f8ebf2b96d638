using FluentAssertions;
using FsCheck;
using FsCheck.Fluent;
using LitePcie.Hil.Simulation.Gateware;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Simulation;

/// <summary>
/// The scatter-gather table on its own (docs/gateware.md#dma-engines): FIFO order, the staged descriptor's fields, the
/// 'first' mark, dropped pushes, and <c>loop_status</c> in loop and prog mode, including the law
/// <c>count·N + index = k − 1</c> after a table reset. Mutation testing found these unguarded through the register
/// interface alone (docs/mutation.md).
/// </summary>
[TestFixture]
public sealed class DescriptorTableTests
{
    private static void Stage(DescriptorTable t, uint control, uint addressLsb) => t.Staged = ((ulong)control << 32) | addressLsb;

    private static DescriptorTable Loop(int depth, int entries, bool afterTableReset)
    {
        var t = new DescriptorTable(depth);
        t.PowerOnReset();
        if (afterTableReset)
        {
            t.Reset();
        }

        for (int i = 0; i < entries; i++)
        {
            Stage(t, 4096, (uint)(0x1000 * (i + 1)));
            t.Push(0, 32);
        }

        t.LoopMode = true;
        return t;
    }

    [Test]
    public void A_push_takes_length_flags_and_address_from_the_staged_value_and_the_msb_register()
    {
        var t = new DescriptorTable(4);
        Stage(t, 0x0000_2000 | Descriptor.IrqDisable, 0x8765_4320);
        t.Push(0x12, 64);
        Stage(t, 0x0000_1000 | Descriptor.LastDisable, 0x0000_1000);
        t.Push(0x12, 32);

        var d0 = t.Pop();
        d0.Should().Be(new Descriptor(0x0000_2000 | Descriptor.IrqDisable, 0x12_8765_4320UL, First: true));
        d0.Length.Should().Be(0x2000);
        d0.IrqDisabled.Should().BeTrue();
        d0.LastDisabled.Should().BeFalse();

        var d1 = t.Pop();
        d1.Address.Should().Be(0x1000UL, "a 32-bit design ignores address_msb");
        d1.First.Should().BeFalse("pushed into a non-empty table");
        d1.IrqDisabled.Should().BeFalse();
        d1.LastDisabled.Should().BeTrue();
        d1.Length.Should().Be(0x1000);
        new Descriptor(0xFFFF_FFFF, 0, false).Length.Should().Be(0xFF_FFFF, "length is bits 23:0 of the control word");
    }

    [Test]
    public void Prog_mode_is_a_fifo_that_drops_pushes_into_a_full_table()
    {
        var t = new DescriptorTable(3);
        t.Depth.Should().Be(3);
        t.IsEmpty.Should().BeTrue();
        for (uint i = 1; i <= 5; i++)
        {
            Stage(t, 64, 0x1000 * i);
            t.Push(0, 32);
        }

        t.Level.Should().Be(3, "two pushes into a full table are silently dropped");
        t.IsEmpty.Should().BeFalse();
        t.Peek().Address.Should().Be(0x1000UL);
        t.Pop().Address.Should().Be(0x1000UL);
        t.Level.Should().Be(2);
        Stage(t, 64, 0x9000);
        t.Push(0, 32);
        new[] { t.Pop().Address, t.Pop().Address, t.Pop().Address }.Should().Equal(0x2000UL, 0x3000UL, 0x9000UL);
        t.IsEmpty.Should().BeTrue();
    }

    [Test]
    public void Prog_mode_loop_status_counts_pops_and_carries_into_count_when_the_index_wraps()
    {
        var t = new DescriptorTable(1);
        for (int k = 1; k <= 65537; k++)
        {
            Stage(t, 64, 0x1000);
            t.Push(0, 32);
            t.Pop();
            if (k is 1 or 2 or 65535 or 65536 or 65537)
            {
                (t.Index, t.Count).Should().Be(((ushort)(k % 65536), (ushort)(k / 65536)), $"after {k} prog-mode pops");
            }
        }

        t.LoopStatus.Should().Be((1u << 16) | 1u, "bits 31:16 count, bits 15:0 index");
    }

    [Test]
    public void Loop_mode_re_pushes_every_pop_and_ignores_writes()
    {
        var t = Loop(depth: 8, entries: 3, afterTableReset: true);
        Stage(t, 64, 0xDEAD_0000);
        t.Push(0, 32);
        t.Level.Should().Be(3, "table_we is ignored in loop mode");
        var seen = Enumerable.Range(0, 7).Select(_ => t.Pop()).ToList();
        seen.Select(d => d.Address).Should().Equal(0x1000UL, 0x2000UL, 0x3000UL, 0x1000UL, 0x2000UL, 0x3000UL, 0x1000UL);
        // The 'first' mark travels with the descriptor.
        seen.Select(d => d.First).Should().Equal(true, false, false, true, false, false, true);
        t.Level.Should().Be(3);
    }

    [Test]
    public void Loop_status_follows_the_simulation_trace_of_the_rtl()
    {
        // docs/gateware.md#dma-engines: a 4-entry ring after a table reset, pops 1..10.
        var t = Loop(depth: 16, entries: 4, afterTableReset: true);
        var trace = Enumerable.Range(0, 10).Select(_ =>
        {
            t.Pop();
            return (int)t.Index * 10 + t.Count;
        }).ToList();
        trace.Should().Equal(0, 10, 20, 30, 1, 11, 21, 31, 2, 12);
    }

    [Test]
    public void Loop_status_law_after_a_table_reset()
    {
        Prop.ForAll(Gen.Choose(1, 16).ToArbitrary(), Gen.Choose(1, 200).ToArbitrary(), (n, k) =>
        {
            var t = Loop(depth: 16, entries: n, afterTableReset: true);
            for (int i = 0; i < k; i++)
            {
                t.Pop();
            }

            return (t.Count * n + t.Index == k - 1 && t.Index < n && t.LoopStatus == ((uint)t.Count << 16 | t.Index))
                .Label($"{n} entries, {k} pops: index {t.Index}, count {t.Count}");
        }).QuickCheckThrowOnFailure();
    }

    [Test]
    public void Without_a_table_reset_since_power_on_the_first_pop_of_the_first_descriptor_counts_a_loop()
    {
        // loop_first is 0 at power-on; only a table reset sets it.
        var t = Loop(depth: 8, entries: 2, afterTableReset: false);
        t.Pop();
        (t.Index, t.Count).Should().Be(((ushort)0, (ushort)1));
        t.Pop();
        t.Pop();
        (t.Index, t.Count).Should().Be(((ushort)0, (ushort)2));
    }

    [Test]
    public void A_table_reset_empties_the_table_and_clears_loop_status()
    {
        var t = Loop(depth: 8, entries: 3, afterTableReset: true);
        for (int i = 0; i < 5; i++)
        {
            t.Pop();
        }

        t.LoopStatus.Should().NotBe(0u);
        t.Reset();
        t.IsEmpty.Should().BeTrue();
        t.Level.Should().Be(0);
        t.LoopStatus.Should().Be(0u);
        t.LoopMode.Should().BeTrue("a table reset does not leave loop mode");

        t.LoopMode = false;
        Stage(t, 64, 0x5000);
        t.Push(0, 32);
        t.Peek().Should().Be(new Descriptor(64, 0x5000, First: true), "the head restarts at slot 0 and is first in an empty table");
    }

    [Test]
    public void A_power_on_reset_leaves_loop_mode_and_keeps_the_reset_less_staging_register()
    {
        var t = Loop(depth: 4, entries: 2, afterTableReset: true);
        t.Pop();
        t.Staged = 0x1234_5678_9ABC_DEF0;
        t.PowerOnReset();
        t.LoopMode.Should().BeFalse();
        t.IsEmpty.Should().BeTrue();
        t.LoopStatus.Should().Be(0u);
        t.Staged.Should().Be(0x1234_5678_9ABC_DEF0UL);
    }
}
