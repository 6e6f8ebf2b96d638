using FluentAssertions;
using LitePcie.Hil.DeviceServer;
using LitePcie.Hil.Options;
using LitePcie.Hil.Simulation.Gateware;
using NUnit.Framework;
using Server = LitePcie.Hil.DeviceServer.Program;

namespace LitePcie.Hil.Tests.Lab;

/// <summary>
/// The device server's options come from their one declaration each: what it shares with the runsettings (board, faults,
/// engine, pacing) is refused in the runsettings' words with the flag as the field, and its own (<c>--lead</c>,
/// <c>--dma-rate</c>, <c>--connect-timeout</c>) with the range its declaration gives; bad input is one error naming the
/// option and what it accepts, exit code 2, before anything listens.
/// </summary>
[TestFixture]
public sealed class DeviceServerOptionsTests
{
    private const string Socket = "/tmp/litepcie-hil-options-test.sock"; // never listened on: every case stops at parsing

    private static (int Code, string Err, ServerArguments? Parsed) Parse(params string[] args)
    {
        var err = new StringWriter();
        var parsed = Server.Parse(["--socket", Socket, .. args], err, out int code);
        return (code, err.ToString(), parsed);
    }

    [TestCase(nameof(SimOptions.SimEngine), "verilog")]
    [TestCase(nameof(SimOptions.SimFaults), "dma-bitflip=2")]
    [TestCase(nameof(SimOptions.SimFaults), "no-such-fault")]
    public void A_value_the_runsettings_refuse_is_refused_by_the_device_server_in_the_same_words(string parameter, string value)
    {
        var parse = () => HilOptions.Parse([new(parameter, value)]);
        string problem = parse.Should().Throw<HilOptionsException>().Which.Problems.First(p => p.StartsWith(parameter, StringComparison.Ordinal));
        string flag = HilOptions.Binder[parameter].Declaration.Cli!.Split(' ')[^1];
        string tail = problem[parameter.Length..];
        string expected = flag + (tail.StartsWith(" = '", StringComparison.Ordinal) ? tail[2..] : tail);

        var (code, err, parsed) = Parse(flag, value);

        code.Should().Be(2, err);
        parsed.Should().BeNull();
        err.Should().Contain("error: " + expected, $"the runsettings say '{problem}'");
    }

    [TestCase("--lead", "65537", "--lead '65537': accepted an integer in 0..65536")]
    [TestCase("--lead", "-1", "--lead '-1': accepted an integer in 0..65536")]
    [TestCase("--connect-timeout", "0", "--connect-timeout '0': accepted an integer in 1..86400")]
    [TestCase("--connect-timeout", "86401", "--connect-timeout '86401': accepted an integer in 1..86400")]
    [TestCase("--dma-rate", "512KiB", "--dma-rate '512KiB': accepted 0 (unpaced) or a byte count 1MiB..100GiB")]
    [TestCase("--dma-rate", "101GiB", "--dma-rate '101GiB': accepted 0 (unpaced) or a byte count 1MiB..100GiB")]
    [TestCase("--dma-rate", "fast", "--dma-rate 'fast': accepted 0 (unpaced) or a byte count 1MiB..100GiB")]
    public void An_out_of_range_number_is_one_error_naming_the_option_and_its_declared_range(string flag, string value, string expected)
    {
        var (code, err, parsed) = Parse(flag, value);

        code.Should().Be(2, err);
        parsed.Should().BeNull();
        err.Split('\n', StringSplitOptions.RemoveEmptyEntries).Should().ContainSingle().Which.Should().StartWith("error: " + expected);
    }

    [Test]
    public void Every_problem_is_reported_together()
    {
        var (code, err, _) = Parse("--engine", "verilog", "--lead", "70000", "--connect-timeout", "0");

        code.Should().Be(2);
        err.Should().Contain("--engine 'verilog': accepted model or rtl")
            .And.Contain("--lead '70000': accepted an integer in 0..65536")
            .And.Contain("--connect-timeout '0': accepted an integer in 1..86400");
    }

    [Test]
    public void A_board_that_is_not_one_profile_is_refused_naming_the_option()
    {
        Parse("--board", "no-such-board").Err.Should().StartWith("error: --board 'no-such-board': board profile no-such-board:");
        Parse("--board", "sim-ac701-2ch,sim-au250-mvec4").Err.Should().StartWith("error: --board 'sim-ac701-2ch,sim-au250-mvec4': the device server serves one board");
    }

    [Test]
    public void Accepted_values_are_bound_with_the_declared_defaults_for_the_rest()
    {
        var (code, err, parsed) = Parse("--engine", "MODEL", "--paced", "--dma-rate", "32MiB", "--lead", "128", "--faults", "dma-bitflip=0.01;seed=7");

        code.Should().Be(0, err);
        err.Should().BeEmpty();
        parsed!.Request.Engine.Should().Be(SimEngine.Model);
        parsed.Request.Paced.Should().BeTrue("a switch given without a value is on");
        parsed.Rate.Should().Be(32 << 20);
        parsed.Lead.Should().Be(128);
        parsed.Plan.ToString().Should().Contain("dma-bitflip");
        parsed.Profile.Name.Should().Be(HilOptions.Binder["Board"].Default);
        parsed.ConnectTimeout.Should().Be(TimeSpan.FromSeconds(new ServingOptions().ConnectTimeout));
        parsed.Summary.Should().BeNull();
        parsed.RootPortFile.Should().BeNull();

        var defaults = Parse().Parsed!;
        defaults.Rate.Should().BeNull("0 is unpaced, the declared default");
        defaults.Lead.Should().Be(0);
        defaults.Request.Paced.Should().BeFalse();
    }

    [Test]
    public void Each_option_of_the_server_is_declared_once_and_its_default_is_in_its_range()
    {
        foreach (var d in DeviceServerOptions.Binder.Definitions)
        {
            var errors = new List<string>();
            DeviceServerOptions.Binder.Value(d, d.Default, errors);
            errors.Should().BeEmpty($"{d.Name}'s default must be one its declaration accepts");
            d.Declaration.Cli.Should().StartWith("--", $"{d.Name} names its flag");
        }

        DeviceServerOptions.Binder.Definitions.Select(d => d.Declaration.Cli).Should().OnlyHaveUniqueItems()
            .And.NotIntersectWith(HilOptions.Definitions.Select(d => d.Declaration.Cli?.Split(' ')[^1]), "a setting the runsettings declare is not declared again");
    }
}
