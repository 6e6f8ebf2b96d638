using System.Diagnostics;
using FluentAssertions;
using FluentAssertions.Execution;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Fixtures;
using LitePcie.Hil.Fixtures.Allure;
using LitePcie.Hil.Measurement;
using LitePcie.Hil.Pci;
using LitePcie.Hil.Reporting.Charts;
using NUnit.Framework;

namespace LitePcie.Hil.Suites.Bar;

/// <summary>
/// HIL-03 (docs/checklist.md#hil-03) and the pci_endpoint_test BAR tests: the CSR BAR's scratch and read-only registers, the bus-error
/// counter, every memory BAR filled with its own pattern, cross-BAR aliasing, refused accesses, and the
/// register access latency distribution. Tests that write ctrl_scratch restore it.
/// </summary>
[TestFixtureSource(typeof(BoardSource), nameof(BoardSource.Targets))]
[Category("Bar")]
[Feature("BAR access")]
[Severity(AllureSeverity.Critical)]
public sealed class BarSuite(BoardTarget target) : DeviceSuite(target)
{
    private CsrRegister Scratch => Context.Map.Layout.Ctrl.Scratch;

    // Every test that writes ctrl_scratch restores it, so the reset value holds whatever ran before.
    [Test]
    public void Scratch_holds_its_reset_value_0x12345678()
    {
        Context.Session.Read32(Scratch).Should().Be(CtrlBlock.ScratchResetValue,
            "ctrl_scratch after the driver's SoC reset at probe (HIL-03; the reset value doubles as an endianness check)");
    }

    [Test]
    public void Scratch_walking_ones() => WalkScratch(ones: true);

    [Test]
    public void Scratch_walking_zeros() => WalkScratch(ones: false);

    [Test]
    public void Scratch_round_trips_0xDEADBEEF_and_0x12345678()
    {
        WithScratchRestored(() =>
        {
            foreach (uint value in new[] { 0xDEADBEEFu, 0x12345678u, 0u, 0xFFFFFFFFu })
            {
                Context.Session.Write(Scratch, value);
                uint read = Context.Session.Read32(Scratch);
                read.Should().Be(value, $"ctrl_scratch after writing 0x{value:X8} (differing bits 0x{read ^ value:X8}){StuckBits(value, read)}");
            }
        });
    }

    [Test]
    public void Read_only_registers_ignore_writes()
    {
        var l = Context.Map.Layout;
        var candidates = new List<CsrRegister?> { l.Ctrl.BusErrors, l.Phy?.LinkStatus, l.Phy?.MaxPayloadSize, l.Phy?.MaxRequestSize, l.Phy?.BusMasterEnable };
        using var scope = new AssertionScope();
        foreach (var reg in candidates.OfType<CsrRegister>().Where(r => r.Access == CsrAccess.ReadOnly && r.Words == 1))
        {
            uint before = Context.Session.Read32(reg);
            Context.Session.Write(reg, ~before);
            uint after = Context.Session.Read32(reg);
            after.Should().Be(before, $"{reg.Name} is ro: writing 0x{~before:X8} must not change it");
        }

        uint identifierWord = Context.Session.ReadCsr(Context.Map.ToBarOffset(l.Identifier.BaseAddress));
        Context.Session.WriteCsr(Context.Map.ToBarOffset(l.Identifier.BaseAddress), identifierWord ^ 0xFF);
        Context.Session.ReadCsr(Context.Map.ToBarOffset(l.Identifier.BaseAddress)).Should().Be(identifierWord, "identifier_mem is a ROM");
    }

