using System.Text.RegularExpressions;
using FluentAssertions;
using LitePcie.Hil.Options;
using LitePcie.Hil.Tests.Support;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Reporting;

/// <summary>The nightly workflow only names files, parameters and labels that exist.</summary>
[TestFixture]
public sealed partial class NightlyWorkflowTests
{
    private static readonly string Workflow = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, ".github", "workflows", "nightly.yml"));

    [Test]
    public void Every_runsettings_file_and_script_it_names_exists()
    {
        var paths = RepoPath().Matches(Workflow).Select(m => m.Value).Distinct().ToList();
        paths.Should().Contain(["runsettings/nightly.runsettings", "runsettings/linux-lab.runsettings", "runsettings/macos-lab.runsettings", "reports/report.sh"]);
        paths.Where(p => !File.Exists(Path.Combine(TestPaths.RepoRoot, p))).Should().BeEmpty("every file the workflow uses is in the repository");
    }

    [Test]
    public void Every_test_run_parameter_it_passes_is_one_the_suites_accept()
    {
        var names = Parameter().Matches(Workflow).Select(m => m.Groups[1].Value).Distinct().ToList();
        names.Should().NotBeEmpty();
        names.Except(HilOptions.Definitions.Select(d => d.Name)).Should().BeEmpty("an unknown parameter fails the whole run");
    }

    [Test]
    public void Lab_hosts_are_selected_by_the_documented_labels()
    {
        Workflow.Should().Contain("[self-hosted, litepcie-linux").And.Contain("[self-hosted, litepcie-macos").And.Contain("[self-hosted, litepcie-sil]");
        File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "docs", "lab.md")).Should().Contain("litepcie-linux").And.Contain("litepcie-macos").And.Contain("litepcie-sil");
    }

    [GeneratedRegex(@"(?:runsettings|reports)/[A-Za-z0-9._-]+\.(?:runsettings|sh)")]
    private static partial Regex RepoPath();

    [GeneratedRegex(@"Parameter\(name=\\""([A-Za-z]+)\\""")]
    private static partial Regex Parameter();
}
