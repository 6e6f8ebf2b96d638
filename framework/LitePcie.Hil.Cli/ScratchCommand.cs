using System.CommandLine;
using System.Text.Json.Nodes;
using LitePcie.Hil.Csr;

namespace LitePcie.Hil.Cli;

/// <summary>
/// <c>litepcie-hil scratch</c>: litepcie_util's scratch_test with a verdict. Writes ctrl_scratch and reads it back
/// for 0x12345678 and 0xDEADBEEF (as litepcie_util), all-zeros/all-ones, 0xA5A5A5A5/0x5A5A5A5A, walking ones and
/// walking zeros; names stuck bits; restores the register. Exit 1 on any mismatch.
/// </summary>
internal static class ScratchCommand
{
    public static Command Create(CliIo io) =>
        DeviceCommand.Create("scratch", "Write/read-back test of ctrl_scratch (walking ones/zeros, 0xDEADBEEF…); exit 1 on mismatch", io, [], RunAsync);

    /// <summary>The patterns in the order written: (group, value).</summary>
    internal static IReadOnlyList<(string Group, uint Value)> Patterns() =>
    [
        ("fixed", 0x12345678u), ("fixed", 0xDEADBEEFu), ("fixed", 0x00000000u), ("fixed", 0xFFFFFFFFu), ("fixed", 0xA5A5A5A5u), ("fixed", 0x5A5A5A5Au),
        .. Enumerable.Range(0, 32).Select(b => ("walking ones", 1u << b)),
        .. Enumerable.Range(0, 32).Select(b => ("walking zeros", ~(1u << b))),
    ];

    private static async Task<int> RunAsync(CommandContext ctx)
    {
        await using var bench = await Bench.OpenAsync(ctx.Request, ctx.Cancel).ConfigureAwait(false);
        var session = await bench.SessionAsync(ctx.Cancel).ConfigureAwait(false);
        await using (session.ConfigureAwait(false))
        {
            var scratch = session.Map.Layout.Ctrl.Scratch;
            uint saved = session.Read32(scratch);
            var results = new List<(string Group, uint Wrote, uint Read)>();
            try
            {
                foreach (var (group, value) in Patterns())
                {
                    session.Write(scratch, value);
                    results.Add((group, value, session.Read32(scratch)));
                }
            }
            finally
            {
                if (!session.IsDeviceGone)
                {
                    session.Write(scratch, saved);
                }
            }

            // A bit stuck at 0 never reads 1 where 1 was written; stuck at 1 never reads 0 where 0 was written.
            uint seenOne = 0, seenZero = 0, wroteOne = 0, wroteZero = 0;
            foreach (var (_, w, r) in results)
            {
                (wroteOne, wroteZero) = (wroteOne | w, wroteZero | ~w);
                (seenOne, seenZero) = (seenOne | (r & w), seenZero | (~r & ~w));
            }

            uint stuck0 = wroteOne & ~seenOne, stuck1 = wroteZero & ~seenZero;
            var bad = results.Where(r => r.Wrote != r.Read).ToList();
            var c = ctx.Console;
            c.Line($"ctrl_scratch at BAR0+0x{session.Map.ToBarOffset(scratch.Address):X4} on {session.Info.Device.Backend}:{session.Info.Device.Address} (was {Text.Hex32(saved)}, restored)");
            foreach (var (_, w, r) in results.Where(r => r.Group == "fixed"))
            {
                c.Line($"  write {Text.Hex32(w)}  read {Text.Hex32(r)}  {(w == r ? "ok" : $"MISMATCH (xor {Text.Hex32(w ^ r)})")}");
            }

            foreach (var group in new[] { "walking ones", "walking zeros" })
            {
                var g = results.Where(r => r.Group == group).ToList();
                var failed = g.Where(r => r.Wrote != r.Read).ToList();
                string shown = string.Join(", ", failed.Take(4).Select(f => $"wrote {Text.Hex32(f.Wrote)} read {Text.Hex32(f.Read)}"));
                c.Line($"  {group,-13} {g.Count - failed.Count}/{g.Count} ok{(failed.Count == 0 ? "" : $": {shown}{(failed.Count > 4 ? $" (+{failed.Count - 4} more)" : "")}")}");
            }

            string stuck = Stuck(stuck0, stuck1);
            if (stuck.Length > 0)
            {
                c.Line($"  stuck bits: {stuck}");
            }

            bool passed = bad.Count == 0;
            c.Verdict(passed, $"scratch: {results.Count} write/read-backs, {bad.Count} mismatch(es): {(passed ? "PASS" : "FAIL")}");
            c.Document(new JsonObject
            {
                ["command"] = "scratch",
                ["address"] = session.Info.Device.Address,
                ["passed"] = passed,
                ["writes"] = results.Count,
                ["mismatches"] = new JsonArray([.. bad.Select(b => (JsonNode)new JsonObject { ["wrote"] = Text.Hex32(b.Wrote), ["read"] = Text.Hex32(b.Read) })]),
                ["stuckAt0"] = Text.Hex32(stuck0),
                ["stuckAt1"] = Text.Hex32(stuck1),
            });
            return passed ? ExitCodes.Success : ExitCodes.TestFailed;
        }
    }

    private static string Stuck(uint stuck0, uint stuck1)
    {
        var parts = Enumerable.Range(0, 32).Where(b => (stuck0 >> b & 1) != 0).Select(b => $"bit {b} stuck at 0")
            .Concat(Enumerable.Range(0, 32).Where(b => (stuck1 >> b & 1) != 0).Select(b => $"bit {b} stuck at 1"));
        return string.Join(", ", parts);
    }
}
