using System.Diagnostics;
using System.Text;
using LitePcie.Hil.Boards;
using LitePcie.Hil.Fixtures.Allure;
using NUnit.Framework;

namespace LitePcie.Hil.GuestTests;

/// <summary>
/// What the guest's init (lab/linux-guest/init.sh) tells the tests: the board profile, the driver variant, where
/// outputs go; and the helpers they share (the PCI function of the board, running an upstream tool).
/// </summary>
internal static class Guest
{
    /// <summary>True inside the guest (init exports LITEPCIE_HIL_GUEST=1).</summary>
    public static bool Inside => Environment.GetEnvironmentVariable("LITEPCIE_HIL_GUEST") == "1";

    /// <summary>Skips the calling test outside the guest, with the reason.</summary>
    public static void Require()
    {
        if (!Inside)
        {
            Assert.Ignore("not inside the LitePcie.Hil Linux guest: these checks run under lab/linux-guest/run.sh (LITEPCIE_HIL_GUEST=1)");
        }
    }

    /// <summary>The board the device server presents.</summary>
    public static BoardProfile Board => s_board.Value;

    /// <summary>upstream or patched.</summary>
    public static string Driver => Environment.GetEnvironmentVariable("LITEPCIE_GUEST_DRIVER") ?? "upstream";

    /// <summary>Seconds each dma_test runs (LITEPCIE_GUEST_DMA_SECONDS, default 16: 11 s of dma_test's skipped passes at 24 MiB/s, then checks).</summary>
    public static int DmaSeconds => int.TryParse(Environment.GetEnvironmentVariable("LITEPCIE_GUEST_DMA_SECONDS"), out int s) && s is >= 1 and <= 3600 ? s : 16;

    private static readonly Lazy<BoardProfile> s_board = new(() =>
        BoardCatalog.Load(Environment.GetEnvironmentVariable("LITEPCIE_GUEST_BOARD") ?? BoardCatalog.DefaultBoard));

    /// <summary>The board through our Linux backend on the real driver (the one board the guest has).</summary>
    public static async Task<LitePcie.Hil.Devices.IDeviceSession> OpenBoardAsync()
    {
        var backend = new LitePcie.Hil.Linux.LinuxBackend(Board);
        var boards = await backend.EnumerateAsync();
        boards.Should().HaveCount(1, $"our Linux backend finds the one board bound to litepcie.ko ({backend.LastProblem ?? "no problem reported"})");
        return await backend.OpenAsync(boards[0]);
    }

    /// <summary>The sysfs folder of the board's PCI function (found by the profile's vendor:device ID).</summary>
    public static string FunctionPath()
    {
        var found = Directory.EnumerateDirectories("/sys/bus/pci/devices")
            .Where(d => ReadHex(Path.Combine(d, "vendor")) == Board.VendorId && ReadHex(Path.Combine(d, "device")) == Board.DeviceId)
            .ToArray();
        found.Should().HaveCount(1, $"exactly one PCI function with the profile's ID {Board.VendorId:x4}:{Board.DeviceId:x4} ({Board.Name}) is on the guest's bus");
        return found[0];
    }

    public static ulong ReadHex(string path) => Convert.ToUInt64(File.ReadAllText(path).Trim(), 16);

    /// <summary>
    /// Runs a board tool (litepcie_util, litepcie_test, on PATH in the guest) with its output going to a file, at a
    /// raised priority: the guest has one emulated CPU, and a test runner reading a pipe (or the runtime's own
    /// threads) must not keep dma_test from its buffers for longer than the ring lasts (256 buffers: 83 ms at 24 MiB/s).
    /// </summary>
    /// <remarks>With <paramref name="separateErrors"/>, stderr goes to its own file (attached) and <see cref="ToolRun.Output"/> is stdout alone.</remarks>
    public static ToolRun Run(string tool, string arguments, TimeSpan timeout, bool separateErrors = false)
    {
        string log = Path.Combine(Path.GetTempPath(), $"tool-{Guid.NewGuid():N}.txt");
        string errors = log + ".stderr";
        string redirect = separateErrors ? $"> {log} 2> {errors}" : $"> {log} 2>&1";
        var start = new ProcessStartInfo("/bin/sh", ["-c", $"renice -n -10 -p $$ > /dev/null; exec {tool} {arguments} {redirect}"]) { UseShellExecute = false };
        var sw = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        bool finished = process.WaitForExit(timeout);
        if (!finished)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }

        string text = File.Exists(log) ? StripAnsi(File.ReadAllText(log)) : "";
        File.Delete(log);
        Attach($"{tool} {arguments}", text);
        if (File.Exists(errors))
        {
            Attach($"{tool} {arguments} (stderr)", StripAnsi(File.ReadAllText(errors)));
            File.Delete(errors);
        }

        if (!finished)
        {
            Assert.Fail($"{tool} {arguments} did not finish within {timeout.TotalSeconds:0} s");
        }

        return new ToolRun($"{tool} {arguments}", process.ExitCode, text, sw.Elapsed);
    }

    /// <summary>Attaches a text to the running test's Allure result and its output.</summary>
    public static void Attach(string name, string text)
    {
        AllureNUnit.CurrentReporter()?.Attach(name, Encoding.UTF8.GetBytes(text), "text/plain", ".txt");
        TestContext.Out.WriteLine($"--- {name}\n{text}");
    }

    /// <summary>Records a step (its name carries the evidence) in the running test's Allure result.</summary>
    public static void Step(string name)
    {
        var reporter = AllureNUnit.CurrentReporter();
        reporter?.StepStarted(name);
        reporter?.StepFinished(null);
        TestContext.Out.WriteLine(name);
    }

    private static string StripAnsi(string text) => System.Text.RegularExpressions.Regex.Replace(text, "\u001b\\[[0-9;]*m", "");
}

/// <summary>The outcome of one upstream tool run.</summary>
internal sealed record ToolRun(string Command, int ExitCode, string Output, TimeSpan Elapsed);
