using System.Text.Json;
using System.Text.Json.Serialization;

namespace LitePcie.Hil.Qualification;

/// <summary>What a journal belongs to; a journal resumes only into the same plan.</summary>
/// <param name="Suite">Suite and test, e.g. <c>Qualification.AttachDetach</c>.</param>
/// <param name="Backend">Backend name.</param>
/// <param name="Board">Board profile.</param>
/// <param name="Device">Device address.</param>
/// <param name="Cycles">Cycles planned.</param>
/// <param name="Plan">Everything else that changes what a cycle does (detach mix, faults, sizes).</param>
public sealed record JournalHeader(string Suite, string Backend, string Board, string Device, int Cycles, string Plan);

/// <summary>One cycle as the journal keeps it.</summary>
public sealed record CycleRecord
{
    /// <summary>Cycle number, from 1.</summary>
    public required int Cycle { get; init; }

    /// <summary>What the cycle did (e.g. the detach state: idle, open, mid-dma).</summary>
    public required string State { get; init; }

    /// <summary>Whether every phase of the cycle passed.</summary>
    public required bool Ok { get; init; }

    /// <summary>Wall time of the cycle.</summary>
    public required double Milliseconds { get; init; }

    /// <summary>CPU the test process spent on the cycle (null in journals written before it was recorded).</summary>
    public double? CpuMilliseconds { get; init; }

    /// <summary>The phase that failed (detach, gone, attach, enumerate, open, verify…).</summary>
    public string? FailedPhase { get; init; }

    /// <summary>The failure, in device terms.</summary>
    public string? Failure { get; init; }

    /// <summary>Milliseconds per phase.</summary>
    public IReadOnlyDictionary<string, double>? Phases { get; init; }

    /// <summary>Resource readings taken after this cycle (only on sampled cycles).</summary>
    public IReadOnlyDictionary<string, double>? Samples { get; init; }
}

/// <summary>
/// A JSON-lines journal of a long cycling run: a header, one record per cycle written and flushed as the cycle
/// ends, and a completion record. A run that dies (host crash, lab power loss) at cycle 600 resumes at 601 with
/// the earlier cycles' samples, times and failures; a half-written last line is dropped.
/// </summary>
public sealed class CycleJournal : IDisposable
{
    private readonly FileStream _stream;
    private readonly List<CycleRecord> _previous;

    private CycleJournal(string path, FileStream stream, List<CycleRecord> previous, bool resumed, string? note)
    {
        Path = path;
        _stream = stream;
        _previous = previous;
        Resumed = resumed;
        Note = note;
    }

    /// <summary>The journal file.</summary>
    public string Path { get; }

    /// <summary>Whether an earlier, unfinished run of the same plan was resumed.</summary>
    public bool Resumed { get; }

    /// <summary>Why a journal found at the path was not resumed (null when there was none or it was resumed).</summary>
    public string? Note { get; }

    /// <summary>The cycles an earlier run completed (empty unless resumed).</summary>
    public IReadOnlyList<CycleRecord> Previous => _previous;

    /// <summary>The first cycle this run has to do.</summary>
    public int NextCycle => _previous.Count == 0 ? 1 : _previous[^1].Cycle + 1;

