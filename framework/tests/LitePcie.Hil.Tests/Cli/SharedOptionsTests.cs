using FluentAssertions;
using LitePcie.Hil.Cli;
using LitePcie.Hil.Options;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Cli;

/// <summary>
/// A <c>litepcie-hil</c> option that is the same setting as a runsettings parameter is built from that parameter's
/// declaration: what the runsettings refuse, the command line refuses in the same words, with the flag as the field.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class SharedOptionsTests
{
    [TestCase("qualify", nameof(QualificationOptions.QualificationCycles), "0")]
    [TestCase("qualify", nameof(CyclingOptions.LeakWarmupCycles), "100001")]
    [TestCase("qualify", nameof(CyclingOptions.LeakSampleEvery), "0")]
    [TestCase("qualify", nameof(CyclingOptions.MaxConsecutiveFailures), "100001")]
    [TestCase("qualify", nameof(CyclingOptions.LeakMaxSlope), "driver.*=-1")]
    [TestCase("qualify --backend linux --detach-command relay-off-{device}", nameof(LabOptions.AttachCommand), "relay on {port}")]
    [TestCase("qualify", nameof(LabOptions.AttachCommandTimeoutSeconds), "0.5")]
    [TestCase("sleep", nameof(SleepOptions.SleepSeconds), "0")]
    [TestCase("sleep", nameof(SleepOptions.WakeTimeoutSeconds), "3601")]
    [TestCase("sleep --backend linux", nameof(LabOptions.SleepCommand), "rtcwake -s {device}")]
    [TestCase("latency", nameof(RegisterOptions.LatencySamples), "10")]
    [TestCase("list", nameof(TargetOptions.Backend), "windows")]
    [TestCase("scratch", nameof(SimOptions.SimEngine), "verilog")]
    public void A_value_the_runsettings_refuse_is_refused_by_the_command_line_in_the_same_words(string command, string parameter, string value)
    {
        var parse = () => HilOptions.Parse([new(parameter, value)]);
        string problem = parse.Should().Throw<HilOptionsException>().Which.Problems.First(p => p.StartsWith(parameter, StringComparison.Ordinal));
        string flag = HilOptions.Binder[parameter].Declaration.Cli!.Split(' ')[^1];
        string tail = problem[parameter.Length..];
        string expected = flag + (tail.StartsWith(" = '", StringComparison.Ordinal) ? tail[2..] : tail);

        var run = CliRun.Of([.. command.Split(' '), flag, value]);

        run.Code.Should().Be(ExitCodes.UsageError, run.ToString());
        run.Err.Should().Contain(expected, $"the runsettings say '{problem}'");
    }

    [Test]
    public void Every_command_line_twin_exists_and_its_default_is_in_the_declared_range()
    {
        var twins = HilOptions.Definitions.Where(d => d.Declaration.Cli is not null).ToList();
        twins.Should().NotBeEmpty();
        foreach (var d in twins)
        {
            string[] words = d.Declaration.Cli!.Split(' ');
            var help = words.Length == 2 ? CliRun.Of(words[0], "--help") : CliRun.Of("scratch", "--help");
            help.Out.Should().Contain(words[^1], $"{d.Name} names litepcie-hil {d.Declaration.Cli}");
            if (d.Declaration.Custom)
            {
                continue; // bound by the record's rules (the fault plan with its seed), not by a type parser
            }

            var errors = new List<string>();
            HilOptions.Binder.Value(d, d.Declaration.CliDefault ?? d.Default, errors);
            errors.Should().BeEmpty($"{d.Name}'s command-line default must be one its declaration accepts");
        }
    }
}
