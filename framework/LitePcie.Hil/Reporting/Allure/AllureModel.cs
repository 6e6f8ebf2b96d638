using System.Text.Json.Serialization;

namespace LitePcie.Hil.Reporting.Allure;

/// <summary>Allure status: <c>failed</c> = an assertion (product defect), <c>broken</c> = a device, transport or test error.</summary>
public enum AllureStatus
{
    /// <summary>The test ran and every assertion held.</summary>
    [JsonStringEnumMemberName("passed")]
    Passed,

    /// <summary>An assertion failed: a defect of the device or driver under test.</summary>
    [JsonStringEnumMemberName("failed")]
    Failed,

    /// <summary>The test could not judge: a device, transport or test-code error.</summary>
    [JsonStringEnumMemberName("broken")]
    Broken,

    /// <summary>The test did not run; the status details say why.</summary>
    [JsonStringEnumMemberName("skipped")]
    Skipped,
}

/// <summary>Allure stage of an executable item.</summary>
public enum AllureStage
{
    /// <summary>Queued, not started.</summary>
    [JsonStringEnumMemberName("scheduled")]
    Scheduled,

    /// <summary>Started, not finished.</summary>
    [JsonStringEnumMemberName("running")]
    Running,

    /// <summary>Done; the status is final.</summary>
    [JsonStringEnumMemberName("finished")]
    Finished,

    /// <summary>Waiting on something outside the run.</summary>
    [JsonStringEnumMemberName("pending")]
    Pending,

    /// <summary>Stopped before it finished (the run was cancelled or the process ended).</summary>
    [JsonStringEnumMemberName("interrupted")]
    Interrupted,
}

/// <summary>Why an item has its status.</summary>
public sealed class AllureStatusDetails
{
    /// <summary>A known defect (Allure marks the result as such).</summary>
    public bool Known { get; set; }

    /// <summary>Excluded from the report's statistics.</summary>
    public bool Muted { get; set; }

    /// <summary>Marked flaky: its status changed across recent runs.</summary>
    public bool Flaky { get; set; }

    /// <summary>The failure or skip message (the assertion in device terms, or the reason).</summary>
    public string? Message { get; set; }

    /// <summary>The stack trace of the failure.</summary>
    public string? Trace { get; set; }
}

/// <summary>A label (suite tree, metadata, integration; custom names allowed).</summary>
public sealed record AllureLabel(string Name, string Value);

/// <summary>A link (<c>link</c>, <c>issue</c> or <c>tms</c>).</summary>
public sealed record AllureLink(string Name, string Url, string Type);

/// <summary>A parameter; <see cref="Excluded"/> keeps it out of the history identity (serials, seeds).</summary>
public sealed record AllureParameter(string Name, string Value)
{
    /// <summary>Kept out of the history identity (serial numbers, seeds, bus addresses).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool Excluded { get; init; }
}

/// <summary>An attachment: <see cref="Source"/> is the file name in the results directory.</summary>
public sealed record AllureAttachment(string Name, string Source, string Type);

/// <summary>What results, fixtures and steps share.</summary>
public abstract class AllureExecutableItem
{
    /// <summary>Title shown in the report.</summary>
    public string Name { get; set; } = "";

    /// <summary>Outcome; null while running.</summary>
    public AllureStatus? Status { get; set; }

    /// <summary>Why the item has its status.</summary>
    public AllureStatusDetails? StatusDetails { get; set; }

    /// <summary>Where the item is in its life cycle.</summary>
    public AllureStage Stage { get; set; } = AllureStage.Running;

    /// <summary>Markdown description shown under the title.</summary>
    public string? Description { get; set; }

    /// <summary>Unix epoch milliseconds.</summary>
    public long Start { get; set; }

    /// <summary>Unix epoch milliseconds.</summary>
    public long Stop { get; set; }

    /// <summary>Nested steps, in order.</summary>
    public List<AllureStep> Steps { get; init; } = [];

    /// <summary>Files attached to this item (logs, CSV samples, charts).</summary>
    public List<AllureAttachment> Attachments { get; init; } = [];