    /// <summary>
    /// Opens the journal for <paramref name="header"/>: resumes an unfinished journal of the same plan when
    /// <paramref name="resume"/> is set; otherwise (or for a finished or different plan) starts a new one, keeping
    /// the old file as <c>*.prev</c>.
    /// </summary>
    public static CycleJournal Open(string path, JournalHeader header, bool resume)
    {
        path = System.IO.Path.GetFullPath(path);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        string? note = null;
        if (File.Exists(path))
        {
            var (old, records, done, validBytes) = Read(path);
            if (resume && old == header && !done)
            {
                var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
                stream.SetLength(validBytes); // drop a half-written last line
                stream.Seek(0, SeekOrigin.End);
                return new CycleJournal(path, stream, records, resumed: true, note: null);
            }

            note = old is null ? "unreadable header" : done ? "the earlier run had finished" : old != header ? "a different plan" : "resume disabled";
            File.Move(path, path + ".prev", overwrite: true);
        }

        var fresh = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read);
        var journal = new CycleJournal(path, fresh, [], resumed: false, note);
        journal.WriteLine(new JournalLine { Kind = "header", Header = header });
        return journal;
    }

    /// <summary>Appends a cycle record and flushes it to disk.</summary>
    public void Append(CycleRecord record) => WriteLine(new JournalLine { Kind = "cycle", Record = record });

    /// <summary>Marks the run finished: a later run with the same plan starts over instead of resuming.</summary>
    public void Complete(int cycles, int failures) => WriteLine(new JournalLine { Kind = "done", Cycles = cycles, Failures = failures });

    /// <summary>Flushes and closes the journal file.</summary>
    public void Dispose() => _stream.Dispose();

    /// <summary>
    /// The journal as a table (CSV, one row per cycle): cycle, state, ok, milliseconds, failed phase and failure, then
    /// one column per phase (ms) and per sampled resource. A report previews this where it only offers the JSON lines
    /// for download.
    /// </summary>
    public static string Table(IReadOnlyList<CycleRecord> records)
    {
        var phases = records.SelectMany(r => r.Phases?.Keys ?? []).Distinct(StringComparer.Ordinal).ToList();
        var samples = records.SelectMany(r => r.Samples?.Keys ?? []).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var csv = new System.Text.StringBuilder();
        csv.AppendJoin(',', ["cycle", "state", "ok", "milliseconds", "failed_phase", "failure", .. phases.Select(p => $"{p}_ms"), .. samples]).Append('\n');
        var c = System.Globalization.CultureInfo.InvariantCulture;
        foreach (var r in records)
        {
            csv.AppendJoin(',',
            [
                r.Cycle.ToString(c), Csv(r.State), r.Ok ? "yes" : "no", r.Milliseconds.ToString(c), Csv(r.FailedPhase ?? ""), Csv(r.Failure ?? ""),
                .. phases.Select(p => r.Phases is not null && r.Phases.TryGetValue(p, out double ms) ? ms.ToString(c) : ""),
                .. samples.Select(n => r.Samples is not null && r.Samples.TryGetValue(n, out double v) ? v.ToString(c) : ""),
            ]).Append('\n');
        }

        return csv.ToString();
    }

    private static string Csv(string field) =>
        field.IndexOfAny([',', '"', '\n', '\r']) < 0 ? field : $"\"{field.Replace("\"", "\"\"", StringComparison.Ordinal)}\"";

    /// <summary>Reads a journal: header, cycle records, whether it finished, and the length of its intact lines.</summary>
    public static (JournalHeader? Header, List<CycleRecord> Records, bool Done, long ValidBytes) Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        JournalHeader? header = null;
        var records = new List<CycleRecord>();
        bool done = false;
        long valid = 0;
        int start = 0;
        while (start < bytes.Length)
        {
            int nl = Array.IndexOf(bytes, (byte)'\n', start);
            if (nl < 0)
            {
                break; // no newline: the line was being written when the run died
            }

            JournalLine? line;
            try
            {
                line = JsonSerializer.Deserialize(bytes.AsSpan(start, nl - start), JournalJson.Default.JournalLine);
            }
            catch (JsonException)
            {
                break;
            }

            switch (line?.Kind)
            {
                case "header" when header is null:
                    header = line.Header;
                    break;
                case "cycle" when line.Record is { } r && header is not null:
                    records.Add(r);
                    break;
                case "done":
                    done = true;
                    break;
                default:
                    return (header, records, done, valid);
            }

            valid = nl + 1;
            start = nl + 1;
        }

        return (header, records, done, valid);
    }

    private void WriteLine(JournalLine line)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(line, JournalJson.Default.JournalLine);
        _stream.Write(json);
        _stream.WriteByte((byte)'\n');
        _stream.Flush(flushToDisk: true);
    }
}

/// <summary>One line of the journal.</summary>
public sealed class JournalLine
{
    /// <summary>Line kind: "header", "cycle" or "end".</summary>
    public required string Kind { get; init; }

    /// <summary>The run's parameters (header lines only).</summary>
    public JournalHeader? Header { get; init; }

    /// <summary>One cycle (cycle lines only).</summary>
    public CycleRecord? Record { get; init; }

    /// <summary>Cycles completed (end lines only).</summary>
    public int? Cycles { get; init; }

    /// <summary>Cycles that failed (end lines only).</summary>
    public int? Failures { get; init; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(JournalLine))]
internal sealed partial class JournalJson : JsonSerializerContext;
