using System.Globalization;
using System.Text.Json;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Pci;

namespace LitePcie.Hil.Boards;

/// <summary>What a BAR of a board is for.</summary>
public enum BarRole
{
    /// <summary>BAR0: the LiteX CSR space.</summary>
    Csr,

    /// <summary>A memory window (e.g. BAR2 on multi-BAR designs such as XEM8320/AXAU15).</summary>
    Memory,
}

/// <summary>The user-side source feeding the DMA writer when loopback is off.</summary>
public enum UserWriterSource
{
    /// <summary>Unknown or nothing: writer-only DMA cannot be verified on this board.</summary>
    None,

    /// <summary>A generator producing the suites' <c>SequencePattern</c> (default seed), buffer after buffer from 0.</summary>
    SequencePattern,
}

/// <summary>What the user side does with the DMA reader's stream when loopback is off.</summary>
public enum UserReaderSink
{
    /// <summary>Unknown or nothing: reader-only DMA may stall.</summary>
    None,

    /// <summary>Always ready; the data is dropped (reader-only runs, its data cannot be checked).</summary>
    Discard,
}

/// <summary>A BAR a board is expected to expose.</summary>
public sealed record BoardBar(int Index, PciBarKind Kind, ulong Size, bool Prefetchable, BarRole Role);

/// <summary>
/// A board profile: what a given LitePCIe board is expected to look like (PCI identity, link, BARs,
/// interrupts, DMA geometry) and which CSR map its bitstream was built with. Profiles are JSON files
/// (<c>fixtures/boards/&lt;name&gt;/profile.json</c>).
/// </summary>
public sealed class BoardProfile
{
    private readonly Lazy<CsrMap> _map;

    private BoardProfile(string path, string name, string description, ushort vendorId, ushort deviceId,
        ushort subsystemVendorId, ushort subsystemId, byte revision, uint classCode, PciLinkSpeed linkSpeed, int linkWidth,
        IReadOnlyList<BoardBar> bars, int msiVectors, bool msi64Bit, int msiXTableSize, int maxPayloadSize,
        int maxReadRequestSize, DmaRingGeometry geometry, int dataWidthBits, string csrMapPath, PhyFamily? phyOverride,
        UserWriterSource writerSource, UserReaderSink readerSink)
    {
        WriterSource = writerSource;
        ReaderSink = readerSink;
        Path = path;
        Name = name;
        Description = description;
        VendorId = vendorId;
        DeviceId = deviceId;
        SubsystemVendorId = subsystemVendorId;
        SubsystemId = subsystemId;
        Revision = revision;
        ClassCode = classCode;
        LinkSpeed = linkSpeed;
        LinkWidth = linkWidth;
        Bars = bars;
        MsiVectors = msiVectors;
        Msi64Bit = msi64Bit;
        MsiXTableSize = msiXTableSize;
        MaxPayloadSize = maxPayloadSize;
        MaxReadRequestSize = maxReadRequestSize;
        DmaGeometry = geometry;
        DataWidthBits = dataWidthBits;
        CsrMapPath = csrMapPath;
        PhyFamilyOverride = phyOverride;
        _map = new Lazy<CsrMap>(() => CsrMap.Load(CsrMapPath, PhyFamilyOverride));
    }

    /// <summary>Profile file.</summary>
    public string Path { get; }

    /// <summary>Profile name (directory name by convention).</summary>
    public string Name { get; }

    /// <summary>Human description.</summary>
    public string Description { get; }

    /// <summary>Vendor ID the function must report.</summary>
    public ushort VendorId { get; }

    /// <summary>Device ID the function must report.</summary>
    public ushort DeviceId { get; }

    /// <summary>Subsystem vendor ID the function must report.</summary>
    public ushort SubsystemVendorId { get; }

    /// <summary>Subsystem ID the function must report.</summary>
    public ushort SubsystemId { get; }

    /// <summary>Revision ID the function must report (0 for litepcie.ko to bind).</summary>
    public byte Revision { get; }

    /// <summary>24-bit class code.</summary>
    public uint ClassCode { get; }

    /// <summary>Expected negotiated link speed (also the advertised maximum).</summary>
    public PciLinkSpeed LinkSpeed { get; }

    /// <summary>Expected negotiated link width (also the advertised maximum).</summary>
    public int LinkWidth { get; }

    /// <summary>Expected BARs.</summary>
    public IReadOnlyList<BoardBar> Bars { get; }

