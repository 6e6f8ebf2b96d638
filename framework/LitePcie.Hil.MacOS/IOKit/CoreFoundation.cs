using System.Buffers.Binary;
using System.Text;

namespace LitePcie.Hil.MacOS.IOKit;

/// <summary>An owned (+1) CoreFoundation reference, released once on <see cref="Dispose"/>.</summary>
internal readonly struct CFRef(IIOKit io, nint handle) : IDisposable
{
    /// <summary>The <c>CFTypeRef</c> (0 when absent).</summary>
    public nint Handle { get; } = handle;

    /// <summary>Whether there is no object.</summary>
    public bool IsNull => Handle == 0;

    public void Dispose()
    {
        if (Handle != 0)
        {
            io.CFRelease(Handle);
        }
    }
}

/// <summary>
/// CoreFoundation marshalling on top of <see cref="IIOKit"/>: .NET strings to <c>CFString</c> and back, <c>CFNumber</c>,
/// <c>CFBoolean</c> and <c>CFData</c> to .NET values, matching dictionaries, registry properties. Every object these
/// create or copy is released here unless it is handed back as a <see cref="CFRef"/> the caller disposes.
/// </summary>
internal static class CoreFoundation
{
    /// <summary>A new <c>CFString</c> (+1).</summary>
    public static CFRef CreateString(IIOKit io, string value)
    {
        nint s = io.CFStringCreateWithCString(value);
        return s != 0 ? new CFRef(io, s) : throw new InvalidOperationException($"CFStringCreateWithCString refused \"{value}\"");
    }

    /// <summary>The text of a <c>CFString</c>; null when <paramref name="cf"/> is absent or not a string.</summary>
    public static string? GetString(IIOKit io, nint cf)
    {
        if (cf == 0 || io.CFGetTypeID(cf) != io.CFStringGetTypeID())
        {
            return null;
        }

        nint length = io.CFStringGetLength(cf);
        nint max = io.CFStringGetMaximumSizeForEncoding(length);
        if (max < 0)
        {
            return null;
        }

        byte[] buffer = new byte[checked((int)max + 1)];
        if (!io.CFStringGetCString(cf, buffer))
        {
            return null;
        }

        int end = Array.IndexOf(buffer, (byte)0);
        return Encoding.UTF8.GetString(buffer, 0, end < 0 ? buffer.Length : end);
    }

    /// <summary>The value of a <c>CFNumber</c> as a 64-bit integer; null when absent, not a number or not integral.</summary>
    public static long? GetInt64(IIOKit io, nint cf) =>
        cf != 0 && io.CFGetTypeID(cf) == io.CFNumberGetTypeID() && io.CFNumberGetInt64(cf, out long value) ? value : null;

    /// <summary>The value of a <c>CFBoolean</c>; null when absent or not a boolean.</summary>
    public static bool? GetBoolean(IIOKit io, nint cf) =>
        cf != 0 && io.CFGetTypeID(cf) == io.CFBooleanGetTypeID() ? io.CFBooleanGetValue(cf) : null;

    /// <summary>The bytes of a <c>CFData</c>; null when absent or not data.</summary>
    public static byte[]? GetBytes(IIOKit io, nint cf)
    {
        if (cf == 0 || io.CFGetTypeID(cf) != io.CFDataGetTypeID())
        {
            return null;
        }

        byte[] bytes = new byte[checked((int)io.CFDataGetLength(cf))];
        io.CFDataGetBytes(cf, 0, bytes);
        return bytes;
    }

    /// <summary>
    /// A PCI ID property: IOPCIFamily publishes <c>vendor-id</c>, <c>device-id</c>, <c>revision-id</c> and <c>class-code</c>
    /// as 4-byte little-endian <c>CFData</c>; a <c>CFNumber</c> is accepted too. Null when absent or shorter than 4 bytes.
    /// </summary>
    public static uint? GetUInt32(IIOKit io, nint cf)
    {
        if (GetBytes(io, cf) is { } bytes)
        {
            return bytes.Length >= 4 ? BinaryPrimitives.ReadUInt32LittleEndian(bytes) : null;
        }

        return GetInt64(io, cf) is { } n ? unchecked((uint)n) : null;
    }

    /// <summary>Whether <paramref name="cf"/> is a <c>CFDictionary</c>.</summary>
    public static bool IsDictionary(IIOKit io, nint cf) => cf != 0 && io.CFGetTypeID(cf) == io.CFDictionaryGetTypeID();

    /// <summary>The value for <paramref name="key"/> in a dictionary: borrowed, valid while the dictionary is.</summary>
    public static nint GetValue(IIOKit io, nint dictionary, string key)
    {
        using var k = CreateString(io, key);
        return io.CFDictionaryGetValue(dictionary, k.Handle);
    }

    /// <summary>Sets a string value in a mutable dictionary (the dictionary retains what it needs).</summary>
    public static void SetString(IIOKit io, nint dictionary, string key, string value)
    {
        using var k = CreateString(io, key);
        using var v = CreateString(io, value);
        io.CFDictionarySetValue(dictionary, k.Handle, v.Handle);
    }

    /// <summary>
    /// A matching dictionary (+1) for services of <paramref name="className"/> whose properties include every pair of
    /// <paramref name="propertyMatch"/> (<c>IOPropertyMatch</c>). Pass it to a consuming call, or dispose it.
    /// </summary>
    public static CFRef CreateMatching(IIOKit io, string className, IReadOnlyList<KeyValuePair<string, string>> propertyMatch)
    {
        nint matching = io.IOServiceMatching(className);
        if (matching == 0)
        {
            throw new InvalidOperationException($"IOServiceMatching(\"{className}\") returned NULL");
        }

        var result = new CFRef(io, matching);
        try
        {
            if (propertyMatch.Count > 0)
            {
                using var properties = new CFRef(io, io.CFDictionaryCreateMutable());
                if (properties.IsNull)
                {
                    throw new InvalidOperationException("CFDictionaryCreateMutable returned NULL");
                }

                foreach (var (key, value) in propertyMatch)
                {
                    SetString(io, properties.Handle, key, value);
                }

                using var k = CreateString(io, IOKitConstants.PropertyMatchKey);
                io.CFDictionarySetValue(matching, k.Handle, properties.Handle);
            }

            return result;
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    /// <summary>A copy (+1) of a registry entry's own property (0 inside when absent).</summary>
    public static CFRef CopyProperty(IIOKit io, uint entry, string key)
    {
        using var k = CreateString(io, key);
        return new CFRef(io, io.IORegistryEntryCreateCFProperty(entry, k.Handle));
    }

    /// <summary>A copy (+1) of a property of the entry or, failing that, of its nearest ancestor in the service plane that has it.</summary>
    public static CFRef SearchParents(IIOKit io, uint entry, string key)
    {
        using var k = CreateString(io, key);
        return new CFRef(io, io.IORegistryEntrySearchCFProperty(entry, IOKitConstants.ServicePlane, k.Handle,
            IOKitConstants.IterateRecursively | IOKitConstants.IterateParents));
    }

    /// <summary>Reads and converts a property of the entry or its ancestors; the copy is released.</summary>
    public static T? SearchParents<T>(IIOKit io, uint entry, string key, Func<IIOKit, nint, T?> convert)
    {
        using var value = SearchParents(io, entry, key);
        return convert(io, value.Handle);
    }
}