    /// <summary>Parameters shown with the item (board, size, direction).</summary>
    public List<AllureParameter> Parameters { get; init; } = [];
}

/// <summary>A step of a test or fixture (steps nest).</summary>
public sealed class AllureStep : AllureExecutableItem;

/// <summary>A fixture setup (<c>befores</c>) or teardown (<c>afters</c>) of a container.</summary>
public sealed class AllureFixtureResult : AllureExecutableItem;

/// <summary>The content of a <c>*-result.json</c> file.</summary>
public sealed class AllureTestResult : AllureExecutableItem
{
    /// <summary>File identity of this result (its file is <c>&lt;uuid&gt;-result.json</c>).</summary>
    public string Uuid { get; set; } = "";

    /// <summary>Identity across runs: full name plus the non-excluded parameters.</summary>
    public string? HistoryId { get; set; }

    /// <summary>Identity of the test case: MD5 of the full name.</summary>
    public string? TestCaseId { get; set; }

    /// <summary>Assembly, namespace, class, method and parameter types.</summary>
    public string FullName { get; set; } = "";

    /// <summary>The path of the test in the report's tree (suite, board).</summary>
    public List<string> TitlePath { get; init; } = [];

    /// <summary>Labels: suite tree, severity, feature, spec ids, host.</summary>
    public List<AllureLabel> Labels { get; init; } = [];

    /// <summary>Links to issues and documents.</summary>
    public List<AllureLink> Links { get; init; } = [];
}

/// <summary>The content of a <c>*-container.json</c> file: fixture setup/teardown shared by its children.</summary>
public sealed class AllureContainer
{
    /// <summary>File identity of this container (its file is <c>&lt;uuid&gt;-container.json</c>).</summary>
    public string Uuid { get; set; } = "";

    /// <summary>Title of the fixture the container stands for.</summary>
    public string Name { get; set; } = "";

    /// <summary>Uuids of the results the fixture surrounds.</summary>
    public List<string> Children { get; init; } = [];

    /// <summary>Set-up fixtures that ran before the children.</summary>
    public List<AllureFixtureResult> Befores { get; init; } = [];

    /// <summary>Tear-down fixtures that ran after the children.</summary>
    public List<AllureFixtureResult> Afters { get; init; } = [];

    /// <summary>Links shown with the container.</summary>
    public List<AllureLink> Links { get; init; } = [];

    /// <summary>Start time, milliseconds since the Unix epoch.</summary>
    public long Start { get; set; }

    /// <summary>Stop time, milliseconds since the Unix epoch.</summary>
    public long Stop { get; set; }
}

/// <summary>The content of <c>executor.json</c>: the CI run a result set came from.</summary>
public sealed record AllureExecutor
{
    /// <summary>Name of the executor (CI system or host).</summary>
    public required string Name { get; init; }

    /// <summary>Executor type, e.g. <c>github</c> or <c>local</c>.</summary>
    public required string Type { get; init; }

    /// <summary>Link to the executor.</summary>
    public string? Url { get; init; }

    /// <summary>Build number, which orders runs in the history.</summary>
    public long? BuildOrder { get; init; }

    /// <summary>Build name shown in the report.</summary>
    public string? BuildName { get; init; }

    /// <summary>Link to the build.</summary>
    public string? BuildUrl { get; init; }

    /// <summary>Title of the report.</summary>
    public string? ReportName { get; init; }

    /// <summary>Where the report is published.</summary>
    public string? ReportUrl { get; init; }
}

/// <summary>One entry of <c>categories.json</c> (the Allure 2 format Allure 3 also accepts).</summary>
public sealed record AllureCategory
{
    /// <summary>Category title.</summary>
    public required string Name { get; init; }

    /// <summary>What the category means.</summary>
    public string? Description { get; init; }

    /// <summary>Statuses the category applies to.</summary>
    public IReadOnlyList<string> MatchedStatuses { get; init; } = [];

    /// <summary>A result whose message matches this regular expression belongs to the category.</summary>
    public string? MessageRegex { get; init; }

    /// <summary>A result whose trace matches this regular expression belongs to the category.</summary>
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