    /// <summary>MSI vectors advertised (0 when the board uses MSI-X only).</summary>
    public int MsiVectors { get; }

    /// <summary>Whether the MSI capability is 64-bit.</summary>
    public bool Msi64Bit { get; }

    /// <summary>MSI-X table size (0 = no MSI-X).</summary>
    public int MsiXTableSize { get; }

    /// <summary>Max payload size the function supports (bytes).</summary>
    public int MaxPayloadSize { get; }

    /// <summary>Max read request size programmed by the host (bytes).</summary>
    public int MaxReadRequestSize { get; }

    /// <summary>DMA ring geometry the driver uses.</summary>
    public DmaRingGeometry DmaGeometry { get; }

    /// <summary>DMA stream data width in bits.</summary>
    public int DataWidthBits { get; }

    /// <summary>Absolute path of the board's csr.json/csr.csv.</summary>
    public string CsrMapPath { get; }

    /// <summary>What the board's user logic feeds the DMA writer when loopback is off.</summary>
    public UserWriterSource WriterSource { get; }

    /// <summary>What the board's user logic does with the DMA reader's stream when loopback is off.</summary>
    public UserReaderSink ReaderSink { get; }

    /// <summary>PHY family when the map does not say (csr.csv has no cores section).</summary>
    public PhyFamily? PhyFamilyOverride { get; }

    /// <summary>The BAR holding the CSRs.</summary>
    public BoardBar CsrBar => Bars.First(b => b.Role == BarRole.Csr);

    /// <summary>The board's CSR map (loaded once).</summary>
    public CsrMap CsrMap => _map.Value;

    /// <inheritdoc />
    public override string ToString() => $"{Name} ({VendorId:x4}:{DeviceId:x4}, {LinkSpeed.Describe()} x{LinkWidth})";

    /// <summary>
    /// Why a CSR map is refused where a profile belongs. Not accepted with defaults on purpose: the IDs, link, BARs
    /// and DMA geometry are what every check compares the board against, and a csr.json says none of them.
    /// </summary>
    private static string NotAProfile(string kind) =>
        $"this is a LiteX {kind} (the CSR map of a bitstream), not a board profile: a profile.json gives the PCI IDs, link, BARs and DMA geometry " +
        $"the checks compare against and names the map in its \"csrMap\" field — copy fixtures/boards/{BoardCatalog.DefaultBoard}/profile.json " +
        $"beside it and edit those fields (only board-header takes a {kind} directly)";

