using System.Text.Json.Serialization;

namespace LitePcie.Hil.Reporting.Allure;

/// <summary>Allure status: <c>failed</c> = an assertion (product defect), <c>broken</c> = a device, transport or test error.</summary>
public enum AllureStatus
{
    [JsonStringEnumMemberName("passed")]
    Passed,

    [JsonStringEnumMemberName("failed")]
    Failed,

    [JsonStringEnumMemberName("broken")]
    Broken,

    [JsonStringEnumMemberName("skipped")]
    Skipped,
}

/// <summary>Allure stage of an executable item.</summary>
public enum AllureStage
{
    [JsonStringEnumMemberName("scheduled")]
    Scheduled,

    [JsonStringEnumMemberName("running")]
    Running,

    [JsonStringEnumMemberName("finished")]
    Finished,

    [JsonStringEnumMemberName("pending")]
    Pending,

    [JsonStringEnumMemberName("interrupted")]
    Interrupted,
}

/// <summary>Why an item has its status.</summary>
public sealed class AllureStatusDetails
{
    public bool Known { get; set; }

    public bool Muted { get; set; }

    public bool Flaky { get; set; }

    public string? Message { get; set; }

    public string? Trace { get; set; }
}

/// <summary>A label (suite tree, metadata, integration; custom names allowed).</summary>
public sealed record AllureLabel(string Name, string Value);

/// <summary>A link (<c>link</c>, <c>issue</c> or <c>tms</c>).</summary>
public sealed record AllureLink(string Name, string Url, string Type);

/// <summary>A parameter; <see cref="Excluded"/> keeps it out of the history identity (serials, seeds).</summary>
public sealed record AllureParameter(string Name, string Value)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool Excluded { get; init; }
}

/// <summary>An attachment: <see cref="Source"/> is the file name in the results directory.</summary>
public sealed record AllureAttachment(string Name, string Source, string Type);

/// <summary>What results, fixtures and steps share.</summary>
public abstract class AllureExecutableItem
{
    public string Name { get; set; } = "";

    public AllureStatus? Status { get; set; }

    public AllureStatusDetails? StatusDetails { get; set; }

    public AllureStage Stage { get; set; } = AllureStage.Running;

    public string? Description { get; set; }

    /// <summary>Unix epoch milliseconds.</summary>
    public long Start { get; set; }

    /// <summary>Unix epoch milliseconds.</summary>
    public long Stop { get; set; }

    public List<AllureStep> Steps { get; init; } = [];

    public List<AllureAttachment> Attachments { get; init; } = [];

    public List<AllureParameter> Parameters { get; init; } = [];
}

/// <summary>A step of a test or fixture (steps nest).</summary>
public sealed class AllureStep : AllureExecutableItem;

/// <summary>A fixture setup (<c>befores</c>) or teardown (<c>afters</c>) of a container.</summary>
public sealed class AllureFixtureResult : AllureExecutableItem;

/// <summary>The content of a <c>*-result.json</c> file.</summary>
public sealed class AllureTestResult : AllureExecutableItem
{
    public string Uuid { get; set; } = "";

    public string? HistoryId { get; set; }

    public string? TestCaseId { get; set; }

    public string FullName { get; set; } = "";

    public List<string> TitlePath { get; init; } = [];

    public List<AllureLabel> Labels { get; init; } = [];

    public List<AllureLink> Links { get; init; } = [];
}

/// <summary>The content of a <c>*-container.json</c> file: fixture setup/teardown shared by its children.</summary>
public sealed class AllureContainer
{
    public string Uuid { get; set; } = "";

    public string Name { get; set; } = "";

    public List<string> Children { get; init; } = [];

    public List<AllureFixtureResult> Befores { get; init; } = [];

    public List<AllureFixtureResult> Afters { get; init; } = [];

    public List<AllureLink> Links { get; init; } = [];

    public long Start { get; set; }

    public long Stop { get; set; }
}

/// <summary>The content of <c>executor.json</c>: the CI run a result set came from.</summary>
public sealed record AllureExecutor
{
    public required string Name { get; init; }

    public required string Type { get; init; }

    public string? Url { get; init; }

    public long? BuildOrder { get; init; }

    public string? BuildName { get; init; }

    public string? BuildUrl { get; init; }

    public string? ReportName { get; init; }

    public string? ReportUrl { get; init; }
}

/// <summary>One entry of <c>categories.json</c> (the Allure 2 format Allure 3 also accepts).</summary>
public sealed record AllureCategory
{
    public required string Name { get; init; }

    public string? Description { get; init; }

    public IReadOnlyList<string> MatchedStatuses { get; init; } = [];

    public string? MessageRegex { get; init; }

    public string? TraceRegex { get; init; }
}

/// <summary>Source-generated JSON for the Allure files: camelCase names, nulls omitted, enums as Allure's words.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true)]
[JsonSerializable(typeof(AllureTestResult))]
[JsonSerializable(typeof(AllureContainer))]
[JsonSerializable(typeof(AllureExecutor))]
[JsonSerializable(typeof(List<AllureCategory>))]
internal sealed partial class AllureJson : JsonSerializerContext;
