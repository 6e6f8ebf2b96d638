using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace LitePcie.Hil.Reporting.Allure;

/// <summary>
/// Where Allure results go. The file-system writer is the product; the in-memory one lets tests check what a
/// run produced without touching the disk.
/// </summary>
public interface IAllureResultsWriter
{
    /// <summary>Writes (or replaces) a test result.</summary>
    void WriteResult(AllureTestResult result);

    /// <summary>Writes (or replaces) a container.</summary>
    void WriteContainer(AllureContainer container);

    /// <summary>Stores attachment content; returns its <c>source</c> name (Allure's file-name rule holds).</summary>
    string WriteAttachment(string extension, ReadOnlySpan<byte> content);

    /// <summary>Writes (or replaces) a run-level file: <c>environment.properties</c>, <c>executor.json</c>, <c>categories.json</c>.</summary>
    void WriteRunFile(string fileName, ReadOnlySpan<byte> content);
}

/// <summary>Names and serialisation shared by the writers.</summary>
public static partial class AllureFiles
{
    /// <summary>The run-level files a results directory may hold.</summary>
    public static IReadOnlyList<string> RunFiles { get; } = ["environment.properties", "executor.json", "categories.json"];

    /// <summary>Allure's rule for attachment sources: <c>^[a-zA-Z0-9._-]{1,100}$</c>.</summary>
    public static bool IsValidSource(string source) => SourceRule().IsMatch(source);

    /// <summary>A fresh attachment file name: <c>{uuid}-attachment{ext}</c>; an unsafe extension is dropped.</summary>
    public static string AttachmentSource(string extension)
    {
        string ext = extension.Length == 0 ? "" : extension[0] == '.' ? extension : "." + extension;
        return $"{AllureIds.NewUuid()}-attachment{(ExtensionRule().IsMatch(ext) ? ext : "")}";
    }

    /// <summary>File name of a test result: <c>&lt;uuid&gt;-result.json</c>.</summary>
    public static string ResultFileName(AllureTestResult result) => $"{result.Uuid}-result.json";

    /// <summary>File name of a container: <c>&lt;uuid&gt;-container.json</c>.</summary>
    public static string ContainerFileName(AllureContainer container) => $"{container.Uuid}-container.json";

    /// <summary>A test result as Allure's JSON (UTF-8).</summary>
    public static byte[] Serialize(AllureTestResult result) => JsonSerializer.SerializeToUtf8Bytes(result, AllureJson.Default.AllureTestResult);

    /// <summary>A container as Allure's JSON (UTF-8).</summary>
    public static byte[] Serialize(AllureContainer container) => JsonSerializer.SerializeToUtf8Bytes(container, AllureJson.Default.AllureContainer);

    /// <summary>Whether a file name is one an Allure writer produces (what cleaning a results directory may delete).</summary>
    public static bool IsAllureFile(string fileName) =>
        fileName.EndsWith("-result.json", StringComparison.Ordinal) || fileName.EndsWith("-container.json", StringComparison.Ordinal) ||
        fileName.Contains("-attachment", StringComparison.Ordinal) || RunFiles.Contains(fileName) || IsTemporary(fileName);

    internal static bool IsTemporary(string fileName) => fileName.StartsWith('.') && fileName.EndsWith(".tmp", StringComparison.Ordinal);

    internal static void ValidateRunFile(string fileName)
    {
        if (!RunFiles.Contains(fileName))
        {
            throw new ArgumentException($"'{fileName}' is not an Allure run file (accepted: {string.Join(", ", RunFiles)})", nameof(fileName));
        }
    }

    [GeneratedRegex("^[a-zA-Z0-9._-]{1,100}$")]
    private static partial Regex SourceRule();

    [GeneratedRegex("^\\.[a-zA-Z0-9]{1,10}$")]
    private static partial Regex ExtensionRule();
}

