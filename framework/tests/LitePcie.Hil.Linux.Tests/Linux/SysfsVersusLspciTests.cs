using System.Globalization;
using System.Text.RegularExpressions;
using FluentAssertions;
using LitePcie.Hil.Linux.Sysfs;
using LitePcie.Hil.Tests.Support;
using NUnit.Framework;

namespace LitePcie.Hil.Linux.Tests;

/// <summary>
/// The sysfs enumerator read-only against the real PCI functions of this machine, judged by <c>lspci -D -nn -vvv</c>
/// (pciutils): addresses, IDs, class, revision, BARs, the capability list and the bound driver.
/// </summary>
[TestFixture]
[Category("Linux")]
public sealed partial class SysfsVersusLspciTests
{
    private static IReadOnlyList<SysfsPciFunction> s_sysfs = [];
    private static Dictionary<string, LspciFunction> s_lspci = [];
    private static bool s_root;

    [OneTimeSetUp]
    public void ReadBoth()
    {
        if (!OperatingSystem.IsLinux() || !Directory.Exists(LinuxPaths.System.PciDevices))
        {
            Assert.Ignore("not Linux with sysfs: /sys/bus/pci/devices is absent");
        }

        string? lspci = new[] { "/usr/bin/lspci", "/usr/sbin/lspci", "/bin/lspci", "/sbin/lspci" }.FirstOrDefault(File.Exists);
        if (lspci is null)
        {
            const string why = "lspci (Debian pciutils) is not installed; .ci/run installs it";
            if (Environment.GetEnvironmentVariable("LITEPCIE_HIL_CI") == "1")
            {
                Assert.Fail(why);
            }

            Assert.Ignore(why);
        }

        var run = ProcessRunner.Run(lspci, ["-D", "-nn", "-vvv"], TimeSpan.FromSeconds(30));
        run.ExitCode.Should().Be(0, run.Output);
        s_lspci = ParseLspci(run.Stdout).ToDictionary(f => f.Address);
        s_sysfs = new SysfsPci().Enumerate();
        s_root = Environment.UserName == "root";
        s_sysfs.Should().NotBeEmpty("this VM has PCI functions");
    }

    [Test]
    public void Every_function_lspci_lists_is_enumerated_with_the_same_ids_class_and_revision()
    {
        s_sysfs.Select(f => f.Address).Should().BeEquivalentTo(s_lspci.Keys, "sysfs and lspci see the same functions");
        foreach (var f in s_sysfs)
        {
            var l = s_lspci[f.Address];
            (f.VendorId, f.DeviceId).Should().Be((l.Vendor, l.Device), $"{f.Address} vendor:device");
            (f.ClassCode >> 8).Should().Be(l.Class, $"{f.Address} class (base and sub-class)");
            if (l.Revision is { } rev)
            {
                f.Revision.Should().Be(rev, $"{f.Address} revision");
            }

            if (l.Subsystem is { } sub)
            {
                (f.SubsystemVendorId, f.SubsystemId).Should().Be(sub, $"{f.Address} subsystem");
            }

            f.Driver.Should().Be(l.Driver, $"{f.Address} bound driver");
        }
    }

    [Test]
    public void Bars_have_the_type_address_and_size_lspci_reports()
    {
        s_lspci.Values.Sum(f => f.Regions.Count).Should().BeGreaterThan(0, "lspci lists regions on this machine (the comparison is not vacuous)");
        foreach (var f in s_sysfs)
        {
            var expected = s_lspci[f.Address].Regions;
            var actual = f.ImplementedBars.Select(b => (b.Index, b.Start, b.Size, b.Is64Bit, b.Prefetchable, b.IsIo)).ToList();
            actual.Should().BeEquivalentTo(expected, $"{f.Address}: BARs from sysfs resource");
            if (f.Config is { } cs)
            {
                cs.Bars.Where(b => b.Size > 0).Select(b => (b.Index, b.Size!.Value)).Should()
                    .BeEquivalentTo(expected.Select(r => (r.Index, r.Size)), $"{f.Address}: BAR sizes the config-space parser states");
            }
        }
    }

    [Test]
    public void The_capability_list_parsed_from_config_equals_lspcis()
    {
        if (!s_root)
        {
            s_sysfs.Where(f => f.Config is null).Should().OnlyContain(f => f.ConfigProblem!.Contains("root"), "without root only the header is readable, and that is said");
            Assert.Ignore("capabilities need root to read config space beyond 64 bytes");
        }

        s_lspci.Values.Sum(f => f.Capabilities.Count).Should().BeGreaterThan(0, "lspci lists capabilities on this machine (the comparison is not vacuous)");
        foreach (var f in s_sysfs)
        {
            f.Config.Should().NotBeNull($"{f.Address}: {f.ConfigProblem}");
            var ours = f.Config!.Capabilities.Select(c => (c.Offset, (int)c.Id)).ToList();
            ours.Should().Equal(s_lspci[f.Address].Capabilities, $"{f.Address}: capability offsets and IDs (lspci 'Capabilities: [xx] …')");
        }
    }

