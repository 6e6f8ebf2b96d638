using System.Globalization;
using LitePcie.Hil.Boards;
using LitePcie.Hil.Linux.Sysfs;
using NUnit.Framework;

namespace LitePcie.Hil.Linux.Tests;

/// <summary>Which kernel a twin test runs against.</summary>
public enum TwinKind
{
    /// <summary><see cref="FakeLitePcieKernel"/>, in process: every <c>dotnet test</c>.</summary>
    Fake,

    /// <summary>The real litepcie.ko through libc, on this machine's /sys and /dev (a guest or a lab host).</summary>
    Real,
}

/// <summary>
/// The kernel under a twin test: the syscall seam, the paths, the board profile, and the few actions a test needs
/// beyond system calls (remove and rescan the board, and what can be observed of calls that reached freed memory).
/// </summary>
internal interface ITwinKernel : IDisposable
{
    TwinKind Kind { get; }

    ILinuxSyscalls Sys { get; }

    LinuxPaths Paths { get; }

    BoardProfile Profile { get; }

    /// <summary>The board's PCI address.</summary>
    string Address { get; }

    /// <summary>Null when the board may be removed and rescanned here; otherwise why not.</summary>
    string? RemovalUnavailable { get; }

    /// <summary>Null when the board may be removed while files are open on its nodes; otherwise why not.</summary>
    string? RemovalWithOpenFilesUnavailable { get; }

    /// <summary>The current node of a channel (minors move on every re-probe).</summary>
    string NodePath(int channel);

    /// <summary>sysfs remove of the board's function (the driver's remove runs).</summary>
    void Remove();

    /// <summary>sysfs rescan; returns once the board is bound again with its nodes (bounded).</summary>
    void Rescan();

    /// <summary>What is known of driver calls that reached freed memory since the kernel was set up.</summary>
    IReadOnlyList<string> FreedMemoryEvidence();

    LinuxBackend Backend() => new(Profile, Paths, Sys);
}

/// <summary>
/// Selects the twin kernels. The fake always runs; the real driver runs when asked for with the environment variable
/// <c>LITEPCIE_HIL_DRIVER_TWIN</c> (or the test parameter <c>DriverTwin</c>) = <c>real</c> (real only) or <c>both</c>.
/// Asked for and absent is a failure, never a skip. <c>LITEPCIE_HIL_TWIN_BOARD</c> names the profile of the real
/// board (default sim-ac701-2ch); <c>LITEPCIE_HIL_TWIN_REMOVAL=1</c> allows sysfs remove/rescan (only inside a guest
/// or on a sacrificial host: the driver frees its state under open files).
/// </summary>
internal static class TwinKernels
{
    public static string Mode =>
        (Environment.GetEnvironmentVariable("LITEPCIE_HIL_DRIVER_TWIN") is { Length: > 0 } env ? env : TestContext.Parameters.Get("DriverTwin", "fake")).Trim().ToLowerInvariant();

    /// <summary>The fixture arguments: the fake unless only the real kernel was asked for, the real one when asked for.</summary>
    public static IEnumerable<TestFixtureData> All()
    {
        string mode = Mode;
        if (mode is not ("fake" or "real" or "both"))
        {
            throw new ArgumentException($"LITEPCIE_HIL_DRIVER_TWIN = '{mode}': accepted fake, real or both");
        }

        if (mode != "real")
        {
            yield return new TestFixtureData(TwinKind.Fake).SetArgDisplayNames("fake kernel");
        }

        if (mode != "fake")
        {
            yield return new TestFixtureData(TwinKind.Real).SetArgDisplayNames("real litepcie.ko");
        }
    }

    /// <summary>A kernel with one board bound; the real one fails the test when there is none.</summary>
    public static ITwinKernel Create(TwinKind kind) => kind == TwinKind.Fake ? new FakeTwin() : RealTwin.Open();

    private sealed class FakeTwin : ITwinKernel
    {
        private readonly FakeLitePcieKernel _kernel = new();

        public TwinKind Kind => TwinKind.Fake;

        public ILinuxSyscalls Sys => _kernel;

        public LinuxPaths Paths => _kernel.Paths;

        public BoardProfile Profile => _kernel.Profile;

        public string Address => _kernel.Address;

        public string? RemovalUnavailable => null;

        public string? RemovalWithOpenFilesUnavailable => null;

        public string NodePath(int channel) => _kernel.NodePath(channel);

        public void Remove() => _kernel.Remove();

        public void Rescan() => _kernel.Rescan();

        public IReadOnlyList<string> FreedMemoryEvidence() => [.. _kernel.UseAfterFree];

        public void Dispose() => _kernel.Dispose();
    }

    private sealed class RealTwin : ITwinKernel
    {
        private readonly long _taintAtStart;

        private RealTwin(BoardProfile profile, string address)
        {
            Profile = profile;
            Address = address;
            _taintAtStart = Taint();
        }

