using System.Text.Json;
using NUnit.Framework;

namespace LitePcie.Hil.GuestTests;

/// <summary>
/// Our CLI (<c>litepcie-hil</c>, published framework-dependent into /hil/publish) against the real litepcie.ko on the
/// virtual board, through <c>--backend linux</c>: list, info, scratch, dma and latency each exit 0 and say, in their JSON
/// document, that they passed on the board the device server presents.
/// </summary>
[TestFixture]
[Category("Cli")]
public sealed class CliTests
{
    private const string Cli = "/usr/share/dotnet/dotnet /hil/publish/LitePcie.Hil.Cli/litepcie-hil.dll";

    [SetUp]
    public void RequireGuest() => Guest.Require();

    [Test]
    public void List_FindsTheBoardBoundToLitepcieKo()
    {
        using var doc = Run("list", TimeSpan.FromMinutes(2));
        var devices = doc.RootElement.GetProperty("devices").EnumerateArray().ToArray();
        devices.Should().HaveCount(1, "one board is bound to litepcie.ko in the guest");
        devices[0].GetProperty("board").GetString().Should().Be(Guest.Board.Name);
        devices[0].GetProperty("identifier").GetString().Should().Be(Guest.Board.CsrMap.Identifier, "the identifier ROM read through LITEPCIE_IOCTL_REG");
        devices[0].GetProperty("address").GetString().Should().Be(Path.GetFileName(Guest.FunctionPath()), "the PCI function litepcie.ko is bound to");
    }

    [Test]
    public void Info_DescribesTheBoard() => Run("info", TimeSpan.FromMinutes(2)).Dispose();

    [Test]
    public void Scratch_ReadsBackEveryPattern() => Run("scratch", TimeSpan.FromMinutes(2)).Dispose();

    [Test]
    public void Dma_StreamsVerifiedDataInLoopback() => Run("dma --seconds 5", TimeSpan.FromMinutes(3)).Dispose();

    [Test]
    public void Latency_MeasuresRegisterAndDmaPercentiles() => Run("latency --samples 2000 --dma-samples 200", TimeSpan.FromMinutes(4)).Dispose();

    /// <summary>Runs <c>litepcie-hil COMMAND --backend linux --board BOARD --json</c>: exit 0 and <c>passed: true</c>.</summary>
    private static JsonDocument Run(string command, TimeSpan timeout)
    {
        var run = Guest.Run(Cli, $"{command} --backend linux --board {Guest.Board.Name} --json", timeout, separateErrors: true);
        run.Output.Should().StartWith("{", $"'{run.Command}' prints one JSON document on stdout (exit {run.ExitCode})");
        var doc = JsonDocument.Parse(run.Output);
        string error = doc.RootElement.TryGetProperty("error", out var e) ? e.ToString() : "none";
        run.ExitCode.Should().Be(0, $"'{run.Command}' exits 0 (error: {error})");
        if (doc.RootElement.TryGetProperty("passed", out var passed))
        {
            passed.GetBoolean().Should().BeTrue($"'{run.Command}' reports passed (error: {error})");
        }

        Guest.Step($"litepcie-hil {command} --backend linux: exit 0 in {run.Elapsed.TotalSeconds:0.0} s");
        return doc;
    }
}
