using System.Text;
using LitePcie.Hil.Boards;
using LitePcie.Hil.Simulation.Gateware;
using LitePcie.Hil.Tests.Support;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Conformance;

/// <summary>
/// The conformance tier: every scenario runs with identical register-level stimuli on the gateware model and on the
/// board's real RTL (Verilator), and every observation must agree, except the differences the model declares on purpose
/// (<see cref="DeclaredDifferences"/>, each with its reason). Runs on every simulated board that has RTL.
/// </summary>
[TestFixture]
[Category("Conformance")]
[Parallelizable(ParallelScope.Children)]
public sealed class ConformanceTests
{
    public static IEnumerable<TestCaseData> Cases()
    {
        foreach (var board in BoardCatalog.BuiltInNames().Where(b => File.Exists(Path.Combine(TestPaths.Boards, b, "gateware.json"))).Order(StringComparer.Ordinal))
        {
            var profile = BoardCatalog.Load(board);
            // LITEPCIE_HIL_CONFORMANCE_ONLY=<part of a scenario name> narrows the tier while working on one item.
            string only = Environment.GetEnvironmentVariable("LITEPCIE_HIL_CONFORMANCE_ONLY") ?? "";
            foreach (var s in ConformanceScenarios.All.Where(s => (s.AppliesTo is null || s.AppliesTo(profile)) && s.Name.Contains(only, StringComparison.OrdinalIgnoreCase)))
            {
                yield return new TestCaseData(board, s.Name).SetName($"{board}: {s.Name} (item {s.Item})");
            }
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void Model_and_RTL_agree(string board, string scenarioName)
    {
        var profile = BoardCatalog.Load(board);
        if (RtlEngine.Unavailable(profile) is { } why)
        {
            RtlTools.Unavailable(why);
        }

        var scenario = ConformanceScenarios.All.Single(s => s.Name == scenarioName);
        var model = Observe(board, SimEngine.Model, scenario);
        var rtl = Observe(board, SimEngine.Rtl, scenario);
        var report = Compare(board, scenario.Name, model, rtl, out var undeclared, out var declared);
        TestContext.Out.WriteLine(report);
        if (undeclared.Count > 0)
        {
            Assert.Fail($"{board}, scenario '{scenario.Name}' (item {scenario.Item}): the model differs from the RTL in {undeclared.Count} observation(s):{Environment.NewLine}" +
                string.Join(Environment.NewLine, undeclared));
        }

        if (declared.Count > 0)
        {
            TestContext.Out.WriteLine($"declared differences (kept on purpose): {string.Join("; ", declared)}");
        }
    }

    [Test]
    public void Every_divergence_item_and_the_agreements_have_a_scenario()
    {
        var items = ConformanceScenarios.All.Select(s => s.Item).ToHashSet();
        foreach (var item in Enumerable.Range(1, 13).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).Append("agrees"))
        {
            Assert.That(items, Does.Contain(item), $"divergence item {item} of issue 12 has no conformance scenario");
        }
    }

    [Test]
    public void Every_declared_difference_names_an_existing_scenario_and_a_reason()
    {
        foreach (var d in DeclaredDifferences.All)
        {
            Assert.That(ConformanceScenarios.All.Select(s => s.Name), Does.Contain(d.Scenario), $"declared difference '{d.Observation}' names no scenario");
            Assert.That(d.Reason.Length, Is.GreaterThan(40), $"declared difference {d.Scenario}/{d.Observation} needs its reason");
        }
    }

    private static IReadOnlyList<(string Key, string Value)> Observe(string board, SimEngine engine, ConformanceScenario scenario)
    {
        using var rig = new ConformanceRig(board, engine);
        scenario.Run(rig);
        return rig.Observations;
    }

    internal static string Compare(string board, string scenario, IReadOnlyList<(string Key, string Value)> model, IReadOnlyList<(string Key, string Value)> rtl,
        out List<string> undeclared, out List<string> declared)
    {
        undeclared = [];
        declared = [];
        var sb = new StringBuilder();
        sb.AppendLine(System.Globalization.CultureInfo.InvariantCulture, $"{"observation",-48} {"model",-40} rtl");
        int n = Math.Max(model.Count, rtl.Count);
        for (int i = 0; i < n; i++)
        {
            var m = i < model.Count ? model[i] : ("(missing)", "(missing)");
            var r = i < rtl.Count ? rtl[i] : ("(missing)", "(missing)");
            string key = m.Item1 == "(missing)" ? r.Item1 : m.Item1;
            bool same = m.Item1 == r.Item1 && m.Item2 == r.Item2;
            sb.AppendLine(System.Globalization.CultureInfo.InvariantCulture, $"{(same ? " " : "≠")} {key,-46} {m.Item2,-40} {r.Item2}");
            if (!same)
            {
                string line = $"  {key}: model {m.Item2}, RTL {r.Item2}";
                if (DeclaredDifferences.Find(board, scenario, key) is { } d)
                {
                    declared.Add($"{key} ({d.Reason[..Math.Min(60, d.Reason.Length)]}…)");
                }
                else
                {
                    undeclared.Add(line);
                }
            }
        }

        return sb.ToString();
    }
}
