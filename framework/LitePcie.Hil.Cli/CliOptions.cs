using System.CommandLine;
using System.Globalization;
using LitePcie.Hil.Options;

namespace LitePcie.Hil.Cli;

/// <summary>
/// Builders for options whose bad values are reported the way a bench engineer needs them: the option's name, the
/// value given and the accepted range, as a parse error (exit code 2) before anything touches a device.
/// </summary>
internal static class CliOptions
{
    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    /// <summary>A number in <paramref name="min"/>..<paramref name="max"/> (invariant culture, e.g. <c>0.5</c>).</summary>
    public static Option<double> Number(string name, string description, double defaultValue, double min, double max, string unit) =>
        Checked(name, string.Create(C, $"{description} ({min:0.###}..{max:0.###}{Unit(unit)})"), defaultValue,
            text => (double.TryParse(text, NumberStyles.Float, C, out double v) && double.IsFinite(v) && v >= min && v <= max, v),
            string.Create(C, $"accepted range: {min:0.###}..{max:0.###}{Unit(unit)}"));

    /// <summary>An integer in <paramref name="min"/>..<paramref name="max"/>.</summary>
    public static Option<int> Integer(string name, string description, int defaultValue, int min, int max, string unit) =>
        Checked(name, string.Create(C, $"{description} ({min}..{max}{Unit(unit)})"), defaultValue,
            text => (int.TryParse(text, NumberStyles.Integer, C, out int v) && v >= min && v <= max, v),
            string.Create(C, $"accepted range: an integer {min}..{max}{Unit(unit)}"));

    /// <summary>One of a fixed set of words (case-insensitive, returned in lower case).</summary>
    public static Option<string> Choice(string name, string description, string defaultValue, params string[] accepted) =>
        Checked(name, $"{description}: {string.Join(" | ", accepted)}", defaultValue,
            text => accepted.FirstOrDefault(a => string.Equals(a, text, StringComparison.OrdinalIgnoreCase)) is { } word ? (true, word) : (false, defaultValue),
            $"accepted values: {string.Join(", ", accepted)}");

    /// <summary>
    /// The option that is the same setting as the runsettings parameter <paramref name="parameter"/> (its declaration's
    /// <see cref="OptionAttribute.Cli"/>): its flag, range, default (<see cref="OptionAttribute.CliDefault"/>, else the
    /// parameter's) and validation come from that one declaration, and a refused value gets the runsettings' words with
    /// the flag as the field (<c>--cycles '0': accepted an integer in 1..1000000</c>); see <see cref="DeclaredOption"/>.
    /// </summary>
    /// <param name="parameter">The runsettings name, e.g. <c>nameof(QualificationOptions.QualificationCycles)</c>.</param>
    /// <param name="description">What the option does in this command (the help adds what it accepts).</param>
    /// <param name="unit">The unit the help adds after the range, if any.</param>
    public static Option<T> Declared<T>(string parameter, string description, string unit = "") =>
        DeclaredOption.Of<T, HilOptions>(HilOptions.Binder, parameter, description, unit);

    private static string Unit(string unit) => unit.Length == 0 ? "" : " " + unit;

    /// <summary>
    /// An option parsed by <paramref name="parse"/> (false = refused); a refused value becomes a parse error
    /// "<c>--name 'value' is not accepted; rule</c>".
    /// </summary>
    private static Option<T> Checked<T>(string name, string description, T defaultValue, Func<string, (bool Ok, T Value)> parse, string rule) =>
        new(name)
        {
            Description = description,
            DefaultValueFactory = _ => defaultValue,
            CustomParser = result =>
            {
                if (result.Tokens.Count == 0)
                {
                    return defaultValue;
                }

                string text = result.Tokens[^1].Value;
                var (ok, value) = parse(text);
                if (ok)
                {
                    return value;
                }

                result.AddError($"{name} '{text}' is not accepted; {rule}".TrimEnd());
                return defaultValue;
            },
        };
}
