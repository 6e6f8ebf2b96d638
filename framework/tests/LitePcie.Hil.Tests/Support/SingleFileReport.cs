using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace LitePcie.Hil.Tests.Support;

/// <summary>
/// The files an Allure 3 single-file report inlines into its index.html (<c>d("widgets/tree.json","base64…")</c>):
/// the same widgets, test results and attachments a multi-file report writes beside it.
/// </summary>
internal sealed partial class SingleFileReport
{
    private readonly Dictionary<string, byte[]> _files;

    private SingleFileReport(Dictionary<string, byte[]> files) => _files = files;

    /// <summary>Every inlined file name.</summary>
    public IReadOnlyCollection<string> Names => _files.Keys;

    /// <summary>Reads the report's index.html.</summary>
    public static SingleFileReport Read(string indexHtml)
    {
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (Match m in Entry().Matches(File.ReadAllText(indexHtml)))
        {
            files[m.Groups[1].Value] = Convert.FromBase64String(m.Groups[2].Value);
        }

        if (files.Count == 0)
        {
            throw new InvalidDataException($"{indexHtml} inlines no report data: not a single-file Allure report");
        }

        return new SingleFileReport(files);
    }

    /// <summary>Names under a prefix (e.g. <c>data/test-results/</c>).</summary>
    public IEnumerable<string> Under(string prefix) => _files.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal);

    /// <summary>An inlined JSON file.</summary>
    public JsonElement Json(string name) =>
        _files.TryGetValue(name, out var bytes)
            ? JsonDocument.Parse(Encoding.UTF8.GetString(bytes)).RootElement.Clone()
            : throw new KeyNotFoundException($"the report inlines no {name} (it has {_files.Count} files)");

    [GeneratedRegex("""d\("([^"]+)","([A-Za-z0-9+/=]*)"\)""")]
    private static partial Regex Entry();
}
