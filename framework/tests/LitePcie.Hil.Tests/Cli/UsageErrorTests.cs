using FluentAssertions;
using LitePcie.Hil.Cli;
using LitePcie.Hil.Linux;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Cli;

/// <summary>
/// Bad arguments are exit 2 with a message that names the option and what it accepts; a backend that cannot run
/// here is exit 3 with its reason, never the simulator in its place.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class UsageErrorTests
{
    [TestCase("0", TestName = "seconds_zero")]
    [TestCase("86401", TestName = "seconds_above_a_day")]
    [TestCase("five", TestName = "seconds_not_a_number")]
    public void Dma_seconds_out_of_range_names_the_option_and_the_range(string seconds)
    {
        var run = CliRun.Of("dma", "--seconds", seconds);

        run.Code.Should().Be(ExitCodes.UsageError, run.ToString());
        run.Err.Should().Contain($"--seconds '{seconds}'").And.Contain("0.1..86400 seconds").And.Contain("litepcie-hil dma --help");
    }

    [Test]
    public void Unknown_backend_lists_the_accepted_ones()
    {
        var run = CliRun.Of("list", "--backend", "windows");

        run.Code.Should().Be(ExitCodes.UsageError, run.ToString());
        run.Err.Should().Contain("--backend 'windows'").And.Contain("sim, linux or macos", "the runsettings' words for Backend");
    }

    [Test]
    public void Faults_with_another_backend_are_refused_not_ignored()
    {
        var run = CliRun.Of("scratch", "--backend", "linux", "--faults", "scratch-stuck-bit=3");

        run.Code.Should().Be(ExitCodes.UsageError, run.ToString());
        run.Err.Should().Contain("--faults").And.Contain("only to --backend sim, not --backend linux");
    }

    [Test]
    public void Lab_commands_on_the_simulator_are_refused_not_ignored()
    {
        var qualify = CliRun.Of("qualify", "--cycles", "2", "--detach-command", "relay off", "--attach-command", "relay on");
        qualify.Code.Should().Be(ExitCodes.UsageError, qualify.ToString());
        qualify.Err.Should().Contain("--detach-command, --attach-command: the simulator has its own attach and power controls");

        var sleep = CliRun.Of("sleep", "--sleep-command", "rtcwake -m mem -s {seconds}");
        sleep.Code.Should().Be(ExitCodes.UsageError, sleep.ToString());
        sleep.Err.Should().Contain("--sleep-command").And.Contain("lab commands apply to --backend linux or macos");
    }

    [Test]
    public void Attach_and_detach_commands_come_as_a_pair()
    {
        var run = CliRun.Of("qualify", "--backend", "linux", "--attach-command", "relay on");

        run.Code.Should().Be(ExitCodes.UsageError, run.ToString());
        run.Err.Should().Contain("--detach-command and --attach-command come as a pair");
    }

    [Test]
    public void Lab_commands_on_a_host_without_the_driver_are_still_a_device_error()
    {
        var run = CliRun.Of("qualify", "--backend", "linux", "--detach-command", "relay off", "--attach-command", "relay on", "--command-timeout", "5");

        run.Code.Should().Be(ExitCodes.DeviceError, run.ToString());
        run.Err.Should().Contain("--backend linux not available");
    }

    [Test]
    public void A_bad_fault_string_gives_the_fault_plans_message()
    {
        var run = CliRun.Of("dma", "--faults", "dma-bitflip=2");

        run.Code.Should().Be(ExitCodes.UsageError, run.ToString());
        run.Err.Should().Contain("--faults").And.Contain("dma-bitflip accepts a probability 0..1").And.Contain("valid faults:");
    }

    [Test]
    public void An_unknown_device_lists_what_exists()
    {
        var run = CliRun.Of("info", "--device", "0000:09:00.0");

        run.Code.Should().Be(ExitCodes.UsageError, run.ToString());
        run.Err.Should().Contain("--device '0000:09:00.0' matches no board").And.Contain("found: 0000:01:00.0");
    }

    [Test]
    public void A_short_device_address_selects_the_board()
    {
        CliRun.Of("scratch", "--device", "01:00.0").Code.Should().Be(ExitCodes.Success, "01:00.0 is the tail of 0000:01:00.0");
    }

    [Test]
    public void An_unknown_board_profile_lists_the_built_in_ones()
    {
        var run = CliRun.Of("info", "--board", "no-such-board");

        run.Code.Should().Be(ExitCodes.UsageError, run.ToString());
        run.Err.Should().Contain("--board").And.Contain("sim-ac701-2ch");
    }

    [TestCase("--channel", "5", "accepted 0..1", TestName = "channel_beyond_the_design")]
    [TestCase("--irq-every", "200", "accepted 1..128", TestName = "irq_every_beyond_half_the_ring")]
    public void Dma_arguments_checked_against_the_design_name_the_range(string option, string value, string range)
    {
        var run = CliRun.Of("dma", "--seconds", "0.2", option, value);

        run.Code.Should().Be(ExitCodes.UsageError, run.ToString());
        run.Err.Should().Contain($"{option} {value}").And.Contain(range);
    }

    [Test]
    public void Copy_mode_is_refused_with_the_reason()
    {
        var run = CliRun.Of("dma", "--zero-copy", "false");

        run.Code.Should().Be(ExitCodes.UsageError, run.ToString());
        run.Err.Should().Contain("copy mode").And.Contain("zero-copy");
    }

    [Test]
    public void Qualify_cycles_and_leak_limits_are_validated()
    {
        var cycles = CliRun.Of("qualify", "--cycles", "0");
        cycles.Code.Should().Be(ExitCodes.UsageError, cycles.ToString());
        cycles.Err.Should().Contain("--cycles '0'").And.Contain("1..1000000");

        var limit = CliRun.Of("qualify", "--leak-limit", "driver.*");
        limit.Code.Should().Be(ExitCodes.UsageError, limit.ToString());
        limit.Err.Should().Contain("--leak-limit entry 'driver.*'");
    }

    [Test]
    public void Unknown_commands_and_options_are_usage_errors_with_a_hint()
    {
        var command = CliRun.Of("frobnicate");
        command.Code.Should().Be(ExitCodes.UsageError, command.ToString());
        command.Err.Should().Contain("'frobnicate'").And.Contain("litepcie-hil --help");

        var option = CliRun.Of("dma", "--speed", "9");
        option.Code.Should().Be(ExitCodes.UsageError, option.ToString());
        option.Err.Should().Contain("'--speed'").And.Contain("litepcie-hil dma --help");
    }

    [Test]
    public void Linux_backend_without_the_driver_is_a_device_error_with_the_reason()
    {
        string? why = LinuxBackend.Unavailable();
        Assume.That(why, Is.Not.Null, "this host has litepcie boards: the unavailable path cannot be shown here");

        var run = CliRun.Of("info", "--backend", "linux");

        run.Code.Should().Be(ExitCodes.DeviceError, run.ToString());
        run.Err.Should().Contain("--backend linux").And.Contain(why!).And.Contain("never used in its place");
        run.Out.Should().NotContain("sim", "the simulator must not answer for a linux request");
    }
}
