using System.Text;
using FluentAssertions;
using LitePcie.Hil.Qualification;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Qualification;

/// <summary>The journal: one durable line per cycle; an interrupted run resumes; a finished or different one starts over.</summary>
[TestFixture]
public sealed class CycleJournalTests
{
    private static readonly JournalHeader Plan = new("Qualification.AttachDetach", "sim", "sim-ac701-2ch", "0000:01:00.0", 1000, "mix idle=1,open=1,dma=1");
    private string _dir = "";

    [SetUp]
    public void MakeDirectory() => _dir = Directory.CreateTempSubdirectory("journal-").FullName;

    [TearDown]
    public void RemoveDirectory() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name = "j.jsonl") => Path.Combine(_dir, name);

    private static CycleRecord Cycle(int n, bool ok = true) => new()
    {
        Cycle = n, State = "idle", Ok = ok, Milliseconds = 12.5, FailedPhase = ok ? null : "enumerate", Failure = ok ? null : "timed out",
        Samples = n % 10 == 0 ? new Dictionary<string, double> { ["driver.live_dma_buffers"] = 4 } : null,
    };

    [Test]
    public void The_table_preview_has_a_row_per_cycle_with_phases_samples_and_quoted_failures()
    {
        var records = new List<CycleRecord>
        {
            Cycle(9) with { Phases = new Dictionary<string, double> { ["detach"] = 1.5, ["enumerate"] = 3 } },
            Cycle(10, ok: false) with { Failure = "timed out, \"enumerate\"" },
        };

        string[] lines = CycleJournal.Table(records).TrimEnd('\n').Split('\n');

        lines.Should().Equal(
            "cycle,state,ok,milliseconds,failed_phase,failure,detach_ms,enumerate_ms,driver.live_dma_buffers",
            "9,idle,yes,12.5,,,1.5,3,",
            "10,idle,no,12.5,enumerate,\"timed out, \"\"enumerate\"\"\",,,4");
    }

    [Test]
    public void A_run_that_died_resumes_after_its_last_whole_line()
    {
        using (var j = CycleJournal.Open(PathOf(), Plan, resume: true))
        {
            j.Resumed.Should().BeFalse();
            for (int c = 1; c <= 600; c++)
            {
                j.Append(Cycle(c, ok: c != 17));
            }
        }

        File.AppendAllText(PathOf(), "{\"kind\":\"cycle\",\"record\":{\"cycle\":601,\"sta"); // the host died mid-write

        using var resumed = CycleJournal.Open(PathOf(), Plan, resume: true);
        resumed.Resumed.Should().BeTrue();
        resumed.NextCycle.Should().Be(601);
        resumed.Previous.Should().HaveCount(600);
        resumed.Previous.Single(r => !r.Ok).Should().Match<CycleRecord>(r => r.Cycle == 17 && r.FailedPhase == "enumerate");
        resumed.Previous[599].Samples!["driver.live_dma_buffers"].Should().Be(4);
        resumed.Append(Cycle(601));
        resumed.Dispose();
        CycleJournal.Read(PathOf()).Records.Select(r => r.Cycle).Should().Equal(Enumerable.Range(1, 601), "the torn line is gone and cycle 601 follows 600");
    }

    [Test]
    public void A_finished_run_or_another_plan_starts_over_keeping_the_old_file()
    {
        using (var j = CycleJournal.Open(PathOf(), Plan, resume: true))
        {
            j.Append(Cycle(1));
            j.Complete(1, 0);
        }

        using (var again = CycleJournal.Open(PathOf(), Plan, resume: true))
        {
            again.Resumed.Should().BeFalse();
            again.Note.Should().Be("the earlier run had finished");
            again.Append(Cycle(1));
        }

        File.Exists(PathOf() + ".prev").Should().BeTrue("the earlier journal is kept as evidence");
        using var other = CycleJournal.Open(PathOf(), Plan with { Cycles = 50 }, resume: true);
        other.Resumed.Should().BeFalse();
        other.Note.Should().Be("a different plan");
        other.NextCycle.Should().Be(1);
    }

    [Test]
    public void Every_line_is_json_with_a_kind()
    {
        using (var j = CycleJournal.Open(PathOf(), Plan, resume: false))
        {
            j.Append(Cycle(1));
            j.Complete(1, 0);
        }

        var lines = File.ReadAllLines(PathOf(), Encoding.UTF8);
        lines.Should().HaveCount(3);
        lines[0].Should().StartWith("{\"kind\":\"header\",\"header\":{\"suite\":\"Qualification.AttachDetach\"");
        lines[1].Should().StartWith("{\"kind\":\"cycle\",\"record\":{\"cycle\":1,\"state\":\"idle\",\"ok\":true,\"milliseconds\":12.5");
        lines[2].Should().Be("{\"kind\":\"done\",\"cycles\":1,\"failures\":0}");
    }
}
