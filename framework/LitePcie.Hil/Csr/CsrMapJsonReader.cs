using System.Text.Json;

namespace LitePcie.Hil.Csr;

/// <summary>Reads LiteX <c>csr.json</c> (docs/gateware.md#csrjson).</summary>
internal static class CsrMapJsonReader
{
    private static readonly JsonDocumentOptions s_options = new()
    {
        AllowTrailingCommas = false,
        CommentHandling = JsonCommentHandling.Disallow,
        MaxDepth = 16,
    };

    public static CsrMap Read(string text, string source, PhyFamily? phyFamilyOverride)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(text, s_options);
        }
        catch (JsonException e)
        {
            throw new CsrMapException(source, JsonErrors.Position(e), $"malformed JSON: {JsonErrors.Message(e)}", e);
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new CsrMapException(source, null, $"top level must be an object, found {root.ValueKind}");
            }

            var bases = new Dictionary<string, uint>(StringComparer.Ordinal);
            foreach (var p in Section(root, "csr_bases", source, required: true))
            {
                bases[p.Name] = ReadUInt32(p.Value, source, $"csr_bases.{p.Name}");
            }

            var registers = new List<CsrRegister>();
            foreach (var p in Section(root, "csr_registers", source, required: true))
            {
                string entry = $"csr_registers.{p.Name}";
                if (p.Value.ValueKind != JsonValueKind.Object)
                {
                    throw new CsrMapException(source, entry, $"expected an object with addr/size/type, found {p.Value.ValueKind}");
                }

                uint addr = ReadUInt32(Field(p.Value, "addr", source, entry), source, entry + ".addr");
                long size = ReadInteger(Field(p.Value, "size", source, entry), source, entry + ".size");
                var typeElement = Field(p.Value, "type", source, entry);
                if (typeElement.ValueKind != JsonValueKind.String)
                {
                    throw new CsrMapException(source, entry + ".type", "expected \"rw\" or \"ro\"");
                }

                registers.Add(CsrMapValidator.MakeRegister(source, p.Name, addr, size, typeElement.GetString()!));
            }

            var constants = new Dictionary<string, CsrConstant>(StringComparer.Ordinal);
            foreach (var p in Section(root, "constants", source, required: false))
            {
                constants[p.Name] = p.Value.ValueKind switch
                {
                    JsonValueKind.Null => new CsrConstant(p.Name, null, null),
                    JsonValueKind.Number => new CsrConstant(p.Name, ReadInteger(p.Value, source, $"constants.{p.Name}"), null),
                    JsonValueKind.String => new CsrConstant(p.Name, null, p.Value.GetString()),
                    JsonValueKind.True => new CsrConstant(p.Name, 1, null),
                    JsonValueKind.False => new CsrConstant(p.Name, 0, null),
                    var k => throw new CsrMapException(source, $"constants.{p.Name}", $"expected an integer, string or null, found {k}"),
                };
            }

            var memories = new Dictionary<string, CsrMemoryRegion>(StringComparer.Ordinal);
            foreach (var p in Section(root, "memories", source, required: false))
            {
                string entry = $"memories.{p.Name}";
                if (p.Value.ValueKind != JsonValueKind.Object)
                {
                    throw new CsrMapException(source, entry, $"expected an object with base/size/type, found {p.Value.ValueKind}");
                }

                long b = ReadInteger(Field(p.Value, "base", source, entry), source, entry + ".base");
                long s = ReadInteger(Field(p.Value, "size", source, entry), source, entry + ".size");
                if (b < 0 || s < 0)
                {
                    throw new CsrMapException(source, entry, "base and size must not be negative");
                }

                string type = p.Value.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "";
                memories[p.Name] = new CsrMemoryRegion(p.Name, (ulong)b, (ulong)s, type);
            }

            var cores = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var p in Section(root, "cores", source, required: false))
            {
                if (p.Value.ValueKind != JsonValueKind.String)
                {
                    throw new CsrMapException(source, $"cores.{p.Name}", $"expected a class name string, found {p.Value.ValueKind}");
                }

                cores[p.Name] = p.Value.GetString()!;
            }

            return new CsrMap(source, bases, registers, constants, memories, cores, phyFamilyOverride);
        }
    }

    private static JsonElement.ObjectEnumerator Section(JsonElement root, string name, string source, bool required)
    {
        if (!root.TryGetProperty(name, out var section))
        {
            if (required)
            {
                throw new CsrMapException(source, name, "required section is missing");
            }

            return default;
        }

        if (section.ValueKind != JsonValueKind.Object)
        {
            throw new CsrMapException(source, name, $"expected an object, found {section.ValueKind}");
        }

        return section.EnumerateObject();
    }

    private static JsonElement Field(JsonElement obj, string name, string source, string entry) =>
        obj.TryGetProperty(name, out var v) ? v : throw new CsrMapException(source, entry, $"missing field '{name}'");

    private static long ReadInteger(JsonElement e, string source, string entry)
    {
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt64(out long v))
        {
            throw new CsrMapException(source, entry, $"expected an integer, found {(e.ValueKind == JsonValueKind.Number ? e.GetRawText() : e.ValueKind.ToString())}");
        }

        return v;
    }

    private static uint ReadUInt32(JsonElement e, string source, string entry)
    {
        long v = ReadInteger(e, source, entry);
        if (v is < 0 or > uint.MaxValue)
        {
            throw new CsrMapException(source, entry, $"address {v} is outside the 32-bit CSR address space");
        }

        return (uint)v;
    }
}
