using System.Globalization;

namespace LitePcie.Hil.Devices;

/// <summary>
/// A PCI function's address, <c>domain:bus:device.function</c>, written as Linux, lspci and our reports write it
/// (<c>0000:01:00.0</c>: four, two and two hex digits, then the function). The one formatter and parser of the
/// address; the simulated bus places board <c>i</c> (from 0) at bus <c>i + 1</c>, device 0, function 0.
/// </summary>
/// <param name="Domain">PCI segment (0..0xFFFF).</param>
/// <param name="Bus">Bus number (0..0xFF).</param>
/// <param name="Device">Device number (0..31).</param>
/// <param name="Function">Function number (0..7).</param>
public readonly record struct PciAddress(int Domain, int Bus, int Device, int Function)
{
    /// <summary>The accepted form, for error messages.</summary>
    public const string Form = "domain:bus:device.function in hex, e.g. 0000:01:00.0 (device 0..1f, function 0..7)";

    /// <summary>The address of simulated board <paramref name="slot"/> (from 0): bus slot + 1.</summary>
    public static PciAddress OfSimulatedSlot(int slot) =>
        slot is >= 0 and < 0xFF
            ? new PciAddress(0, slot + 1, 0, 0)
            : throw new ArgumentOutOfRangeException(nameof(slot), slot, "a simulated bus has slots 0..254");

    /// <summary>The simulated slot (from 0) this address names: its bus less one.</summary>
    public int SimulatedSlot => Bus - 1;

    /// <summary>Parses <c>0000:01:00.0</c>; a <see cref="FormatException"/> naming the text and <see cref="Form"/> otherwise.</summary>
    public static PciAddress Parse(string text) =>
        TryParse(text, out var address) ? address : throw new FormatException($"PCI address '{text}': accepted {Form}");

    /// <summary>Parses <c>0000:01:00.0</c> (hex, any case); false for anything else.</summary>
    public static bool TryParse(string? text, out PciAddress address)
    {
        address = default;
        if (text is not { Length: 12 } || text[4] != ':' || text[7] != ':' || text[10] != '.')
        {
            return false;
        }

        if (!Hex(text.AsSpan(0, 4), out int domain) || !Hex(text.AsSpan(5, 2), out int bus) || !Hex(text.AsSpan(8, 2), out int device)
            || !Hex(text.AsSpan(11, 1), out int function) || device > 31 || function > 7)
        {
            return false;
        }

        address = new PciAddress(domain, bus, device, function);
        return true;
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Domain:x4}:{Bus:x2}:{Device:x2}.{Function:x}");

    private static bool Hex(ReadOnlySpan<char> digits, out int value) =>
        int.TryParse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
}