    [Test]
    public void Bus_errors_do_not_count_in_normal_use()
    {
        var busErrors = Context.Map.Layout.Ctrl.BusErrors;
        if (busErrors is null)
        {
            Assert.Ignore("the design has no ctrl_bus_errors");
        }

        uint before = Context.Session.Read32(busErrors);
        WithScratchRestored(() =>
        {
            for (int i = 0; i < 1000; i++)
            {
                Context.Session.Write(Scratch, (uint)i);
                _ = Context.Session.Read32(Scratch);
            }

            _ = Context.Session.ReadIdentifier();
            _ = Context.Session.ReadLinkStatus();
        });
        Context.Session.Read32(busErrors).Should().Be(before, "ctrl_bus_errors must not move during 2000 valid CSR accesses and an identifier read");
    }

    /// <summary>
    /// Regions of BAR0 besides the CSRs (the map's memories, e.g. the user Wishbone window <c>mmap</c>) are decoded: a read
    /// at their first and last word answers without a bus error, while a read in the gap past the CSR region (decoded by
    /// nothing) counts one. Read-only: what sits behind a user region belongs to the design.
    /// </summary>
    [Test]
    public void Extra_regions_of_bar0_are_decoded_apart_from_the_csrs()
    {
        var map = Context.Map;
        var busErrors = map.Layout.Ctrl.BusErrors ?? throw new IgnoreException("the design has no ctrl_bus_errors to tell a decoded address from an undecoded one");
        ulong bar0 = Context.Profile.CsrBar.Size;
        var regions = map.Memories.Where(m => m.Key != "csr" && m.Value.Base >= map.CsrBase && m.Value.Base - map.CsrBase + m.Value.Size <= bar0).ToList();
        if (regions.Count == 0)
        {
            Assert.Ignore($"{Context.Profile.Name} has no region in BAR0 besides the CSRs (csr.json memories)");
        }

        using var scope = new AssertionScope();
        foreach (var (name, region) in regions)
        {
            uint before = Context.Session.Read32(busErrors);
            uint first = (uint)(region.Base - map.CsrBase);
            uint last = first + (uint)region.Size - 4;
            Context.Step($"read {name} at BAR0 +0x{first:X} and +0x{last:X}", () =>
            {
                _ = Context.Session.ReadCsr(first);
                _ = Context.Session.ReadCsr(last);
            });
            Context.Session.Read32(busErrors).Should().Be(before, $"{name} (BAR0 +0x{first:X}..+0x{last + 3:X}) is a region of the map: reading it is no bus error");
        }

        // The gap after the CSR region, before any other region: decoded by nothing.
        uint csrEnd = (uint)(map.CsrRegionSize ?? 0);
        if (csrEnd > 0 && csrEnd + 4 <= bar0 && !regions.Any(r => r.Value.Base - map.CsrBase <= csrEnd && csrEnd < r.Value.Base - map.CsrBase + r.Value.Size))
        {
            uint before = Context.Session.Read32(busErrors);
            uint value = Context.Session.ReadCsr(csrEnd);
            Context.Session.Read32(busErrors).Should().Be(before + 1, $"BAR0 +0x{csrEnd:X}, past the CSR region and outside every region, is decoded by nothing: one bus error (read 0x{value:X8})");
        }
    }

    [Test]
    public void Every_memory_bar_holds_its_own_pattern()
    {
        var bars = MemoryBars();
        if (bars.Count == 0)
        {
            Assert.Ignore($"{Context.Profile.Name} has no memory BAR besides the CSR BAR");
        }

        foreach (var bar in bars)
        {
            ulong bytes = Context.Options.Register.BarPatternBytes == 0 ? bar.Size : Math.Min((ulong)Context.Options.Register.BarPatternBytes, bar.Size);
            uint basePattern = 0xA0A0A0A0u + (uint)bar.Index * 0x01010101u;
            Context.Step($"fill BAR{bar.Index} ({bytes} bytes)", () =>
            {
                for (ulong off = 0; off < bytes; off += 4)
                {
                    Context.Session.WriteBar(bar.Index, off, basePattern ^ (uint)off);
                }
            });
            Context.Step($"read back BAR{bar.Index}", () =>
            {
                for (ulong off = 0; off < bytes; off += 4)
                {
                    uint got = Context.Session.ReadBar(bar.Index, off);
                    uint expected = basePattern ^ (uint)off;
                    if (got != expected)
                    {
                        got.Should().Be(expected, $"BAR{bar.Index} +0x{off:X} after filling the BAR with its pattern (0x{basePattern:X8} ^ offset)");
                    }
                }
            });
        }
    }

