using System.Text.Json;
using System.Text.RegularExpressions;

namespace LitePcie.Hil;

/// <summary>
/// One way to say where a JSON document is malformed. System.Text.Json counts lines and columns from 0 and appends
/// them to its message ("… LineNumber: 0 | BytePositionInLine: 6."); a user's editor counts from 1, so the position
/// is given once, 1-based, before the parser's sentence.
/// </summary>
public static partial class JsonErrors
{
    /// <summary>"line 2, column 7: '}' is an invalid start of a value".</summary>
    public static string Describe(JsonException e) => Position(e) is { } where ? $"{where}: {Message(e)}" : Message(e);

    /// <summary>"line 2, column 7" (1-based), or null when the parser gave no position.</summary>
    public static string? Position(JsonException e) =>
        e.LineNumber is { } line ? $"line {line + 1}, column {(e.BytePositionInLine ?? 0) + 1}" : null;

    /// <summary>The parser's sentence without its 0-based position suffix.</summary>
    public static string Message(JsonException e)
    {
        string message = Suffix().Replace(e.Message, "").Trim();
        return message.EndsWith('.') ? message[..^1] : message;
    }

    [GeneratedRegex(@"\s*(Path: \S* \| )?LineNumber: \d+ \| BytePositionInLine: \d+\.?\s*$")]
    private static partial Regex Suffix();
}
