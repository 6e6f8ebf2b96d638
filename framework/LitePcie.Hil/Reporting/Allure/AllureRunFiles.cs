using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace LitePcie.Hil.Reporting.Allure;

/// <summary>The run-level files Allure reads beside the results: environment, executor and categories.</summary>
public static class AllureRunFiles
{
    /// <summary>
    /// <c>environment.properties</c> (Java properties, UTF-8): one <c>key=value</c> line each, keys in the given
    /// order, separators and line breaks escaped so a value can never split into two entries.
    /// </summary>
    public static byte[] Environment(IEnumerable<KeyValuePair<string, string>> entries)
    {
        var sb = new StringBuilder();
        foreach (var (key, value) in entries)
        {
            sb.Append(Escape(key, isKey: true)).Append('=').Append(Escape(value, isKey: false)).Append('\n');
        }

        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    /// <summary>
    /// The CI run the results came from, read from the CI engine's variables (GitHub Actions, GitLab CI, Jenkins);
    /// null when the run is not under CI.
    /// </summary>
    public static AllureExecutor? ExecutorFromEnvironment(IDictionary? variables = null)
    {
        variables ??= System.Environment.GetEnvironmentVariables();
        string? Get(string name) => variables[name] as string is { Length: > 0 } v ? v : null;
        long? Long(string name) => long.TryParse(Get(name), NumberStyles.None, CultureInfo.InvariantCulture, out long v) ? v : null;

        if (Get("GITHUB_ACTIONS") == "true")
        {
            string server = Get("GITHUB_SERVER_URL") ?? "https://github.com";
            string? repo = Get("GITHUB_REPOSITORY");
            string? run = Get("GITHUB_RUN_ID");
            return new AllureExecutor
            {
                Name = "GitHub Actions",
                Type = "github",
                Url = repo is null ? server : $"{server}/{repo}",
                BuildOrder = Long("GITHUB_RUN_NUMBER"),
                BuildName = $"{Get("GITHUB_WORKFLOW") ?? "workflow"} #{Get("GITHUB_RUN_NUMBER") ?? "?"} on {Get("RUNNER_NAME") ?? System.Environment.MachineName}",
                BuildUrl = repo is null || run is null ? null : $"{server}/{repo}/actions/runs/{run}",
            };
        }

        if (Get("GITLAB_CI") == "true")
        {
            return new AllureExecutor
            {
                Name = "GitLab CI",
                Type = "gitlab",
                Url = Get("CI_PROJECT_URL"),
                BuildOrder = Long("CI_PIPELINE_IID"),
                BuildName = $"{Get("CI_JOB_NAME") ?? "job"} #{Get("CI_PIPELINE_IID") ?? "?"}",
                BuildUrl = Get("CI_JOB_URL"),
            };
        }

        if (Get("JENKINS_URL") is { } jenkins)
        {
            return new AllureExecutor
            {
                Name = "Jenkins",
                Type = "jenkins",
                Url = jenkins,
                BuildOrder = Long("BUILD_NUMBER"),
                BuildName = Get("BUILD_TAG") ?? $"{Get("JOB_NAME")} #{Get("BUILD_NUMBER")}",
                BuildUrl = Get("BUILD_URL"),
            };
        }

        return null;
    }

    /// <summary><c>executor.json</c>.</summary>
    public static byte[] Executor(AllureExecutor executor) => JsonSerializer.SerializeToUtf8Bytes(executor, AllureJson.Default.AllureExecutor);

    /// <summary>Parses a <c>categories.json</c>; throws <see cref="FormatException"/> naming the problem.</summary>
    public static IReadOnlyList<AllureCategory> ParseCategories(string json, string source)
    {
        List<AllureCategory>? categories;
        try
        {
            categories = JsonSerializer.Deserialize(json, AllureJson.Default.ListAllureCategory);
        }
        catch (JsonException e)
        {
            throw new FormatException($"{source}: not a categories array (malformed JSON at {JsonErrors.Describe(e)})", e);
        }

        if (categories is null || categories.Count == 0)
        {
            throw new FormatException($"{source}: no categories");
        }

        var statuses = new[] { "failed", "broken", "passed", "skipped", "unknown" };
        foreach (var (c, i) in categories.Select((c, i) => (c, i)))
        {
            if (string.IsNullOrWhiteSpace(c.Name))
            {
                throw new FormatException($"{source}: category [{i}] has no name");
            }

            if (c.MatchedStatuses.FirstOrDefault(s => !statuses.Contains(s)) is { } bad)
            {
                throw new FormatException($"{source}: category '{c.Name}': matchedStatuses '{bad}' (accepted: {string.Join(", ", statuses)})");
            }
        }

        return categories;
    }

    private static string Escape(string text, bool isKey)
    {
        var sb = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            switch (c)
            {
                case '\\': sb.Append(@"\\"); break;
                case '\n': sb.Append(@"\n"); break;
                case '\r': sb.Append(@"\r"); break;
                case '\t': sb.Append(@"\t"); break;
                case '=' or ':' when isKey: sb.Append('\\').Append(c); break;
                case ' ' when isKey || i == 0: sb.Append(@"\ "); break;
                case '#' or '!' when i == 0: sb.Append('\\').Append(c); break;
                default: sb.Append(c); break;
            }
        }

        return sb.ToString();
    }
}
