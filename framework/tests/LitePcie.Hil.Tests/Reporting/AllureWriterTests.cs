using System.Text;
using System.Text.Json;
using FluentAssertions;
using LitePcie.Hil.Reporting.Allure;
using LitePcie.Hil.Tests.Support;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Reporting;

/// <summary>The results writers and the item recorder: file names, atomic writes, cleaning, steps and attachments.</summary>
[TestFixture]
public sealed class AllureWriterTests
{
    private string _dir = "";

    [SetUp]
    public void MakeDirectory() => _dir = Directory.CreateTempSubdirectory("allure-writer-").FullName;

    [TearDown]
    public void RemoveDirectory() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void A_result_is_written_as_uuid_result_json_with_allures_field_names_and_words()
    {
        var writer = new FileSystemAllureResultsWriter(_dir);
        var result = new AllureTestResult
        {
            Uuid = "0f6c2a52-8d4e-4a4e-9b7d-2f1f3a9c1e10",
            FullName = "A:B.C.M()",
            Name = "M",
            Status = AllureStatus.Broken,
            Stage = AllureStage.Finished,
            StatusDetails = new AllureStatusDetails { Message = "device gone" },
            Parameters = [new AllureParameter("device", "0000:01:00.0") { Excluded = true }, new AllureParameter("board", "b")],
            Labels = [new AllureLabel("suite", "Dma")],
        };
        writer.WriteResult(result);

        Directory.GetFiles(_dir).Select(Path.GetFileName).Should().Equal("0f6c2a52-8d4e-4a4e-9b7d-2f1f3a9c1e10-result.json");
        var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, "0f6c2a52-8d4e-4a4e-9b7d-2f1f3a9c1e10-result.json"))).RootElement;
        json.GetProperty("status").GetString().Should().Be("broken");
        json.GetProperty("stage").GetString().Should().Be("finished");
        json.GetProperty("fullName").GetString().Should().Be("A:B.C.M()");
        json.GetProperty("statusDetails").GetProperty("message").GetString().Should().Be("device gone");
        json.GetProperty("statusDetails").TryGetProperty("trace", out _).Should().BeFalse("nulls are omitted");
        json.GetProperty("steps").GetArrayLength().Should().Be(0, "lists are always written");
        json.GetProperty("parameters")[0].GetProperty("excluded").GetBoolean().Should().BeTrue();
        json.GetProperty("parameters")[1].TryGetProperty("excluded", out _).Should().BeFalse("excluded=false is left out");
        json.TryGetProperty("historyId", out _).Should().BeFalse();
    }

    [Test]
    public void Cleaning_removes_only_allure_files_and_construction_removes_stale_temporaries()
    {
        File.WriteAllText(Path.Combine(_dir, "a-result.json"), "{}");
        File.WriteAllText(Path.Combine(_dir, "b-container.json"), "{}");
        File.WriteAllText(Path.Combine(_dir, "c-attachment.txt"), "x");
        File.WriteAllText(Path.Combine(_dir, "environment.properties"), "x=1");
        File.WriteAllText(Path.Combine(_dir, ".0123.tmp"), "half a file");
        File.WriteAllText(Path.Combine(_dir, "notes.md"), "mine");

        var writer = new FileSystemAllureResultsWriter(_dir);
        File.Exists(Path.Combine(_dir, ".0123.tmp")).Should().BeFalse("a crashed run's temporary is removed");
        writer.Clean().Should().Be(4);
        Directory.GetFiles(_dir).Select(Path.GetFileName).Should().Equal("notes.md");
    }

    [Test]
    public void Attachments_obey_allures_file_name_rule_whatever_extension_is_asked_for()
    {
        var writer = new FileSystemAllureResultsWriter(_dir);
        foreach (var ext in new[] { ".svg", "txt", "", "../../etc/passwd", ".tar.gz", ".a b" })
        {
            string source = writer.WriteAttachment(ext, Encoding.UTF8.GetBytes("x"));
            AllureFiles.IsValidSource(source).Should().BeTrue($"source '{source}' for extension '{ext}'");
            File.Exists(Path.Combine(_dir, source)).Should().BeTrue();
        }

        Directory.GetFiles(_dir).Select(Path.GetFileName).Should().Contain(n => n!.EndsWith("-attachment.svg", StringComparison.Ordinal))
            .And.Contain(n => n!.EndsWith("-attachment.txt", StringComparison.Ordinal))
            .And.NotContain(n => n!.Contains("passwd", StringComparison.Ordinal));
    }

    [Test]
    public void Only_the_three_run_files_are_accepted()
    {
        var writer = new InMemoryAllureResultsWriter();
        writer.WriteRunFile("executor.json", "{}"u8);
        var act = () => writer.WriteRunFile("history.json", "{}"u8);
        act.Should().Throw<ArgumentException>().WithMessage("'history.json' is not an Allure run file (accepted: environment.properties, executor.json, categories.json)*");
    }

    [Test]
    public void A_rewritten_container_replaces_the_file_in_place()
    {
        var writer = new FileSystemAllureResultsWriter(_dir);
        var c = new AllureContainerRecorder("Fixture", writer);
        c.Write();
        c.AddChild("t1");
        c.Write();
        var files = Directory.GetFiles(_dir);
        files.Should().ContainSingle().Which.Should().EndWith("-container.json");
        JsonDocument.Parse(File.ReadAllText(files[0])).RootElement.GetProperty("children")[0].GetString().Should().Be("t1");
    }

    [Test]
    public void Steps_nest_attachments_go_to_the_innermost_step_and_times_come_from_the_clock()
    {
        var time = new ManualTime(DateTimeOffset.FromUnixTimeMilliseconds(1_000_000));
        var writer = new InMemoryAllureResultsWriter();
        var result = new AllureTestResult { Uuid = "u", Name = "t" };
        var r = new AllureItemRecorder(result, writer, time);
        r.StartStep("stream");
        time.Advance(TimeSpan.FromMilliseconds(5));
        r.StartStep("program descriptors");
        r.Attach("dump", "text/plain", ".txt", "regs"u8);
        time.Advance(TimeSpan.FromMilliseconds(2));
        r.StopStep(AllureStatus.Passed);
        r.StopStep(AllureStatus.Failed, new AllureStatusDetails { Message = "RX buffer 3 corrupted" });
        r.StopStep(AllureStatus.Passed); // nothing open: ignored
        r.Finish(AllureStatus.Failed);

        result.Start.Should().Be(1_000_000);
        result.Stop.Should().Be(1_000_007);
        var stream = result.Steps.Should().ContainSingle().Subject;
        stream.Status.Should().Be(AllureStatus.Failed);
        stream.StatusDetails!.Message.Should().Be("RX buffer 3 corrupted");
        var program = stream.Steps.Should().ContainSingle().Subject;
        (program.Start, program.Stop).Should().Be((1_000_005L, 1_000_007L));
        program.Attachments.Should().ContainSingle().Which.Name.Should().Be("dump");
        writer.Files.Keys.Should().ContainSingle(k => k.EndsWith("-attachment.txt", StringComparison.Ordinal), "the attachment is stored when attached");
    }

    [Test]
    public void Finishing_with_steps_open_closes_them_as_interrupted()
    {
        var result = new AllureTestResult { Uuid = "u", Name = "t" };
        var r = new AllureItemRecorder(result, new InMemoryAllureResultsWriter());
        r.StartStep("stream");
        r.StartStep("wait for interrupt");
        r.Finish(AllureStatus.Broken, new AllureStatusDetails { Message = "DeviceTimeoutException" });

        r.Finished.Should().BeTrue();
        result.Status.Should().Be(AllureStatus.Broken);
        var outer = result.Steps.Single();
        outer.Stage.Should().Be(AllureStage.Interrupted);
        outer.Steps.Single().Status.Should().Be(AllureStatus.Broken);
        outer.Steps.Single().StatusDetails!.Message.Should().Be("step did not finish before the test ended");
    }

    [Test]
    public void In_memory_results_round_trip()
    {
        var writer = new InMemoryAllureResultsWriter();
        writer.WriteResult(new AllureTestResult { Uuid = "u1", Name = "t", Status = AllureStatus.Skipped, Labels = [new("tag", "Dma")] });
        var back = writer.Results.Should().ContainSingle().Subject;
        back.Status.Should().Be(AllureStatus.Skipped);
        back.Labels.Should().Equal(new AllureLabel("tag", "Dma"));
    }
}