    [Test]
    public void Bars_do_not_alias_each_other()
    {
        var bars = MemoryBars();
        if (bars.Count == 0)
        {
            Assert.Ignore($"{Context.Profile.Name} has a single BAR: no cross-BAR aliasing to test");
        }

        // pci_endpoint_test's CONSECUTIVE_BAR_TEST: write everything first, then read everything back. Each word
        // carries its BAR number in the top byte; BAR0's representative is ctrl_scratch (the other CSRs are not ours).
        uint scratchOffset = Context.Map.BarOffsetOf(Scratch);
        uint scratchTag = 0x00C0_0000u | scratchOffset;
        WithScratchRestored(() =>
        {
            var offsets = new List<ulong>();
            Context.Step("write every BAR", () =>
            {
                foreach (var bar in bars)
                {
                    ulong span = Math.Min(bar.Size, 64 * 1024);
                    for (ulong off = 0; off < span; off += 4)
                    {
                        Context.Session.WriteBar(bar.Index, off, Tag(bar.Index, off));
                    }

                    offsets.Add(span);
                }

                Context.Session.Write(Scratch, scratchTag);
            });
            Context.Step("read every BAR back", () =>
            {
                using var scope = new AssertionScope();
                uint scratch = Context.Session.Read32(Scratch);
                scratch.Should().Be(scratchTag, $"ctrl_scratch (BAR0 +0x{scratchOffset:X}) after writing every BAR: a value tagged BAR{scratch >> 24} means that BAR aliases BAR0");
                for (int b = 0; b < bars.Count; b++)
                {
                    // The decisive probe: the BAR at the scratch offset must hold its own tag, not BAR0's scratch.
                    if (scratchOffset < offsets[b] && Context.Session.ReadBar(bars[b].Index, scratchOffset) == scratchTag)
                    {
                        throw new AssertionException($"BAR{bars[b].Index} +0x{scratchOffset:X} reads BAR0's ctrl_scratch value 0x{scratchTag:X8} " +
                            $"instead of its own tag 0x{Tag(bars[b].Index, scratchOffset):X8}: BAR{bars[b].Index} aliases BAR0");
                    }

                    for (ulong off = 0; off < offsets[b]; off += 4)
                    {
                        uint got = Context.Session.ReadBar(bars[b].Index, off);
                        if (got != Tag(bars[b].Index, off))
                        {
                            got.Should().Be(Tag(bars[b].Index, off),
                                $"BAR{bars[b].Index} +0x{off:X} must read back its own tag after every BAR was written; 0x{got:X8} is another BAR's data or a lost write (aliasing or decode fault)");
                            break;
                        }
                    }
                }
            });
        });
    }

    [Test]
    [Spec("P16")]
    public void Out_of_range_and_misaligned_accesses_are_refused_with_the_named_error()
    {
        ulong bar0 = Context.Profile.CsrBar.Size;
        foreach (ulong offset in new[] { bar0, bar0 + 4, 0xFFFF_FFFCUL, 2UL, bar0 - 2 })
        {
            var e = FluentActions.Invoking(() => Context.Session.ReadCsr((uint)Math.Min(offset, uint.MaxValue)))
                .Should().Throw<DeviceArgumentException>($"a CSR read at BAR0 +0x{offset:X} (BAR0 is 0x{bar0:X} bytes)").Which;
            e.Code.Should().Be(DeviceErrorCode.BadArgument);
            e.Parameter.Should().Contain("offset", "the error names the refused parameter");
            Context.Log($"BAR0 +0x{offset:X}: {e.Message}");
        }

        foreach (var bar in MemoryBars())
        {
            FluentActions.Invoking(() => Context.Session.WriteBar(bar.Index, bar.Size, 0))
                .Should().Throw<DeviceArgumentException>($"a write at BAR{bar.Index} +0x{bar.Size:X}, one past its end").Which.Parameter.Should().Contain("offset");
            FluentActions.Invoking(() => Context.Session.ReadBar(bar.Index, 6))
                .Should().Throw<DeviceArgumentException>($"a misaligned read at BAR{bar.Index} +0x6");
        }
    }