        public TwinKind Kind => TwinKind.Real;

        public ILinuxSyscalls Sys { get; } = new LibcSyscalls();

        public LinuxPaths Paths => LinuxPaths.System;

        public BoardProfile Profile { get; }

        public string Address { get; }

        public string? RemovalUnavailable =>
            Environment.GetEnvironmentVariable("LITEPCIE_HIL_TWIN_REMOVAL") is "1" or "open-files" ? null
            : "sysfs remove/rescan of the real board needs LITEPCIE_HIL_TWIN_REMOVAL=1 (inside a guest or on a sacrificial host only)";

        // Measured in the guest (Debian 6.1, CONFIG_DEBUG_LIST): the first close of a removed node's file ends in
        // "kernel BUG at lib/list_debug.c:59!" from cd_forget (__fput → evict), whoever closes it and whenever (a parked
        // descriptor is closed by the kernel at process exit: the same BUG).
        public string? RemovalWithOpenFilesUnavailable =>
            RemovalUnavailable ?? (Environment.GetEnvironmentVariable("LITEPCIE_HIL_TWIN_REMOVAL") == "open-files" ? null
            : "litepcie.ko frees each channel's cdev with the board (device-managed memory, upstream #95); a node's inode still open keeps " +
              "pointing at it, and the last close of that file runs cd_forget on freed memory: once a rescan has reused it, kernel BUG at lib/list_debug.c:59 (list " +
              "corruption), measured in the guest — the real driver is removed with no file open instead " +
              "(A_board_removed_with_no_file_open_…); LITEPCIE_HIL_TWIN_REMOVAL=open-files runs this anyway, and the kernel dies");

        public static RealTwin Open()
        {
            string board = Environment.GetEnvironmentVariable("LITEPCIE_HIL_TWIN_BOARD") is { Length: > 0 } b ? b : BoardCatalog.DefaultBoard;
            var profile = BoardCatalog.Load(board);
            if (LinuxBackend.Unavailable() is { } why)
            {
                Assert.Fail($"DriverTwin=real asked for, but no board is bound to litepcie.ko here: {why}");
            }

            var discovery = LitePcieNodes.Discover(LinuxPaths.System, profile.CsrMap.Layout.DmaChannels.Count);
            if (discovery.Bindings.Count == 0)
            {
                Assert.Fail($"DriverTwin=real asked for, but no board pairs with its nodes: {discovery.Problem ?? "no binding"} (profile {profile.Name})");
            }

            return new RealTwin(profile, discovery.Bindings[0].PciAddress);
        }

        public string NodePath(int channel) => Binding().Nodes[channel].Path;

        public void Remove()
        {
            Assert.That(RemovalUnavailable, Is.Null, RemovalUnavailable);
            File.WriteAllText(Path.Combine(Paths.PciDevices, Address, "remove"), "1");
        }

        public void Rescan()
        {
            Assert.That(RemovalUnavailable, Is.Null, RemovalUnavailable);
            File.WriteAllText(Path.Combine(Paths.Sys, "bus", "pci", "rescan"), "1");
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (LitePcieNodes.Discover(Paths, Profile.CsrMap.Layout.DmaChannels.Count).Bindings.All(b => b.PciAddress != Address))
            {
                if (DateTime.UtcNow > deadline)
                {
                    Assert.Fail($"{Address} not bound to litepcie.ko with its nodes 30 s after the rescan");
                }

                Thread.Sleep(10); // waiting on the kernel's probe, which offers no event to wait on from here
            }
        }

        /// <summary>
        /// A use-after-free is silent without KASAN; what shows is an oops or warning: new D (die) or W (warn) bits in
        /// /proc/sys/kernel/tainted. B (bad page) is left out: the upstream zero-copy mmap defect (c52a6fe) sets it at
        /// every unmap of a ring.
        /// </summary>
        public IReadOnlyList<string> FreedMemoryEvidence()
        {
            long gained = Taint() & ~_taintAtStart;
            var evidence = new List<string>();
            if ((gained & (1 << 7)) != 0)
            {
                evidence.Add("kernel taint D: an oops since the test began (dmesg)");
            }

            if ((gained & (1 << 9)) != 0)
            {
                evidence.Add("kernel taint W: a kernel warning since the test began (dmesg)");
            }

            return evidence;
        }

        public void Dispose()
        {
        }

        private LitePcieBinding Binding() =>
            LitePcieNodes.Discover(Paths, Profile.CsrMap.Layout.DmaChannels.Count).Bindings.FirstOrDefault(b => b.PciAddress == Address)
            ?? throw new InvalidOperationException($"{Address} is not bound to litepcie.ko");

        private static long Taint()
        {
            try
            {
                return long.Parse(File.ReadAllText("/proc/sys/kernel/tainted").Trim(), NumberStyles.None, CultureInfo.InvariantCulture);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
            {
                return 0;
            }
        }
    }
}
