using System.CommandLine;
using System.CommandLine.Parsing;

namespace LitePcie.Hil.Options;

/// <summary>
/// A command-line option built from the <see cref="OptionAttribute"/> declaration of a setting, so that the command line
/// and the runsettings cannot drift: the flag (<see cref="OptionAttribute.Cli"/>, its last word), the help (what the
/// option does and what it accepts), the default (<see cref="OptionAttribute.CliDefault"/>, else the declared one) and
/// every check come from that one declaration, and a refused value is refused in the binder's words with the flag as
/// the field (<c>--lead '70000': accepted an integer in 0..65536</c>).
/// </summary>
/// <remarks>
/// One source for both executables that take declared options: <c>litepcie-hil</c> (the runsettings' twins) and
/// <c>litepcie-hil-device-server</c> (which links this file) — System.CommandLine stays out of the libraries.
/// </remarks>
internal static class DeclaredOption
{
    /// <summary>The option of the parameter <paramref name="parameter"/> of <paramref name="binder"/>'s record.</summary>
    /// <typeparam name="T">The option's type: the declared type, or <see cref="string"/> for an enum (its lower-case word) or a record's own type (the text given).</typeparam>
    /// <typeparam name="TOptions">The options record the declaration belongs to.</typeparam>
    /// <param name="binder">The binder of the declarations.</param>
    /// <param name="parameter">The declared name, e.g. <c>nameof(SimOptions.SimEngine)</c>.</param>
    /// <param name="description">What the option does in this command; null = the declaration's doc.</param>
    /// <param name="unit">The unit the help adds after the range, if any.</param>
    /// <param name="flag">The flag when the declaration names none (a parameter the record checks itself, such as <c>Board</c>).</param>
    /// <exception cref="InvalidOperationException">The declaration names no flag, or refuses its own default.</exception>
    public static Option<T> Of<T, TOptions>(OptionBinder<TOptions> binder, string parameter, string? description = null, string unit = "", string? flag = null)
        where TOptions : class, new()
    {
        var d = binder[parameter];
        flag ??= d.Declaration.Cli?.Split(' ')[^1]
            ?? throw new InvalidOperationException($"{parameter}: its declaration names no command-line option (Cli = …)");
        string defaultText = d.Declaration.CliDefault ?? d.Default;

        // A parameter bound by its record's own rules (it depends on others) and with no parser of its type is passed on as
        // text: the record's rules check it, as they do the runsettings' value.
        bool own = d.Declaration.Custom && !binder.CanParse(d);
        var problems = new List<string>();
        T defaultValue = own ? As<T>(defaultText, defaultText) : As<T>(binder.Value(d, defaultText, problems, flag), defaultText);
        if (problems.Count > 0)
        {
            throw new InvalidOperationException($"{parameter}: the command line's default is refused by its own declaration: {string.Join("; ", problems)}");
        }

        string accepted = d.Accepted.Replace("`", "", StringComparison.Ordinal);
        return new Option<T>(flag)
        {
            Description = $"{description ?? d.Description} ({accepted}{(unit.Length == 0 ? "" : " " + unit)})",
            DefaultValueFactory = _ => defaultValue,
            CustomParser = result =>
            {
                if (result.Tokens.Count == 0)
                {
                    // A switch given without a value is on (`--paced`); an option not given keeps its default.
                    return typeof(T) == typeof(bool) && result.Parent is OptionResult { Implicit: false } ? (T)(object)true : defaultValue;
                }

                string text = result.Tokens[^1].Value;
                if (own)
                {
                    return As<T>(text, text);
                }

                var errors = new List<string>();
                var value = binder.Value(d, text, errors, flag);
                if (errors.Count == 0)
                {
                    return As<T>(value, text);
                }

                foreach (var e in errors)
                {
                    result.AddError(e);
                }

                return defaultValue;
            },
        };
    }

    /// <summary>A bound value as the option's type: an enum as its lower-case word, a value of the record's own type as the text given.</summary>
    private static T As<T>(object? value, string text) => value switch
    {
        T same => same,
        Enum e when typeof(T) == typeof(string) => (T)(object)e.ToString().ToLowerInvariant(),
        _ when typeof(T) == typeof(string) => (T)(object)text,
        _ => throw new InvalidOperationException($"{text}: bound as {value?.GetType().Name ?? "nothing"}, not {typeof(T).Name}"),
    };
}