    /// <summary>Loads and validates a profile; every problem is reported at once, naming the field and accepted range.</summary>
    public static BoardProfile Load(string path)
    {
        string full = System.IO.Path.GetFullPath(path);
        string text;
        try
        {
            text = File.ReadAllText(full);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BoardProfileException(full, [$"cannot read the file: {e.Message}"]);
        }

        if (full.EndsWith(".csv", StringComparison.OrdinalIgnoreCase))
        {
            throw new BoardProfileException(full, [NotAProfile("csr.csv")]);
        }

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(text, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new BoardProfileException(full, [$"malformed JSON at {JsonErrors.Describe(e)}"]);
        }

        using (doc)
        {
            // A LiteX CSR map given where a profile belongs: say so once instead of listing every profile field it lacks.
            if (doc.RootElement.ValueKind == JsonValueKind.Object &&
                (doc.RootElement.TryGetProperty("csr_registers", out _) || doc.RootElement.TryGetProperty("csr_bases", out _)))
            {
                throw new BoardProfileException(full, [NotAProfile("csr.json")]);
            }

            var r = new Reader(doc.RootElement);
            string name = r.String("name") ?? System.IO.Path.GetFileName(System.IO.Path.GetDirectoryName(full)) ?? "board";
            string description = r.String("description") ?? "";
            ushort vid = (ushort)r.Integer("pci.vendorId", 0, 0xFFFF, required: true);
            ushort did = (ushort)r.Integer("pci.deviceId", 0, 0xFFFF, required: true);
            ushort svid = (ushort)r.Integer("pci.subsystemVendorId", 0, 0xFFFF, fallback: vid);
            ushort sid = (ushort)r.Integer("pci.subsystemId", 0, 0xFFFF);
            byte rev = (byte)r.Integer("pci.revision", 0, 0xFF);
            uint cls = (uint)r.Integer("pci.classCode", 0, 0xFFFFFF, fallback: 0x058000);
            var speed = (PciLinkSpeed)r.Integer("link.generation", 1, 5, required: true);
            int width = (int)r.Integer("link.width", 1, 16, required: true);
            if (width is not (1 or 2 or 4 or 8 or 16))
            {
                r.Errors.Add($"link.width = {width}: accepted 1, 2, 4, 8 or 16");
            }

            var bars = new List<BoardBar>();
            if (doc.RootElement.TryGetProperty("bars", out var barsElement) && barsElement.ValueKind == JsonValueKind.Array)
            {
                int i = 0;
                foreach (var b in barsElement.EnumerateArray())
                {
                    var br = new Reader(b, $"bars[{i}].", r.Errors);
                    int index = (int)br.Integer("index", 0, 5, required: true);
                    string kindText = br.String("kind") ?? "Memory32";
                    if (!Enum.TryParse<PciBarKind>(kindText, ignoreCase: true, out var kind))
                    {
                        r.Errors.Add($"bars[{i}].kind = '{kindText}': accepted Memory32, Memory64 or Io");
                    }

                    ulong size = (ulong)br.Integer("size", 16, long.MaxValue, required: true);
                    if (size != 0 && (size & (size - 1)) != 0)
                    {
                        r.Errors.Add($"bars[{i}].size = 0x{size:X}: must be a power of two");
                    }

                    string roleText = br.String("role") ?? (index == 0 ? "csr" : "memory");
                    if (!Enum.TryParse<BarRole>(roleText, ignoreCase: true, out var role))
                    {
                        r.Errors.Add($"bars[{i}].role = '{roleText}': accepted csr or memory");
                    }

                    bars.Add(new BoardBar(index, kind, size, br.Bool("prefetchable") ?? false, role));
                    i++;
                }
            }
            else
            {
                r.Errors.Add("bars: required array of BARs (at least BAR0 with role csr)");
            }

            if (bars.Count > 0 && bars.Count(b => b.Role == BarRole.Csr) != 1)
            {
                r.Errors.Add("bars: exactly one BAR must have role 'csr'");
            }

            if (bars.Select(b => b.Index).Distinct().Count() != bars.Count)
            {
                r.Errors.Add("bars: duplicate BAR index");
            }

            if (bars.Any(b => b.Kind == PciBarKind.Memory64 && b.Index == 5))
            {
                r.Errors.Add("bars: a 64-bit BAR cannot start at index 5");
            }

            int msiVectors = (int)r.Integer("interrupts.msiVectors", 0, 32, fallback: 1);
            if (msiVectors != 0 && (msiVectors & (msiVectors - 1)) != 0)
            {
                r.Errors.Add($"interrupts.msiVectors = {msiVectors}: accepted 0, 1, 2, 4, 8, 16 or 32");
            }

            bool msi64 = r.Bool("interrupts.msi64Bit") ?? true;
            int msix = (int)r.Integer("interrupts.msixTableSize", 0, 2048);
            if (msiVectors == 0 && msix == 0)
            {
                r.Errors.Add("interrupts: at least one of msiVectors and msixTableSize must be non-zero");
            }

            int mps = (int)r.Integer("pcie.maxPayloadSize", 128, 4096, fallback: 256);
            int mrrs = (int)r.Integer("pcie.maxReadRequestSize", 128, 4096, fallback: 512);
            foreach (var (field, v) in new[] { ("pcie.maxPayloadSize", mps), ("pcie.maxReadRequestSize", mrrs) })
            {
                if ((v & (v - 1)) != 0)
                {
                    r.Errors.Add($"{field} = {v}: accepted 128, 256, 512, 1024, 2048 or 4096");
                }
            }

            int bufferCount = (int)r.Integer("dma.bufferCount", 2, 65536, fallback: 256);
            int bufferSize = (int)r.Integer("dma.bufferSize", 4, (1 << 24) - 4, fallback: 8192);
            if (bufferSize % 4 != 0)
            {
                r.Errors.Add($"dma.bufferSize = {bufferSize}: must be a multiple of 4 (TLP dwords)");
            }

            int dataWidth = (int)r.Integer("dma.dataWidth", 32, 512, fallback: 64);
            if (dataWidth is not (32 or 64 or 128 or 256 or 512))
            {
                r.Errors.Add($"dma.dataWidth = {dataWidth}: accepted 32, 64, 128, 256 or 512");
            }

            string csrFile = r.String("csrMap") ?? "csr.json";
            string? unavailable = null;
            string csrPath;
            if (csrFile.StartsWith(SharedPrefix, StringComparison.Ordinal))
            {
                // Real LiteX output kept beside the project root (../shared), referenced, never copied.
                string? shared = SharedDirectory(full);
                csrPath = System.IO.Path.GetFullPath(System.IO.Path.Combine(shared ?? "shared-not-found", csrFile[SharedPrefix.Length..]));
                if (shared is null || !File.Exists(csrPath))
                {
                    unavailable = shared is null
                        ? $"csrMap = '{csrFile}': the shared tree beside the project root (../shared, or LITEPCIE_HIL_SHARED) is absent"
                        : $"csrMap = '{csrFile}': {csrPath} does not exist in the shared tree {shared}";
                }
            }
            else
            {
                csrPath = System.IO.Path.GetFullPath(System.IO.Path.Combine(System.IO.Path.GetDirectoryName(full)!, csrFile));
                if (!File.Exists(csrPath))
                {
                    r.Errors.Add($"csrMap = '{csrFile}': file not found at {csrPath}");
                }
            }

            PhyFamily? phy = null;
            if (r.String("phy") is { } phyText)
            {
                phy = PhyLinkStatusCodec.FamilyOf(phyText);
                if (phy == PhyFamily.Unknown)
                {
                    r.Errors.Add($"phy = '{phyText}': accepted S7PCIEPHY, USPCIEPHY or USPPCIEPHY");
                }
            }

            var writerSource = UserWriterSource.None;
            if (r.String("userLogic.writerSource") is { } ws)
            {
                writerSource = ws switch
                {
                    "none" => UserWriterSource.None,
                    "sequence-pattern" => UserWriterSource.SequencePattern,
                    _ => Invalid(r, UserWriterSource.None, $"userLogic.writerSource = '{ws}': accepted none or sequence-pattern"),
                };
            }

            var readerSink = UserReaderSink.None;
            if (r.String("userLogic.readerSink") is { } rs)
            {
                readerSink = rs switch
                {
                    "none" => UserReaderSink.None,
                    "discard" => UserReaderSink.Discard,
                    _ => Invalid(r, UserReaderSink.None, $"userLogic.readerSink = '{rs}': accepted none or discard"),
                };
            }

            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (p.Name is not ("name" or "description" or "pci" or "link" or "bars" or "interrupts" or "pcie" or "dma" or "csrMap" or "phy" or "userLogic" or "$comment"))
                {
                    r.Errors.Add($"{p.Name}: unknown field (accepted name, description, pci, link, bars, interrupts, pcie, dma, csrMap, phy, userLogic)");
                }
            }

            if (r.Errors.Count > 0)
            {
                throw new BoardProfileException(full, r.Errors);
            }

            if (unavailable is not null)
            {
                throw new BoardMapUnavailableException(full, unavailable);
            }

            return new BoardProfile(full, name, description, vid, did, svid, sid, rev, cls, speed, width, bars,
                msiVectors, msi64, msix, mps, mrrs, new DmaRingGeometry(bufferCount, bufferSize), dataWidth, csrPath, phy,
                writerSource, readerSink);
        }
    }

    /// <summary>Prefix of a <c>csrMap</c> in the shared tree beside the project root: <c>{shared}/boards/&lt;name&gt;/csr.json</c>.</summary>
    public const string SharedPrefix = "{shared}/";

    /// <summary>
    /// The shared tree (real LiteX output, vendor sources) beside the project root: <c>LITEPCIE_HIL_SHARED</c> when set,
    /// else <c>shared</c> next to the first directory above <paramref name="from"/> (or above the running assemblies)
    /// that holds <c>LitePcie.Hil.sln</c>; null when there is none.
    /// </summary>
    public static string? SharedDirectory(string? from = null)
    {
        if (Environment.GetEnvironmentVariable("LITEPCIE_HIL_SHARED") is { Length: > 0 } env)
        {
            return Directory.Exists(env) ? System.IO.Path.GetFullPath(env) : null;
        }

        foreach (string start in new[] { from, AppContext.BaseDirectory }.OfType<string>())
        {
            for (var d = new DirectoryInfo(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(start))!); d is not null; d = d.Parent)
            {
                if (File.Exists(System.IO.Path.Combine(d.FullName, "LitePcie.Hil.sln")))
                {
                    string shared = System.IO.Path.GetFullPath(System.IO.Path.Combine(d.FullName, "..", "shared"));
                    return Directory.Exists(shared) ? shared : null;
                }
            }
        }

        return null;
    }

    private static T Invalid<T>(Reader r, T fallback, string problem)
    {
        r.Errors.Add(problem);
        return fallback;
    }

    /// <summary>Reads fields by dotted path, collecting every error.</summary>
    private sealed class Reader(JsonElement root, string prefix = "", List<string>? errors = null)
    {
        public List<string> Errors { get; } = errors ?? [];

        public string? String(string path)
        {
            if (!TryGet(path, out var e))
            {
                return null;
            }

            if (e.ValueKind != JsonValueKind.String)
            {
                Errors.Add($"{prefix}{path}: expected a string, found {e.ValueKind}");
                return null;
            }

            return e.GetString();
        }

        public bool? Bool(string path)
        {
            if (!TryGet(path, out var e))
            {
                return null;
            }

            if (e.ValueKind is JsonValueKind.True or JsonValueKind.False)
            {
                return e.GetBoolean();
            }

            Errors.Add($"{prefix}{path}: expected true or false, found {e.ValueKind}");
            return null;
        }

        public long Integer(string path, long min, long max, bool required = false, long fallback = 0)
        {
            if (!TryGet(path, out var e))
            {
                if (required)
                {
                    Errors.Add($"{prefix}{path}: required (accepted {Range(min, max)})");
                }

                return fallback;
            }

            long v;
            if (e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out long n))
            {
                v = n;
            }
            else if (e.ValueKind == JsonValueKind.String && TryParseInteger(e.GetString()!, out long s))
            {
                v = s;
            }
            else
            {
                Errors.Add($"{prefix}{path} = {e.GetRawText()}: expected an integer (decimal, 0x-hex, or with KiB/MiB/GiB) in {Range(min, max)}");
                return fallback;
            }

            if (v < min || v > max)
            {
                Errors.Add($"{prefix}{path} = {v}: accepted {Range(min, max)}");
                return fallback;
            }

            return v;
        }

        private static string Range(long min, long max) =>
            max > 0xFFFF ? $"{min}..0x{max:X}" : max > 255 ? $"0x{min:X}..0x{max:X}" : $"{min}..{max}";

        private bool TryGet(string path, out JsonElement element)
        {
            element = root;
            foreach (var part in path.Split('.'))
            {
                if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(part, out element))
                {
                    return false;
                }
            }

            return element.ValueKind != JsonValueKind.Null;
        }
    }

    /// <summary>Parses decimal, <c>0x</c> hex, or a size with a KiB/MiB/GiB suffix.</summary>
    public static bool TryParseInteger(string text, out long value)
    {
        string t = text.Trim();
        long scale = 1;
        foreach (var (suffix, s) in new[] { ("KiB", 1L << 10), ("MiB", 1L << 20), ("GiB", 1L << 30) })
        {
            if (t.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
            {
                scale = s;
                t = t[..^suffix.Length].Trim();
                break;
            }
        }

        bool ok = t.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? long.TryParse(t.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value)
            : long.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);
        if (ok)
        {
            value = checked(value * scale);
        }

        return ok;
    }
}

/// <summary>A board profile with one or more problems; the message lists all of them.</summary>
public class BoardProfileException(string path, IReadOnlyList<string> problems, string? message = null)
    : Exception(message ?? (problems.Count == 1
        ? $"board profile {path}: {problems[0]}"
        : $"board profile {path} is invalid:{Environment.NewLine}  - {string.Join(Environment.NewLine + "  - ", problems)}"))
{
    /// <summary>The profile file.</summary>
    public string ProfilePath { get; } = path;

    /// <summary>Every problem found.</summary>
    public IReadOnlyList<string> Problems { get; } = problems;
}

/// <summary>
/// A valid profile whose CSR map lives in the shared tree beside the project root, which is absent here: the board is
/// unavailable on this machine (a skip with this reason), not a broken profile. CI, which has the tree, fails instead.
/// </summary>
public sealed class BoardMapUnavailableException(string path, string reason)
    : BoardProfileException(path, [reason], $"board profile {path}: {reason}")
{
    /// <summary>Why the map cannot be read here.</summary>
    public string Reason { get; } = reason;
}