/// <summary>
/// Writes Allure results into a directory. Every file is written to a hidden temporary name and renamed into
/// place, so a reader (or a crash of the test host) never sees a half-written file: a crash loses at most the
/// test in progress.
/// </summary>
public sealed class FileSystemAllureResultsWriter : IAllureResultsWriter
{
    /// <summary>Creates the directory if needed and removes temporary files a crashed run left behind.</summary>
    public FileSystemAllureResultsWriter(string directory)
    {
        Directory = Path.GetFullPath(directory);
        System.IO.Directory.CreateDirectory(Directory);
        foreach (var f in System.IO.Directory.EnumerateFiles(Directory, ".*.tmp"))
        {
            TryDelete(f);
        }
    }

    /// <summary>The results directory (absolute).</summary>
    public string Directory { get; }

    /// <summary>Deletes the Allure files of an earlier run (other files are left alone); returns how many.</summary>
    public int Clean()
    {
        int n = 0;
        foreach (var f in System.IO.Directory.EnumerateFiles(Directory))
        {
            if (AllureFiles.IsAllureFile(Path.GetFileName(f)) && TryDelete(f))
            {
                n++;
            }
        }

        return n;
    }

    /// <inheritdoc />
    public void WriteResult(AllureTestResult result) => WriteAtomic(AllureFiles.ResultFileName(result), AllureFiles.Serialize(result));

    /// <inheritdoc />
    public void WriteContainer(AllureContainer container) => WriteAtomic(AllureFiles.ContainerFileName(container), AllureFiles.Serialize(container));

    /// <inheritdoc />
    public string WriteAttachment(string extension, ReadOnlySpan<byte> content)
    {
        string source = AllureFiles.AttachmentSource(extension);
        WriteAtomic(source, content);
        return source;
    }

    /// <inheritdoc />
    public void WriteRunFile(string fileName, ReadOnlySpan<byte> content)
    {
        AllureFiles.ValidateRunFile(fileName);
        WriteAtomic(fileName, content);
    }

    private void WriteAtomic(string fileName, ReadOnlySpan<byte> content)
    {
        string final = Path.Combine(Directory, fileName);
        string temp = Path.Combine(Directory, $".{Guid.NewGuid():N}.tmp");
        try
        {
            using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                fs.Write(content);
                fs.Flush(flushToDisk: true);
            }

            File.Move(temp, final, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    private static bool TryDelete(string path)
    {
        try
        {
            File.Delete(path);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }
}

/// <summary>Keeps results in memory (tests of the reporting itself).</summary>
public sealed class InMemoryAllureResultsWriter : IAllureResultsWriter
{
    private readonly ConcurrentDictionary<string, byte[]> _files = new(StringComparer.Ordinal);

    /// <summary>Every file by name, as the file-system writer would have written it.</summary>
    public IReadOnlyDictionary<string, byte[]> Files => _files;

    /// <summary>The results written so far, parsed back.</summary>
    public IReadOnlyList<AllureTestResult> Results =>
        [.. _files.Where(f => f.Key.EndsWith("-result.json", StringComparison.Ordinal))
            .Select(f => JsonSerializer.Deserialize(f.Value, AllureJson.Default.AllureTestResult)!)];

    /// <summary>The containers written so far, parsed back.</summary>
    public IReadOnlyList<AllureContainer> Containers =>
        [.. _files.Where(f => f.Key.EndsWith("-container.json", StringComparison.Ordinal))
            .Select(f => JsonSerializer.Deserialize(f.Value, AllureJson.Default.AllureContainer)!)];

    /// <inheritdoc />
    public void WriteResult(AllureTestResult result) => _files[AllureFiles.ResultFileName(result)] = AllureFiles.Serialize(result);

    /// <inheritdoc />
    public void WriteContainer(AllureContainer container) => _files[AllureFiles.ContainerFileName(container)] = AllureFiles.Serialize(container);

    /// <inheritdoc />
    public string WriteAttachment(string extension, ReadOnlySpan<byte> content)
    {
        string source = AllureFiles.AttachmentSource(extension);
        _files[source] = content.ToArray();
        return source;
    }

    /// <inheritdoc />
    public void WriteRunFile(string fileName, ReadOnlySpan<byte> content)
    {
        AllureFiles.ValidateRunFile(fileName);
        _files[fileName] = content.ToArray();
    }
}
