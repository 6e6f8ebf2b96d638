using System.Text.Json;
using LitePcie.Hil.Boards;

namespace LitePcie.Hil.Simulation.Gateware;

/// <summary>
/// Build options of a board's gateware that its csr.json does not carry, from the board's <c>gateware.json</c> (what
/// rtl/generate.py elaborates): buffering depth, the endpoint's max pending requests, and whether ctrl_reset reaches the
/// logic (a LiteX SoC's CRG has a reset, LitePCIe's standalone core none). Without the file: LitePCIe's defaults, and a
/// standalone core when the identifier says so.
/// </summary>
internal sealed record GatewareBuild(int BufferingDepth, int MaxPendingRequests, bool SocResetWired)
{
    public static GatewareBuild Of(BoardProfile profile)
    {
        string path = Path.Combine(Path.GetDirectoryName(profile.Path)!, "gateware.json");
        bool standalone = (profile.CsrMap.Identifier ?? "").StartsWith("LitePCIe standalone core", StringComparison.Ordinal);
        if (!File.Exists(path))
        {
            return new GatewareBuild(8192, 4, !standalone);
        }

        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var root = doc.RootElement;
        int Int(string name, int fallback) => root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : fallback;
        string flow = root.TryGetProperty("flow", out var f) ? f.GetString() ?? "" : "";
        return new GatewareBuild(Int("dma_buffering", 1024), Int("ep_max_pending_requests", flow == "soc" ? 8 : 4), flow == "soc");
    }
}
