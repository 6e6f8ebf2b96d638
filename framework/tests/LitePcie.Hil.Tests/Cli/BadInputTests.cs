using System.Text.Json;
using FluentAssertions;
using LitePcie.Hil.Cli;
using LitePcie.Hil.Tests.Support;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Cli;

/// <summary>
/// Every bad input a bench engineer reported (issue 16): each is exit 2 with one line that names what is wrong
/// and what to write instead — no stack trace, no second error for the same mistake — and with <c>--json</c> the
/// error is also a JSON document on stdout.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class BadInputTests
{
    private string _dir = "";

    [OneTimeSetUp]
    public void WriteBadFiles()
    {
        _dir = Path.Combine(Path.GetTempPath(), $"litepcie-badinput-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_dir);

        // A board whose csr.json lacks ctrl_scratch (a register every command relies on).
        string board = Path.Combine(_dir, "no-scratch");
        Directory.CreateDirectory(board);
        File.Copy(Path.Combine(TestPaths.Boards, "sim-ac701-2ch", "profile.json"), Path.Combine(board, "profile.json"));
        using (var csr = JsonDocument.Parse(File.ReadAllText(Path.Combine(TestPaths.Boards, "sim-ac701-2ch", "csr.json"))))
        {
            var registers = csr.RootElement.GetProperty("csr_registers").EnumerateObject().Where(r => r.Name != "ctrl_scratch");
            using var stream = File.Create(Path.Combine(board, "csr.json"));
            using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
            w.WriteStartObject();
            foreach (var section in csr.RootElement.EnumerateObject())
            {
                w.WritePropertyName(section.Name);
                if (section.Name == "csr_registers")
                {
                    w.WriteStartObject();
                    foreach (var r in registers)
                    {
                        r.WriteTo(w);
                    }

                    w.WriteEndObject();
                }
                else
                {
                    section.Value.WriteTo(w);
                }
            }

            w.WriteEndObject();
        }

        File.WriteAllText(Path.Combine(_dir, "malformed.json"), "{\n  \"name\": \"x\",\n  \"pci\": }\n");
    }

    [OneTimeTearDown]
    public void RemoveBadFiles() => Directory.Delete(_dir, recursive: true);

    private string NoScratchBoard => Path.Combine(_dir, "no-scratch");

    [TestCase("list")]
    [TestCase("info")]
    [TestCase("scratch")]
    [TestCase("dma")]
    [TestCase("latency")]
    [TestCase("sleep")]
    [TestCase("qualify")]
    public void A_csr_json_without_a_required_register_is_one_line_naming_file_and_register(string command)
    {
        var run = CliRun.Of(command, "--board", NoScratchBoard);

        run.Code.Should().Be(ExitCodes.UsageError, run.ToString());
        ErrorLines(run).Should().ContainSingle().Which.Should()
            .Contain(Path.Combine(NoScratchBoard, "csr.json")).And.Contain("ctrl_scratch").And.Contain("required register is missing");
        run.Err.Should().NotContain("   at ", "no stack trace");
        run.Out.Should().BeEmpty("nothing ran");
    }

    [Test]
    public void Board_header_gives_the_same_one_line_for_the_same_file()
    {
        var run = CliRun.Of("board-header", "--board", Path.Combine(NoScratchBoard, "profile.json"));

        run.Code.Should().Be(ExitCodes.UsageError, run.ToString());
        ErrorLines(run).Should().ContainSingle().Which.Should().Contain("csr.json").And.Contain("ctrl_scratch: required register is missing");
    }

    [Test]
    public void Malformed_json_names_the_line_and_column_an_editor_shows()
    {
        var run = CliRun.Of("info", "--board", Path.Combine(_dir, "malformed.json"));

        run.Code.Should().Be(ExitCodes.UsageError, run.ToString());
        var line = ErrorLines(run).Should().ContainSingle().Subject;
        line.Should().Contain("malformed JSON at line 3, column 10", "the '}' after \"pci\": is on the third line, tenth column");
        line.Should().NotContain("LineNumber").And.NotContain("BytePositionInLine");
    }

    [Test]
    public void A_csr_json_given_as_the_board_profile_is_recognised()
    {
        string csr = Path.Combine(TestPaths.Boards, "sim-ac701-2ch", "csr.json");

        var run = CliRun.Of("info", "--board", csr);

        run.Code.Should().Be(ExitCodes.UsageError, run.ToString());
        ErrorLines(run).Should().ContainSingle().Which.Should()
            .Contain("this is a LiteX csr.json").And.Contain("not a board profile").And.Contain("csrMap").And.Contain("board-header");
    }

    [Test]
    public void A_fault_that_needs_a_value_is_refused_without_one()
    {
        var run = CliRun.Of("dma", "--seconds", "0.2", "--faults", "dma-bitflip");

        run.Code.Should().Be(ExitCodes.UsageError, run.ToString());
        run.Err.Should().Contain("dma-bitflip needs a value: a probability 0..1").And.Contain("e.g. dma-bitflip=0.01");
        run.Out.Should().BeEmpty("no stream started");
    }

    [Test]
    public void An_unknown_command_is_named_once_with_the_nearest_command()
    {
        var run = CliRun.Of("lst");

        run.Code.Should().Be(ExitCodes.UsageError, run.ToString());
        ErrorLines(run).Should().ContainSingle().Which.Should().Contain("unknown command 'lst' (did you mean 'list'?)").And.Contain("commands: list, info");
        run.Err.Should().NotContain("Required command was not provided");

        var none = CliRun.Of();
        none.Code.Should().Be(ExitCodes.UsageError, none.ToString());
        ErrorLines(none).Should().ContainSingle().Which.Should().Contain("no command given");
    }

    [Test]
    public void An_unknown_option_is_named_once_with_the_nearest_option()
    {
        var run = CliRun.Of("dma", "--chanel", "1");

        run.Code.Should().Be(ExitCodes.UsageError, run.ToString());
        ErrorLines(run).Should().ContainSingle().Which.Should().Contain("unknown option '--chanel' for dma (did you mean '--channel'?)");
    }

    [TestCase(ExitCodes.UsageError, "usage", "dma", "--seconds", "0", "--json", TestName = "json_parse_error")]
    [TestCase(ExitCodes.UsageError, "usage", "dma", "--bogus", "--json", TestName = "json_unknown_option")]
    [TestCase(ExitCodes.UsageError, "usage", "dma", "--channel", "5", "--seconds", "0.2", "--json", TestName = "json_argument_the_design_cannot_take")]
    [TestCase(ExitCodes.UsageError, "board", "info", "--board", "no-such-board", "--json", TestName = "json_unknown_board")]
    [TestCase(ExitCodes.UsageError, "usage", "scratch", "--faults", "dma-bitflip", "--json", TestName = "json_fault_without_value")]
    public void Json_mode_errors_are_a_json_document_on_stdout(int code, string kind, params string[] args)
    {
        var run = CliRun.Of(args);

        run.Code.Should().Be(code, run.ToString());
        var json = run.Json();
        json.GetProperty("passed").GetBoolean().Should().BeFalse();
        json.GetProperty("exitCode").GetInt32().Should().Be(code);
        json.GetProperty("error").GetProperty("kind").GetString().Should().Be(kind);
        json.GetProperty("error").GetProperty("message").GetString().Should().NotBeNullOrEmpty();
        run.Err.Should().StartWith("error: ", "people still read the error on stderr");
    }

    [Test]
    public void Json_mode_device_errors_are_a_json_document_on_stdout()
    {
        Assume.That(LitePcie.Hil.Linux.LinuxBackend.Unavailable(), Is.Not.Null, "this host has litepcie boards");

        var run = CliRun.Of("info", "--backend", "linux", "--json");

        run.Code.Should().Be(ExitCodes.DeviceError, run.ToString());
        var json = run.Json();
        json.GetProperty("command").GetString().Should().Be("info");
        json.GetProperty("error").GetProperty("kind").GetString().Should().Be("device");
        json.GetProperty("error").GetProperty("message").GetString().Should().Contain("--backend linux not available");
    }

    [Test]
    public void Csr_map_errors_in_json_mode_name_file_and_register()
    {
        var run = CliRun.Of("scratch", "--board", NoScratchBoard, "--json");

        run.Code.Should().Be(ExitCodes.UsageError, run.ToString());
        run.Json().GetProperty("error").GetProperty("message").GetString().Should().Contain("ctrl_scratch: required register is missing");
    }

    /// <summary>The error lines on stderr (without the help hint).</summary>
    private static List<string> ErrorLines(CliRun run) =>
        [.. run.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(l => !l.StartsWith("Run 'litepcie-hil", StringComparison.Ordinal))];
}
