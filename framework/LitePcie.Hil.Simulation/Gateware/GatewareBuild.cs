using System.Text.Json;
using LitePcie.Hil.Boards;

namespace LitePcie.Hil.Simulation.Gateware;

/// <summary>
/// Build options of a board's gateware that its csr.json does not carry, from the board's <c>gateware.json</c> (what
/// rtl/generate.py elaborates): buffering depth, the endpoint's max pending requests, and whether ctrl_reset reaches the
/// logic (a LiteX SoC's CRG has a reset, LitePCIe's standalone core none). Without the file: LitePCIe's defaults, and a
/// standalone core when the identifier says so.
/// </summary>
/// <param name="BufferingDepth">The buffering plugin's depth in bytes (reset value of its fifo_control).</param>
/// <param name="MaxPendingRequests">The endpoint's max_pending_requests.</param>
/// <param name="SocResetWired">Whether ctrl_reset reaches the logic.</param>
/// <param name="SplitStreams">The PHY has separate request and completion streams (UltraScale): a write hogging the
/// request stream does not hold register-read completions.</param>
internal sealed record GatewareBuild(int BufferingDepth, int MaxPendingRequests, bool SocResetWired, bool SplitStreams)
{
    public static GatewareBuild Of(BoardProfile profile)
    {
        string path = Path.Combine(Path.GetDirectoryName(profile.Path)!, "gateware.json");
        bool standalone = (profile.CsrMap.Identifier ?? "").StartsWith("LitePCIe standalone core", StringComparison.Ordinal);
        var family = profile.PhyFamilyOverride ?? profile.CsrMap.Layout.Phy?.Family ?? LitePcie.Hil.Csr.PhyFamily.Unknown;
        bool split = family is LitePcie.Hil.Csr.PhyFamily.UltraScale or LitePcie.Hil.Csr.PhyFamily.UltraScalePlus;
        if (!File.Exists(path))
        {
            return new GatewareBuild(8192, 4, !standalone, split);
        }

        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var root = doc.RootElement;
        int Int(string name, int fallback) => root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : fallback;
        string flow = root.TryGetProperty("flow", out var f) ? f.GetString() ?? "" : "";
        return new GatewareBuild(Int("dma_buffering", 1024), Int("ep_max_pending_requests", flow == "soc" ? 8 : 4), flow == "soc", split);
    }
}
