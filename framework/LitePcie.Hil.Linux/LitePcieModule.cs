using System.Security.Cryptography;
using LitePcie.Hil.Linux.Sysfs;

namespace LitePcie.Hil.Linux;

/// <summary>
/// Which litepcie.ko is loaded, from what the system exposes. Upstream declares no <c>MODULE_VERSION</c>, and a
/// kernel built without <c>CONFIG_MODULE_SRCVERSION_ALL</c> (Debian's) gives it no <c>srcversion</c> either, so the
/// identity falls back, in order, to: <c>/sys/module/litepcie/version</c>, <c>…/srcversion</c>, the SHA-256 of the
/// module file <c>modules.dep</c> names for the running kernel, and the module's GNU build-id note
/// (<c>/sys/module/litepcie/notes/.note.gnu.build-id</c>, a hash the linker computed over the module).
/// </summary>
public static class LitePcieModule
{
    /// <summary>A one-line identity of the loaded module, naming where it came from.</summary>
    public static string Describe(LinuxPaths paths)
    {
        string module = Path.Combine(paths.Sys, "module", "litepcie");
        if (!Directory.Exists(module))
        {
            return "not loaded (no /sys/module/litepcie)";
        }

        if (Text(Path.Combine(module, "version")) is { Length: > 0 } version)
        {
            return "version " + version;
        }

        if (Text(Path.Combine(module, "srcversion")) is { Length: > 0 } src)
        {
            return "srcversion " + src;
        }

        if (ModuleFile(paths) is { } file)
        {
            try
            {
                using var stream = File.OpenRead(file);
                return $"sha256 {Convert.ToHexStringLower(SHA256.HashData(stream))} of {file}";
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // fall through to the build-id
            }
        }

        if (BuildId(Path.Combine(module, "notes", ".note.gnu.build-id")) is { } id)
        {
            return "build-id " + id;
        }

        return "unknown (no version or srcversion in /sys/module/litepcie, no litepcie.ko in modules.dep, no readable build-id note)";
    }

    /// <summary>The module file of the running kernel's <c>modules.dep</c> (<c>/lib/modules/&lt;release&gt;/…/litepcie.ko</c>), if listed.</summary>
    public static string? ModuleFile(LinuxPaths paths)
    {
        if (Text(Path.Combine(paths.Proc, "sys", "kernel", "osrelease")) is not { Length: > 0 } release)
        {
            return null;
        }

        string dir = Path.Combine(paths.Lib, "modules", release);
        string dep = Path.Combine(dir, "modules.dep");
        if (!File.Exists(dep))
        {
            return null;
        }

        foreach (var line in File.ReadLines(dep))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            string name = colon < 0 ? line : line[..colon];
            string file = Path.GetFileName(name);
            if (file is "litepcie.ko" or "litepcie.ko.xz" or "litepcie.ko.zst" or "litepcie.ko.gz")
            {
                string full = Path.IsPathRooted(name) ? name : Path.Combine(dir, name);
                return File.Exists(full) ? full : null;
            }
        }

        return null;
    }

    /// <summary>The descriptor of an ELF GNU build-id note (namesz, descsz, type 3, "GNU\0", id) as hex.</summary>
    public static string? BuildId(string path)
    {
        byte[] note;
        try
        {
            note = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        if (note.Length < 16)
        {
            return null;
        }

        int nameSize = BitConverter.ToInt32(note, 0), descSize = BitConverter.ToInt32(note, 4), type = BitConverter.ToInt32(note, 8);
        int desc = 12 + ((nameSize + 3) & ~3);
        return type == 3 && nameSize == 4 && descSize > 0 && desc + descSize <= note.Length
            ? Convert.ToHexStringLower(note, desc, descSize)
            : null;
    }

    private static string? Text(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
