using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LitePcie.Hil.Reporting.Allure;

namespace LitePcie.Hil.Lab;

/// <summary>One boot of the Linux guest tier as lab/linux-guest/run.sh left it on disk.</summary>
/// <param name="Variant">Driver variant (the folder name: upstream, patched).</param>
/// <param name="Directory">The boot's folder: boot.status, device-server.json/.log, console.log, run/out/…</param>
public sealed record GuestBoot(string Variant, string Directory)
{
    /// <summary>The guest's output folder (shared over 9p as /hil/run/out).</summary>
    public string Out => Path.Combine(Directory, "run", "out");
}

/// <summary>Counts of a guest run, over every check: the guest's test results and the host's checks of each boot.</summary>
public sealed record GuestRunCounts(int Passed, int Failed, int Skipped)
{
    /// <summary>The last line run.sh prints.</summary>
    public override string ToString() => $"linux-guest: {Passed} passed, {Failed} failed, {Skipped} skipped";
}

/// <summary>
/// Turns a guest run (one folder per boot) into the run's Allure results: the guest's own results (each marked
/// with its driver variant, so two boots of the same test are two results, not retries), plus the host's
/// checks of each boot — the guest ran its whole plan and powered off, every step ran tests, the device server
/// saw only valid messages and no DMA fault. Prints one line per failure and per known issue, and the counts.
/// </summary>
public sealed class GuestRunReport(string runDirectory, string allureDirectory, TextWriter output, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private int _passed;
    private int _failed;
    private int _skipped;

    /// <summary>The boots found in the run folder (each a folder with a boot.status), in name order.</summary>
    public IReadOnlyList<GuestBoot> Boots() =>
        System.IO.Directory.Exists(runDirectory)
            ? System.IO.Directory.EnumerateDirectories(runDirectory)
                .Where(d => File.Exists(Path.Combine(d, "boot.status")))
                .Order(StringComparer.Ordinal)
                .Select(d => new GuestBoot(Path.GetFileName(d), d))
                .ToArray()
            : [];

    /// <summary>Writes the results and returns the counts (also printed as the last line).</summary>
    public GuestRunCounts Write(string board, string? faults)
    {
        System.IO.Directory.CreateDirectory(allureDirectory);
        var writer = new FileSystemAllureResultsWriter(allureDirectory);
        var boots = Boots();
        if (boots.Count == 0)
        {
            HostCheck(writer, "linux-guest", "run", $"the run folder {runDirectory} has boots", AllureStatus.Failed,
                $"no boot folder with a boot.status in {runDirectory}: run.sh did not boot a guest", [], board);
        }

        foreach (var boot in boots)
        {
            CopyGuestResults(boot);
            CheckBoot(writer, boot, board);
            CheckSteps(writer, boot, board);
            CheckDeviceServer(writer, boot, board, faults);
            foreach (string line in ReadLines(Path.Combine(boot.Out, "known-issues.tsv")))
            {
                string[] f = line.Split('\t');
                if (f.Length >= 4)
                {
                    output.WriteLine($"linux-guest: {boot.Variant}: known issue {f[0]} ({f[1]} kernel log lines): {f[2]}; {f[3]}");
                }
            }
        }

        var counts = new GuestRunCounts(_passed, _failed, _skipped);
        output.WriteLine(counts.ToString());
        return counts;
    }

    /// <summary>Copies one boot's guest Allure files, marking each result with the boot's driver variant.</summary>
    private void CopyGuestResults(GuestBoot boot)
    {
        string source = Path.Combine(boot.Out, "allure-results");
        if (!System.IO.Directory.Exists(source))
        {
            return;
        }

        foreach (string file in System.IO.Directory.EnumerateFiles(source))
        {
            string name = Path.GetFileName(file);
            if (name.EndsWith("-result.json", StringComparison.Ordinal))
            {
                var node = JsonNode.Parse(File.ReadAllText(file))!.AsObject();
                Mark(node, boot.Variant);
                Count(node["status"]?.GetValue<string>(), $"{boot.Variant}: {node["fullName"]?.GetValue<string>()}", node["statusDetails"]?["message"]?.GetValue<string>());
                File.WriteAllText(Path.Combine(allureDirectory, name), node.ToJsonString());
            }
            else if (AllureFiles.RunFiles.Contains(name))
            {
                if (!File.Exists(Path.Combine(allureDirectory, name)))
                {
                    File.Copy(file, Path.Combine(allureDirectory, name));
                }
            }
            else
            {
                File.Copy(file, Path.Combine(allureDirectory, name), overwrite: true); // containers and attachments: unique names
            }
        }
    }

    /// <summary>The driver variant becomes a parameter, a tag and part of the history identity; the tree shows the tier.</summary>
    private static void Mark(JsonObject result, string variant)
    {
        var parameters = result["parameters"] as JsonArray ?? [];
        parameters.Add(new JsonObject { ["name"] = "driver", ["value"] = variant });
        result["parameters"] = parameters;
        var labels = result["labels"] as JsonArray ?? [];
        foreach (var label in labels.OfType<JsonObject>().Where(l => l["name"]?.GetValue<string>() == "parentSuite").ToArray())
        {
            labels.Remove(label);
        }

        labels.Add(new JsonObject { ["name"] = "parentSuite", ["value"] = $"linux-guest ({variant} litepcie.ko)" });
        labels.Add(new JsonObject { ["name"] = "tag", ["value"] = "RealDriver" });
        result["labels"] = labels;
        string history = result["historyId"]?.GetValue<string>() ?? result["fullName"]?.GetValue<string>() ?? "";
        result["historyId"] = AllureIds.HistoryId(history, [new AllureParameter("driver", variant)]);
    }

    private void CheckBoot(IAllureResultsWriter writer, GuestBoot boot, string board)
    {
        var status = ReadKeyValues(Path.Combine(boot.Directory, "boot.status"));
        string guest = ReadText(Path.Combine(boot.Out, "guest.status"));
        status.TryGetValue("qemu_exit", out string? qemuExit);
        status.TryGetValue("seconds", out string? seconds);
        bool timedOut = status.TryGetValue("timed_out", out string? t) && t == "1";
        bool finished = guest.Contains("finished", StringComparison.Ordinal);
        string? problem = timedOut ? $"the guest did not power off within the boot timeout (qemu exit {qemuExit})"
            : qemuExit != "0" ? $"QEMU exited with {qemuExit} (0 = the guest powered off)"
            : !finished ? $"the guest did not run its plan to the end (guest.status: '{guest.Trim().Replace('\n', ';')}')"
            : null;
        if (problem is not null)
        {
            // A guest that died says why on its console (the kernel panics on an oops: oops=panic).
            var crash = KernelLogVerdict.Evaluate(ReadText(Path.Combine(boot.Directory, "console.log")), 0, []).Findings;
            if (crash.Count > 0)
            {
                problem += $"; console: {crash[0].Line.Trim()}";
            }
        }

        HostCheck(writer, boot.Variant, "Boot", $"guest boot ({boot.Variant} litepcie.ko): ran its plan and powered off in {seconds} s",
            problem is null ? AllureStatus.Passed : AllureStatus.Failed, problem,
            [Path.Combine(boot.Directory, "console.log"), Path.Combine(boot.Directory, "qemu.log"), Path.Combine(boot.Out, "insmod.txt"), Path.Combine(boot.Out, "dmesg.txt")], board);
    }

    /// <summary>Each plan step must have run tests: exit 0 (all passed) or 2 (some failed, counted from their results).</summary>
    private void CheckSteps(IAllureResultsWriter writer, GuestBoot boot, string board)
    {
        foreach (string line in ReadLines(Path.Combine(boot.Out, "steps.tsv")))
        {
            string[] f = line.Split('\t');
            if (f.Length < 3)
            {
                continue;
            }

            string name = f[0];
            string exit = f[1];
            string log = Path.Combine(boot.Out, $"step-{name}.log");
            var summary = StepSummary.Parse(ReadText(log));
            string? problem = exit switch
            {
                "8" => "the step ran no test (Microsoft.Testing.Platform exit 8): its filter matched nothing",
                "0" or "2" when summary is { Total: 0 } => "the step ran no test (its summary says total: 0)",
                "0" or "2" => null,
                _ => $"the step exited with {exit} (0 = tests passed, 2 = tests failed): it crashed or could not start",
            };
            if (summary is not null)
            {
                output.WriteLine($"linux-guest: {boot.Variant}: step {name}: {summary} in {f[2]} s");
            }

            HostCheck(writer, boot.Variant, $"Step.{name}", $"guest step {name} ({boot.Variant} litepcie.ko) ran {(summary is null ? "its tests" : summary.ToString())} in {f[2]} s",
                problem is null ? AllureStatus.Passed : AllureStatus.Broken, problem, [log], board);
        }
    }

    private void CheckDeviceServer(IAllureResultsWriter writer, GuestBoot boot, string board, string? faults)
    {
        string path = Path.Combine(boot.Directory, "device-server.json");
        string? problem = null;
        string title;
        if (!File.Exists(path))
        {
            problem = "the device server wrote no summary (it did not exit cleanly: see device-server.log)";
            title = $"device server ({boot.Variant}): served the board";
        }
        else
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var s = doc.RootElement;
            long protocolErrors = s.GetProperty("protocolErrors").GetArrayLength();
            long dmaFaults = s.GetProperty("dmaFaults").GetInt64();
            long bytes = s.GetProperty("writerBytes").GetInt64() + s.GetProperty("readerBytes").GetInt64();
            title = string.Create(CultureInfo.InvariantCulture,
                $"device server ({boot.Variant} litepcie.ko): {s.GetProperty("mmioReads").GetInt64()} MMIO reads, {s.GetProperty("mmioWrites").GetInt64()} writes, {s.GetProperty("msiSent").GetInt64()} MSIs, {bytes / 1048576.0:0} MiB DMA, {s.GetProperty("bitsFlipped").GetInt64()} bits flipped{(string.IsNullOrEmpty(faults) ? "" : $" (faults '{faults}')")}");
            problem = !s.GetProperty("deviceServed").GetBoolean() ? "QEMU's device never connected or never disconnected"
                : protocolErrors > 0 ? $"{protocolErrors} protocol error(s), first: {s.GetProperty("protocolErrors")[0].GetString()}"
                : dmaFaults > 0 ? $"{dmaFaults} DMA access(es) outside guest RAM, first: {s.GetProperty("firstDmaFaults")[0].GetString()}"
                : null;
        }

        HostCheck(writer, boot.Variant, "DeviceServer", title, problem is null ? AllureStatus.Passed : AllureStatus.Failed, problem,
            [path, Path.Combine(boot.Directory, "device-server.log")], board);
    }

    private void HostCheck(IAllureResultsWriter writer, string variant, string check, string title, AllureStatus status, string? problem, IReadOnlyList<string> attachments, string board)
    {
        long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        string fullName = $"LitePcie.Hil.LinuxGuest.Host.{check}";
        var parameters = new List<AllureParameter> { new("driver", variant), new("board", board) };
        var result = new AllureTestResult
        {
            Uuid = AllureIds.NewUuid(),
            Name = title,
            FullName = fullName,
            TestCaseId = AllureIds.TestCaseId(fullName),
            HistoryId = AllureIds.HistoryId(fullName, parameters),
            Status = status,
            Stage = AllureStage.Finished,
            StatusDetails = problem is null ? null : new AllureStatusDetails { Message = problem },
            Start = now,
            Stop = now,
            Parameters = parameters,
            Labels =
            [
                new("parentSuite", $"linux-guest ({variant} litepcie.ko)"),
                new("suite", "host checks"),
                new("feature", "RealDriver"),
                new("tag", "RealDriver"),
                new("board", board),
                new("framework", "lab/linux-guest/run.sh"),
            ],
        };
        foreach (string file in attachments.Where(File.Exists))
        {
            byte[] content = File.ReadAllBytes(file);
            string source = writer.WriteAttachment(".txt", content);
            result.Attachments.Add(new AllureAttachment(Path.GetFileName(file), source, "text/plain"));
        }

        writer.WriteResult(result);
        Count(status == AllureStatus.Passed ? "passed" : status == AllureStatus.Skipped ? "skipped" : "failed", $"{variant}: {title}", problem);
    }

    private void Count(string? status, string what, string? message)
    {
        switch (status)
        {
            case "passed":
                _passed++;
                break;
            case "skipped" when !string.IsNullOrWhiteSpace(message):
                _skipped++;
                output.WriteLine($"linux-guest: skipped {what}: {message.Split('\n')[0]}");
                break;
            case "skipped":
                Count("failed", what, "skipped without naming its reason (a skip always says why)");
                break;
            default:
                _failed++;
                string first = (message ?? "").Split('\n')[0];
                output.WriteLine($"linux-guest: FAILED {what}{(first.Length > 0 ? $": {first}" : "")}");
                break;
        }
    }

    private static Dictionary<string, string> ReadKeyValues(string path) =>
        ReadLines(path).Select(l => l.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0].Trim(), p => p[1].Trim(), StringComparer.Ordinal);

    private static IEnumerable<string> ReadLines(string path) => File.Exists(path) ? File.ReadAllLines(path, Encoding.UTF8).Where(l => l.Length > 0) : [];

    private static string ReadText(string path) => File.Exists(path) ? File.ReadAllText(path) : "";
}

/// <summary>
/// The counts a Microsoft.Testing.Platform test executable prints at its end (<c>total: N</c>, <c>failed: N</c>,
/// <c>succeeded: N</c>, <c>skipped: N</c>), read from a guest step's log.
/// </summary>
internal sealed record StepSummary(int Total, int Failed, int Succeeded, int Skipped)
{
    /// <summary>The counts in <paramref name="log"/>, or null when it has no summary (the step did not get that far).</summary>
    public static StepSummary? Parse(string log)
    {
        int? Field(string name)
        {
            var m = System.Text.RegularExpressions.Regex.Matches(log, $@"^\s*{name}:\s*(\d+)\s*$", System.Text.RegularExpressions.RegexOptions.Multiline);
            return m.Count == 0 ? null : int.Parse(m[^1].Groups[1].Value, CultureInfo.InvariantCulture);
        }

        return Field("total") is { } total
            ? new StepSummary(total, Field("failed") ?? 0, Field("succeeded") ?? 0, Field("skipped") ?? 0)
            : null;
    }

    /// <summary>As run.sh prints it: <c>N passed, N failed, N skipped</c>.</summary>
    public override string ToString() => $"{Succeeded} passed, {Failed} failed, {Skipped} skipped";
}