    [Test]
    [Severity(AllureSeverity.Normal)]
    public void Register_access_latency_percentiles_are_recorded()
    {
        int n = Context.Options.Register.LatencySamples;
        var reads = new LatencySamples(n);
        var writes = new LatencySamples(n);
        WithScratchRestored(() =>
        {
            for (int i = 0; i < n; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                _ = Context.Session.Read32(Scratch);
                reads.AddSince(t0);
                long t1 = Stopwatch.GetTimestamp();
                Context.Session.Write(Scratch, (uint)i);
                writes.AddSince(t1);
            }
        });
        var r = reads.Summarize();
        var w = writes.Summarize();
        Context.Log($"ctrl_scratch read latency:  {r}");
        Context.Log($"ctrl_scratch write latency: {w}");
        Context.AttachText("register latency", $"backend {Target}\nread  {r}\nwrite {w}\n");
        Context.AttachSvg("ctrl_scratch read latency histogram", ReportCharts.Latency(reads, $"ctrl_scratch read latency, {Target} ({r.Count} samples)"));
        Context.AttachSvg("ctrl_scratch write latency histogram", ReportCharts.Latency(writes, $"ctrl_scratch write latency, {Target} ({w.Count} samples)"));
        Context.AttachCsv("read latency samples", reads.ToCsv());
        r.Count.Should().Be(n, "every read was timed");
        w.Count.Should().Be(n, "every write was timed");
        using var scope = new AssertionScope();
        r.P99Us.Should().BeLessThanOrEqualTo(Context.Options.Register.RegisterMaxLatencyUs, $"p99 of a ctrl_scratch read through {Context.Session.Info.Driver} bound by RegisterMaxLatencyUs ({r})");
        w.P99Us.Should().BeLessThanOrEqualTo(Context.Options.Register.RegisterMaxLatencyUs, $"p99 of a ctrl_scratch write through {Context.Session.Info.Driver} bound by RegisterMaxLatencyUs ({w})");
    }

    private static uint Tag(int bar, ulong offset) => ((uint)bar << 24) | (uint)(offset & 0xFFFFFF);

    private List<BarInfo> MemoryBars() =>
        [.. Context.Session.Info.Bars.Where(b => b.Index != Context.Profile.CsrBar.Index && b.Kind != PciBarKind.Io)];

    private void WalkScratch(bool ones)
    {
        WithScratchRestored(() =>
        {
            using var scope = new AssertionScope();
            for (int bit = 0; bit < 32; bit++)
            {
                uint value = ones ? 1u << bit : ~(1u << bit);
                Context.Session.Write(Scratch, value);
                uint read = Context.Session.Read32(Scratch);
                read.Should().Be(value, $"ctrl_scratch walking {(ones ? "ones" : "zeros")}, bit {bit}: wrote 0x{value:X8}, read 0x{read:X8}{StuckBits(value, read)}");
            }
        });
    }

    private static string StuckBits(uint written, uint read)
    {
        uint diff = written ^ read;
        if (diff == 0)
        {
            return "";
        }

        var bits = Enumerable.Range(0, 32).Where(b => (diff >> b & 1) != 0)
            .Select(b => $"bit {b} stuck at {(read >> b) & 1}");
        return " (" + string.Join(", ", bits) + ")";
    }

    private void WithScratchRestored(Action action)
    {
        uint saved = Context.Session.Read32(Scratch);
        try
        {
            action();
        }
        finally
        {
            Context.Session.Write(Scratch, saved);
        }
    }
}