    [Test]
    public void Msi_vectors_and_numa_node_are_read()
    {
        foreach (var f in s_sysfs.Where(f => f.Driver is not null))
        {
            bool msiEnabled = s_lspci[f.Address].MsiEnabled;
            (f.MsiIrqs.Count > 0).Should().Be(msiEnabled, $"{f.Address}: msi_irqs lists vectors exactly when lspci shows MSI/MSI-X Enable+");
            f.NumaNode.Should().BeGreaterThanOrEqualTo(-1);
        }
    }

    private sealed record LspciFunction(string Address, ushort Vendor, ushort Device, uint Class, byte? Revision, (ushort, ushort)? Subsystem, string? Driver,
        List<(int Index, ulong Start, ulong Size, bool Is64Bit, bool Prefetchable, bool IsIo)> Regions, List<(int Offset, int Id)> Capabilities, bool MsiEnabled);

    private static IEnumerable<LspciFunction> ParseLspci(string text)
    {
        LspciFunction? current = null;
        foreach (var line in text.Split('\n'))
        {
            var head = Header().Match(line);
            if (head.Success)
            {
                if (current is not null)
                {
                    yield return current;
                }

                current = new LspciFunction(head.Groups["addr"].Value, Hex16(head.Groups["v"].Value), Hex16(head.Groups["d"].Value),
                    uint.Parse(head.Groups["cls"].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture),
                    head.Groups["rev"].Success ? byte.Parse(head.Groups["rev"].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture) : null,
                    null, null, [], [], false);
                continue;
            }

            if (current is null)
            {
                continue;
            }

            if (Subsystem().Match(line) is { Success: true } sub)
            {
                current = current with { Subsystem = (Hex16(sub.Groups["v"].Value), Hex16(sub.Groups["d"].Value)) };
            }
            else if (Region().Match(line) is { Success: true } r)
            {
                bool io = r.Groups["kind"].Value == "I/O ports";
                current.Regions.Add((int.Parse(r.Groups["i"].Value, CultureInfo.InvariantCulture), ulong.Parse(r.Groups["at"].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture),
                    Size(r.Groups["size"].Value), r.Groups["attrs"].Value.Contains("64-bit", StringComparison.Ordinal),
                    !io && !r.Groups["attrs"].Value.Contains("non-prefetchable", StringComparison.Ordinal), io));
            }
            else if (Capability().Match(line) is { Success: true } c)
            {
                int offset = int.Parse(c.Groups["off"].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                string name = c.Groups["name"].Value;
                int id = name.StartsWith("Power Management", StringComparison.Ordinal) ? 0x01
                    : name.StartsWith("MSI-X", StringComparison.Ordinal) ? 0x11
                    : name.StartsWith("MSI", StringComparison.Ordinal) ? 0x05
                    : name.StartsWith("Express", StringComparison.Ordinal) ? 0x10
                    : name.StartsWith("Vendor Specific", StringComparison.Ordinal) ? 0x09
                    : name.StartsWith("Subsystem", StringComparison.Ordinal) ? 0x0D
                    : name.StartsWith("PCI Advanced Features", StringComparison.Ordinal) ? 0x13
                    : name.StartsWith("Bridge subsystem", StringComparison.Ordinal) ? 0x0D
                    : -1;
                if (offset < 0x100)
                {
                    current.Capabilities.Add((offset, id));
                }

                if (name.StartsWith("MSI", StringComparison.Ordinal) && name.Contains("Enable+", StringComparison.Ordinal))
                {
                    current = current with { MsiEnabled = true };
                }
            }
            else if (line.TrimStart().StartsWith("Kernel driver in use:", StringComparison.Ordinal))
            {
                current = current with { Driver = line.Split(':', 2)[1].Trim() };
            }
        }

        if (current is not null)
        {
            yield return current;
        }
    }

    private static ushort Hex16(string s) => ushort.Parse(s, NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    private static ulong Size(string s)
    {
        ulong n = ulong.Parse(s[..^1], CultureInfo.InvariantCulture);
        return s[^1] switch { 'K' => n << 10, 'M' => n << 20, 'G' => n << 30, 'T' => n << 40, _ => ulong.Parse(s, CultureInfo.InvariantCulture) };
    }

    [GeneratedRegex(@"^(?<addr>[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]) .*\[(?<cls>[0-9a-f]{4})\]: .*\[(?<v>[0-9a-f]{4}):(?<d>[0-9a-f]{4})\](?: \(rev (?<rev>[0-9a-f]{2})\))?")]
    private static partial Regex Header();

    [GeneratedRegex(@"^\s+Subsystem: .*\[(?<v>[0-9a-f]{4}):(?<d>[0-9a-f]{4})\]")]
    private static partial Regex Subsystem();

    [GeneratedRegex(@"^\s+Region (?<i>\d): (?<kind>Memory|I/O ports) at (?<at>[0-9a-f]+)(?: \((?<attrs>[^)]*)\))? \[size=(?<size>\d+[KMGT]?)\]")]
    private static partial Regex Region();

    [GeneratedRegex(@"^\s+Capabilities: \[(?<off>[0-9a-f]+)(?: v\d+)?\] (?<name>.*)$")]
    private static partial Regex Capability();
}
