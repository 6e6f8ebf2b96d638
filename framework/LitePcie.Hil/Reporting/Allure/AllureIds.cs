using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace LitePcie.Hil.Reporting.Allure;

/// <summary>
/// Test identity the way Allure's .NET adapters compute it, so that history lines up across runs and boards:
/// <c>fullName</c> carries no argument values, <c>testCaseId</c> = MD5(fullName), <c>historyId</c> =
/// MD5 of <c>{"fullName":…,"parameters":[values of non-excluded parameters ordered by name]}</c>.
/// Board serials, seeds and timestamps belong in labels or excluded parameters, never in these.
/// </summary>
public static class AllureIds
{
    private static readonly Assembly SystemAssembly = typeof(object).Assembly;

    private static readonly JsonWriterOptions HistoryJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>A fresh result or container uuid ("D" format).</summary>
    public static string NewUuid() => Guid.NewGuid().ToString("D");

    /// <summary><c>Assembly:Namespace.Class.Method(ParamType,…)</c> of a test method run on <paramref name="fixture"/>.</summary>
    /// <param name="fixture">The fixture type the test ran on (its declaring type when null).</param>
    /// <param name="method">The test method.</param>
    public static string FullName(Type? fixture, MethodInfo method)
    {
        if (method.IsGenericMethod && !method.IsGenericMethodDefinition)
        {
            method = method.GetGenericMethodDefinition();
        }

        var type = fixture ?? method.DeclaringType ?? throw new ArgumentException($"{method.Name} has no declaring type", nameof(method));
        return $"{TypeId(type)}.{method.Name}{TypeList(method.GetGenericArguments(), brackets: true)}({TypeList(method.GetParameters().Select(p => p.ParameterType), brackets: false)})";
    }

    /// <summary>Assembly, namespace parts and class: the path to a test class in the result tree.</summary>
    public static List<string> TitlePath(Type fixture) =>
        [fixture.Assembly.GetName().Name ?? "", .. (fixture.Namespace ?? "").Split('.', StringSplitOptions.RemoveEmptyEntries), NestedName(fixture)];

    /// <summary>MD5(fullName), lowercase hex.</summary>
    public static string TestCaseId(string fullName) => Md5(fullName);

    /// <summary>MD5 of the full name and the values of the non-excluded parameters ordered by name.</summary>
    public static string HistoryId(string fullName, IEnumerable<AllureParameter> parameters)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, HistoryJson))
        {
            w.WriteStartObject();
            w.WriteString("fullName", fullName);
            w.WriteStartArray("parameters");
            foreach (var p in parameters.Where(p => !p.Excluded).OrderBy(p => p.Name, StringComparer.Ordinal))
            {
                w.WriteStringValue(p.Value);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return Md5(buffer.ToArray());
    }

    private static string TypeId(Type type) =>
        type.IsGenericParameter ? type.Name
        : (type.Assembly == SystemAssembly ? "" : $"{type.Assembly.GetName().Name}:") + QualifiedName(type) + TypeList(type.GetGenericArguments(), brackets: true);

    private static string QualifiedName(Type type) =>
        type.IsNested && type.DeclaringType is { } outer ? $"{QualifiedName(outer)}+{type.Name}"
        : string.IsNullOrEmpty(type.Namespace) ? type.Name : $"{type.Namespace}.{type.Name}";

    private static string NestedName(Type type) =>
        (type.IsNested && type.DeclaringType is { } outer ? $"{NestedName(outer)}+{type.Name}" : type.Name) + TypeList(type.GetGenericArguments(), brackets: true);

    private static string TypeList(IEnumerable<Type> types, bool brackets)
    {
        string list = string.Join(",", types.Select(TypeId));
        return brackets ? (list.Length == 0 ? "" : $"[{list}]") : list;
    }

    private static string Md5(string text) => Md5(Encoding.UTF8.GetBytes(text));

    [SuppressMessage("Security", "CA5351", Justification = "MD5 is Allure's identity function for history, not a security measure")]
    private static string Md5(byte[] bytes) => Convert.ToHexStringLower(MD5.HashData(bytes));
}
