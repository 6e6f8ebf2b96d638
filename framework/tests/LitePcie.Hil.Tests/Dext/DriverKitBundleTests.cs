using System.Globalization;
using System.Text.RegularExpressions;
using System.Xml;
using System.Xml.Linq;
using FluentAssertions;
using LitePcie.Hil.Boards;
using LitePcie.Hil.Dext;
using LitePcie.Hil.Tests.Support;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Dext;

/// <summary>
/// Lints the macOS DriverKit bundle (<c>dext/driverkit</c>) on Linux, where it cannot be compiled:
/// Info.plist and entitlements structure, the PCI IDs the personality matches against the IDs
/// litepcie.ko matches (docs/linux-driver.md#matching-and-probe), the dev/release entitlement split, the .iig ↔ .cpp
/// method correspondence, the <c>lpc::Platform</c> methods the glue implements, the headers the glue
/// may include, and that a generated board layout compiles and links against the glue's BoardLayout.h.
/// </summary>
[TestFixture]
public sealed partial class DriverKitBundleTests
{
    private const string AllowAnyUserClient = "com.apple.developer.driverkit.allow-any-userclient-access";
    private const string TransportPci = "com.apple.developer.driverkit.transport.pci";

    /// <summary>docs/linux-driver.md#matching-and-probe: every (vendor, device) litepcie.ko matches.</summary>
    private static readonly (ushort Vendor, ushort Device)[] s_litePcieIds =
    [
        (0x10EE, 0x7021), (0x10EE, 0x7022), (0x10EE, 0x7024), (0x10EE, 0x7028),
        (0x10EE, 0x8021), (0x10EE, 0x8022), (0x10EE, 0x8024), (0x10EE, 0x8028),
        (0x10EE, 0x8031), (0x10EE, 0x8032), (0x10EE, 0x8034), (0x10EE, 0x8038),
        (0x10EE, 0x9021), (0x10EE, 0x9022), (0x10EE, 0x9024), (0x10EE, 0x9028), (0x10EE, 0x902F),
        (0x10EE, 0x9031), (0x10EE, 0x9032), (0x10EE, 0x9034), (0x10EE, 0x9038), (0x10EE, 0x903F),
        (0x10EE, 0x9041), (0x10EE, 0x9042), (0x10EE, 0x9044), (0x10EE, 0x9048),
        (0x1204, 0x9C25),
        (0x22C2, 0x1100),
    ];

    private static string DriverKitDir => Path.Combine(TestPaths.RepoRoot, "dext", "driverkit");

    private static string GlueDir => Path.Combine(DriverKitDir, "LitePCIeDriver");

    private static string GluePath(string name) => Path.Combine(GlueDir, name);

    // ---- Plists -------------------------------------------------------------------------------

    [TestCase("Info.plist")]
    [TestCase("LitePCIeDriver.entitlements")]
    [TestCase("LitePCIeDriver.Dev.entitlements")]
    public void Plist_is_well_formed_with_a_dictionary_root(string file)
    {
        var root = Plist.Read(GluePath(file));

        root.Should().BeOfType<Dictionary<string, object>>($"{file} must have a <dict> root");
    }

    [Test]
    public void Info_plist_has_the_bundle_keys()
    {
        var info = ReadDict("Info.plist");

        Str(info, "CFBundleIdentifier", "Info.plist").Should().Be("$(PRODUCT_BUNDLE_IDENTIFIER)");
        foreach (string key in new[]
                 {
                     "CFBundleExecutable", "CFBundleName", "CFBundlePackageType", "CFBundleInfoDictionaryVersion",
                     "CFBundleShortVersionString", "CFBundleVersion", "CFBundleDevelopmentRegion",
                 })
        {
            Str(info, key, "Info.plist").Should().NotBeNullOrWhiteSpace($"Info.plist {key}");
        }

        Str(info, "OSBundleUsageDescription", "Info.plist").Should().NotBeNullOrWhiteSpace("the approval UI shows it");
    }

    [Test]
    public void Personality_has_the_DriverKit_matching_keys()
    {
        var personality = Personality();

        Str(personality, "CFBundleIdentifier", "personality").Should().Be("$(PRODUCT_BUNDLE_IDENTIFIER)");
        Str(personality, "IOClass", "personality").Should().Be("IOUserService");
        Str(personality, "IOProviderClass", "personality").Should().Be("IOPCIDevice");
        Str(personality, "IOUserClass", "personality").Should().Be("LitePCIeDriver");
        Str(personality, "IOUserServerName", "personality").Should().NotBeNullOrWhiteSpace();
        Str(personality, "IOResourceMatch", "personality").Should().Be("IOKit");
        Str(personality, "IOMatchCategory", "personality").Should().NotBeNullOrWhiteSpace();
        Value<bool>(personality, "IOPCITunnelCompatible", "personality").Should().BeTrue("Thunderbolt enclosures need it");
        Str(personality, "IOPCIMatch", "personality").Should().NotBeNullOrWhiteSpace();

        var userClient = Value<Dictionary<string, object>>(personality, "UserClientProperties", "personality");
        Str(userClient, "IOClass", "UserClientProperties").Should().Be("IOUserUserClient");
        Str(userClient, "IOUserClass", "UserClientProperties").Should().Be("LitePCIeUserClient");
    }

    [Test]
    public void Personality_classes_and_user_client_key_are_the_ones_the_sources_use()
    {
        var personality = Personality();
        string driverIig = Source("LitePCIeDriver.iig");
        string clientIig = Source("LitePCIeUserClient.iig");
        string driverCpp = Source("LitePCIeDriver.cpp");

        driverIig.Should().MatchRegex($@"class\s+{Str(personality, "IOUserClass", "personality")}\s*:\s*public\s+IOService\b");
        var userClient = Value<Dictionary<string, object>>(personality, "UserClientProperties", "personality");
        clientIig.Should().MatchRegex($@"class\s+{Str(userClient, "IOUserClass", "UserClientProperties")}\s*:\s*public\s+IOUserClient\b");
        driverCpp.Should().Contain("\"UserClientProperties\"", "NewUserClient creates the client from that personality key")
            .And.MatchRegex(@"\bCreate\(\s*this\s*,");
    }

    [Test]
    public void IOPCIMatch_lists_exactly_the_ids_litepcie_ko_matches()
    {
        string match = Str(Personality(), "IOPCIMatch", "personality");
        string[] words = match.Split(' ');

        words.Should().OnlyContain(w => PciIdWord().IsMatch(w), "IOPCIMatch is 0x + 8 hex digits per ID, single spaces");
        uint[] ids = words.Select(ParseHex).ToArray();
        ids.Should().OnlyHaveUniqueItems();
        ids.Should().BeEquivalentTo(s_litePcieIds.Select(p => ((uint)p.Device << 16) | p.Vendor),
            "every LitePCIe device ID of docs/linux-driver.md#matching-and-probe (device << 16 | vendor) and nothing else");
    }

    [Test]
    public void Release_entitlements_do_not_allow_any_user_client_but_dev_ones_do()
    {
        var release = ReadDict("LitePCIeDriver.entitlements");
        var dev = ReadDict("LitePCIeDriver.Dev.entitlements");

        release.Should().NotContainKey(AllowAnyUserClient, "a shipped dext must require userclient-access from its clients");
        Value<bool>(dev, AllowAnyUserClient, "Dev entitlements").Should().BeTrue();
        Value<bool>(release, "com.apple.developer.driverkit", "release entitlements").Should().BeTrue();
        Value<bool>(dev, "com.apple.developer.driverkit", "Dev entitlements").Should().BeTrue();

        var devWithoutAllowAny = dev.Where(kv => kv.Key != AllowAnyUserClient).ToDictionary(kv => kv.Key, kv => kv.Value);
        Plist.Canonical(devWithoutAllowAny).Should().Be(Plist.Canonical(release), "Dev = release + allow-any-userclient-access");
    }

    [TestCase("LitePCIeDriver.entitlements")]
    [TestCase("LitePCIeDriver.Dev.entitlements")]
    public void Transport_pci_covers_every_vendor_the_personality_matches(string file)
    {
        var entitlements = ReadDict(file);
        var rules = TransportRules(Value<List<object>>(entitlements, TransportPci, file), file);

        uint[] ids = Str(Personality(), "IOPCIMatch", "personality").Split(' ').Select(ParseHex).ToArray();
        foreach (uint id in ids)
        {
            rules.Should().Contain(r => (id & r.Mask) == r.Value, $"ID 0x{id:X8} must be covered by {TransportPci} in {file}");
        }

        foreach (var (value, mask) in rules)
        {
            ids.Should().Contain(id => (id & mask) == value, $"{file} grants vendor 0x{value:X4} that the personality never matches");
        }
    }

    [Test]
    public void Transport_pci_may_carry_the_builtin_marker_and_no_other_string()
    {
        // IOPCIFamily (IOPCIDevice::matchPropertyTable): a device with the "built-in" property matches a dext
        // only when the transport.pci array also holds the string com.apple.developer.driverkit.builtin.
        var vendor = new Dictionary<string, object> { ["IOPCIPrimaryMatch"] = "0x000010EE&0x0000FFFF" };
        TransportRules([vendor, BuiltinMarker], "synthetic").Should().Equal([(0x10EEu, 0xFFFFu)], "the marker grants no vendor");
        FluentActions.Invoking(() => TransportRules([vendor, "com.apple.developer.driverkit.builtins"], "synthetic"))
            .Should().Throw<Exception>().WithMessage("*builtins*");
    }

    private const string BuiltinMarker = "com.apple.developer.driverkit.builtin";

    /// <summary>The (value, mask) vendor rules of a transport.pci array: dicts with IOPCIPrimaryMatch, and at most the built-in marker.</summary>
    private static List<(uint Value, uint Mask)> TransportRules(List<object> entries, string file)
    {
        var rules = new List<(uint Value, uint Mask)>();
        foreach (object entry in entries)
        {
            if (entry is string marker)
            {
                marker.Should().Be(BuiltinMarker, $"{file}: the only string {TransportPci} may hold is the built-in marker");
                continue;
            }

            entry.Should().BeOfType<Dictionary<string, object>>($"{file}: {TransportPci} is an array of dicts");
            string primary = Str((Dictionary<string, object>)entry, "IOPCIPrimaryMatch", TransportPci);
            var m = PrimaryMatch().Match(primary);
            m.Success.Should().BeTrue($"\"{primary}\" must read 0xVVVVVVVV&0xMMMMMMMM");
            uint value = ParseHex("0x" + m.Groups[1].Value);
            uint mask = ParseHex("0x" + m.Groups[2].Value);
            mask.Should().Be(0x0000FFFFu, $"\"{primary}\" grants one vendor (not every PCI device)");
            rules.Add((value & mask, mask));
        }

        return rules;
    }

    // ---- .iig ↔ .cpp ------------------------------------------------------------------------------

    [TestCase("LitePCIeDriver", "IOService")]
    [TestCase("LitePCIeUserClient", "IOUserClient")]
    public void Every_IMPL_method_is_declared_in_the_iig_and_every_declared_method_is_implemented(string className, string baseClass)
    {
        var declared = Iig.ParseClass(Source(className + ".iig"), className, baseClass);
        string cpp = Iig.StripComments(Source(className + ".cpp"));
        var impl = Matches(cpp, $@"\bIMPL\(\s*{className}\s*,\s*(\w+)\s*\)");
        var plain = Matches(cpp, $@"\b{className}::(\w+)\s*\(");
        var byName = declared.ToDictionary(d => d.Name);

        // IOUserClient::ExternalMethod is LOCALONLY in the base: overridden as plain C++, never with IMPL.
        string[] plainCpp = ["init", "free", "ExternalMethod"];
        foreach (string name in impl)
        {
            byName.Should().ContainKey(name, $"IMPL({className}, {name}) needs a declaration in {className}.iig");
            byName[name].LocalOnly.Should().BeFalse($"{name} is LOCALONLY: implement it as {className}::{name}, not with IMPL");
            plainCpp.Should().NotContain(name);
        }

        foreach (string name in plain)
        {
            byName.Should().ContainKey(name, $"{className}::{name} is defined in the .cpp but not declared in the .iig");
        }

        foreach (var m in declared)
        {
            if (m.LocalOnly || plainCpp.Contains(m.Name))
            {
                plain.Should().Contain(m.Name, $"{className}.iig declares {m.Name}; the .cpp must define {className}::{m.Name}");
            }
            else
            {
                impl.Should().Contain(m.Name, $"{className}.iig declares {m.Name}; the .cpp must implement IMPL({className}, {m.Name})");
            }
        }

        cpp.Should().MatchRegex($@"struct\s+{className}_IVars\s*\{{", "iig declares the ivars pointer; the .cpp defines the struct");
    }

    [Test]
    public void Driver_declares_the_lifecycle_interrupt_and_timer_methods()
    {
        var methods = Iig.ParseClass(Source("LitePCIeDriver.iig"), "LitePCIeDriver", "IOService").ToDictionary(m => m.Name);

        methods.Keys.Should().Contain(["init", "free", "Start", "Stop", "SetPowerState", "NewUserClient"]);
        methods.Should().ContainKey("InterruptOccurred");
        methods["InterruptOccurred"].Type.Should().Be("IOInterruptDispatchSource::InterruptOccurred");
        methods.Values.Should().Contain(m => m.Type == "IOTimerDispatchSource::TimerOccurred", "WaitBuffers timeouts need a timer handler");

        string cpp = Source("LitePCIeDriver.cpp");
        cpp.Should().Contain("Stop(provider, SUPERDISPATCH)", "Stop must always reach super (docs/dext-design.md#mistakes-of-public-dexts-we-avoid)");
        cpp.Should().Contain("SetPowerState(powerFlags, SUPERDISPATCH)");
        cpp.Should().Contain("GetBARInfo(", "BAR index → memory index, never assume 0");
        cpp.Should().Contain("->Cancel(", "interrupt sources and timers are cancelled, not just released");
    }

    [Test]
    public void User_client_declares_its_methods_and_calls_only_what_the_driver_declares()
    {
        var methods = Iig.ParseClass(Source("LitePCIeUserClient.iig"), "LitePCIeUserClient", "IOUserClient").Select(m => m.Name);
        methods.Should().Contain(["init", "free", "Start", "Stop", "ExternalMethod", "CopyClientMemoryForType"]);

        var driverMethods = Iig.ParseClass(Source("LitePCIeDriver.iig"), "LitePCIeDriver", "IOService").ToDictionary(m => m.Name);
        string cpp = Iig.StripComments(Source("LitePCIeUserClient.cpp"));
        var calls = Matches(cpp, @"(?:ivars->driver|driver)->(\w+)\s*\(").Where(n => n is not "retain" and not "release").ToList();
        calls.Should().NotBeEmpty();
        foreach (string call in calls)
        {
            driverMethods.Should().ContainKey(call, $"the user client calls LitePCIeDriver::{call}");
            driverMethods[call].LocalOnly.Should().BeTrue($"{call} runs in-process and must be LOCALONLY");
        }

        cpp.Should().Contain("selector >= kLpcMethodCount").And.Contain("kIOReturnUnsupported");
        cpp.Should().Contain("Stop(provider, SUPERDISPATCH)", "the public LitePCIe ports omit it (docs/dext-design.md#mistakes-of-public-dexts-we-avoid)");
    }

    [Test]
    public void Glue_implements_every_pure_virtual_of_lpc_Platform()
    {
        string coreHpp = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "dext", "core", "include", "lpc", "Core.hpp"));
        string platform = Iig.ClassBody(Iig.StripComments(coreHpp), @"class\s+Platform\s*\{");
        var pureVirtuals = Matches(platform, @"virtual\s+[^;()]*?\b(\w+)\s*\([^;]*?\)\s*=\s*0\s*;");
        pureVirtuals.Count.Should().BeGreaterThan(10, "the parser must find lpc::Platform's methods");

        string glue = Iig.StripComments(Source("LitePCIeDriver.cpp"));
        glue.Should().MatchRegex(@"class\s+DriverKitPlatform\s+final\s*:\s*public\s+lpc::Platform\b");
        foreach (string name in pureVirtuals)
        {
            glue.Should().MatchRegex($@"\b{name}\s*\([^;{{}}]*\)\s*(const\s*)?override\b", $"DriverKitPlatform must override lpc::Platform::{name}");
        }
    }

    [Test]
    public void Glue_includes_only_DriverKit_the_core_the_board_layout_and_os_log()
    {
        var offenders = new List<string>();
        foreach (string path in Directory.EnumerateFiles(GlueDir).Where(p => p.EndsWith(".cpp", StringComparison.Ordinal) ||
                     p.EndsWith(".h", StringComparison.Ordinal) || p.EndsWith(".iig", StringComparison.Ordinal)))
        {
            if (Path.GetFileName(path) == "BoardLayout.generated.cpp")
            {
                continue; // generated per board, not part of the committed glue
            }

            foreach (Match m in IncludeLine().Matches(File.ReadAllText(path)))
            {
                string target = m.Groups[2].Value;
                bool angle = m.Groups[1].Value == "<";
                bool allowed = angle
                    ? target.StartsWith("DriverKit/", StringComparison.Ordinal) || target.StartsWith("PCIDriverKit/", StringComparison.Ordinal) ||
                      target == "os/log.h"
                    : target is "BoardLayout.h" or "LitePCIeDriver.h" or "LitePCIeUserClient.h" ||
                      (target.StartsWith("lpc/", StringComparison.Ordinal) &&
                       File.Exists(Path.Combine(TestPaths.RepoRoot, "dext", "core", "include", target)));
                if (!allowed)
                {
                    offenders.Add($"{Path.GetFileName(path)}: #include {m.Groups[1].Value}{target}");
                }
            }
        }

        offenders.Should().BeEmpty("the glue may use only DriverKit/PCIDriverKit, os_log, the core headers, BoardLayout.h and the iig-generated headers");
    }

    // ---- Board layout ----------------------------------------------------------------------------

    [Test]
    public void Board_layout_header_declares_the_generated_symbol_and_says_how_to_generate_it()
    {
        string header = Source("BoardLayout.h");

        header.Should().MatchRegex(@"extern\s+const\s+LpcBoardLayout\s+kLitePcieBoardLayout\s*;");
        header.Should().Contain("#include \"lpc/LitePcieAbi.h\"");
        header.Should().Contain("board-header").And.Contain("BoardLayout.generated.cpp");
        Source("LitePCIeDriver.cpp").Should().Contain("kLitePcieBoardLayout");
    }

    [TestCase("sim-ac701-2ch")]
    [TestCase("sim-xcu1525-msix")]
    [TestCase("sim-kcu105-noloop")]
    public void Generated_board_layout_compiles_and_links_against_BoardLayout_h(string board)
    {
        string? compiler = FindCompiler();
        if (compiler is null)
        {
            Assert.Ignore("no C++ compiler (c++, g++ or clang++) on PATH");
        }

        var layout = BoardLayoutBuilder.Build(BoardCatalog.Load(board));
        string dir = Directory.CreateTempSubdirectory("lpc-board-layout-").FullName;
        try
        {
            string generated = Path.Combine(dir, "BoardLayout.generated.cpp");
            File.WriteAllText(generated, BoardLayoutBuilder.RenderCpp(layout, board));
            string probe = Path.Combine(dir, "probe.cpp");
            File.WriteAllText(probe,
                "#include <cstdio>\n#include \"BoardLayout.h\"\n" +
                "int main() { std::printf(\"%08X %u\\n\", kLitePcieBoardLayout.magic, kLitePcieBoardLayout.channelCount); return 0; }\n");
            string exe = Path.Combine(dir, "probe");
            string coreInclude = Path.Combine(TestPaths.RepoRoot, "dext", "core", "include");

            var (buildCode, buildOutput) = Run(compiler!,
                ["-std=c++17", "-Wall", "-Wextra", "-Werror", "-fno-exceptions", "-fno-rtti", $"-I{GlueDir}", $"-I{coreInclude}", generated, probe, "-o", exe]);
            buildCode.Should().Be(0, $"the generated layout must compile against BoardLayout.h:\n{buildOutput}");

            var (runCode, runOutput) = Run(exe, []);
            runCode.Should().Be(0);
            runOutput.Trim().Should().Be($"{DextAbi.LayoutMagic:X8} {layout.ChannelCount}", "the definition links with external linkage");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    // ---- Xcode project, installer, scripts -------------------------------------------------------

    [Test]
    public void Xcode_spec_builds_the_dext_from_the_glue_and_the_core_and_embeds_it_in_the_installer()
    {
        string spec = File.ReadAllText(Path.Combine(DriverKitDir, "project.yml"));

        spec.Should().Contain("com.apple.product-type.driver-extension").And.Contain("SDKROOT: driverkit");
        spec.Should().Contain("DRIVERKIT_DEPLOYMENT_TARGET");
        spec.Should().Contain("path: ../core/src").And.Contain("$(SRCROOT)/../core/include");
        spec.Should().Contain("-fno-exceptions").And.Contain("-fno-rtti");
        spec.Should().Contain("CODE_SIGN_ENTITLEMENTS: LitePCIeDriver/LitePCIeDriver.Dev.entitlements")
            .And.Contain("CODE_SIGN_ENTITLEMENTS: LitePCIeDriver/LitePCIeDriver.entitlements");
        spec.Should().Contain("INFOPLIST_FILE: LitePCIeDriver/Info.plist");
        spec.Should().Contain("LitePCIeInstaller").And.Contain("$(SYSTEM_EXTENSIONS_FOLDER_PATH)");
        spec.Should().Contain("com.apple.developer.system-extension.install");

        string installer = File.ReadAllText(Path.Combine(DriverKitDir, "Installer", "main.swift"));
        installer.Should().Contain("activationRequest").And.Contain("deactivationRequest").And.Contain("propertiesRequest");
    }

    [TestCase("build.sh")]
    [TestCase("reload.sh")]
    [TestCase("log.sh")]
    public void Script_is_an_executable_bash_script(string name)
    {
        string path = Path.Combine(DriverKitDir, "scripts", name);

        File.ReadAllText(path).Should().StartWith("#!/usr/bin/env bash\n");
        if (!OperatingSystem.IsWindows())
        {
            File.GetUnixFileMode(path).Should().HaveFlag(UnixFileMode.UserExecute);
        }
    }

    // ---- Helpers -----------------------------------------------------------------------------------

    private static string Source(string name) => File.ReadAllText(GluePath(name));

    private static Dictionary<string, object> ReadDict(string file) => (Dictionary<string, object>)Plist.Read(GluePath(file));

    private static Dictionary<string, object> Personality()
    {
        var personalities = Value<Dictionary<string, object>>(ReadDict("Info.plist"), "IOKitPersonalities", "Info.plist");
        personalities.Should().ContainSingle("one personality: the LitePCIe driver");
        return Value<Dictionary<string, object>>(personalities, personalities.Keys.Single(), "IOKitPersonalities");
    }

    private static T Value<T>(IReadOnlyDictionary<string, object> dict, string key, string where)
    {
        dict.Should().ContainKey(key, $"{where} must have {key}");
        dict[key].Should().BeOfType<T>($"{where} {key} must be a {typeof(T).Name}");
        return (T)dict[key];
    }

    private static string Str(IReadOnlyDictionary<string, object> dict, string key, string where) => Value<string>(dict, key, where);

    private static uint ParseHex(string word) => uint.Parse(word.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);

    private static List<string> Matches(string text, string pattern) =>
        Regex.Matches(text, pattern).Select(m => m.Groups[1].Value).Distinct().ToList();

    private static string? FindCompiler()
    {
        string[] candidates = [Environment.GetEnvironmentVariable("CXX") ?? "", "c++", "g++", "clang++"];
        string[] path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        foreach (string candidate in candidates.Where(c => c.Length > 0))
        {
            if (Path.IsPathRooted(candidate) && File.Exists(candidate))
            {
                return candidate;
            }

            string? found = path.Select(d => Path.Combine(d, candidate)).FirstOrDefault(File.Exists);
            if (found is not null)
            {
                return found;
            }
        }

        return null;
    }

    private static (int ExitCode, string Output) Run(string file, IEnumerable<string> arguments)
    {
        var r = ProcessRunner.Run(file, arguments, TimeSpan.FromMinutes(2));
        return (r.ExitCode, r.Output);
    }

    [GeneratedRegex("^0x[0-9A-Fa-f]{8}$")]
    private static partial Regex PciIdWord();

    [GeneratedRegex("^0x([0-9A-Fa-f]{8})&0x([0-9A-Fa-f]{8})$")]
    private static partial Regex PrimaryMatch();

    [GeneratedRegex(@"^[ \t]*#[ \t]*include[ \t]*([<""])([^>""]+)[>""]", RegexOptions.Multiline)]
    private static partial Regex IncludeLine();

    /// <summary>A reader for the XML plist subset the bundle uses: dict, array, string, true, false, integer.</summary>
    private static class Plist
    {
        public static object Read(string path)
        {
            var settings = new XmlReaderSettings { DtdProcessing = DtdProcessing.Ignore, XmlResolver = null };
            using var reader = XmlReader.Create(path, settings);
            var root = XDocument.Load(reader).Root ?? throw new FormatException($"{path}: empty document");
            if (root.Name.LocalName != "plist" || (string?)root.Attribute("version") != "1.0")
            {
                throw new FormatException($"{path}: root must be <plist version=\"1.0\">");
            }

            var values = root.Elements().ToList();
            return values.Count == 1 ? ReadValue(values[0]) : throw new FormatException($"{path}: <plist> must hold exactly one value");
        }

        /// <summary>A stable text form of a value (dict keys sorted) for equality checks.</summary>
        public static string Canonical(object value) => value switch
        {
            Dictionary<string, object> d => "{" + string.Join(",", d.OrderBy(kv => kv.Key, StringComparer.Ordinal)
                .Select(kv => $"{kv.Key}={Canonical(kv.Value)}")) + "}",
            List<object> a => "[" + string.Join(",", a.Select(Canonical)) + "]",
            string s => "\"" + s + "\"",
            bool b => b ? "true" : "false",
            long n => n.ToString(CultureInfo.InvariantCulture),
            _ => throw new FormatException($"unexpected {value.GetType().Name}"),
        };

        private static object ReadValue(XElement e) => e.Name.LocalName switch
        {
            "dict" => ReadDict(e),
            "array" => e.Elements().Select(ReadValue).ToList(),
            "string" => e.HasElements ? throw new FormatException("<string> with child elements") : e.Value,
            "true" => Empty(e, true),
            "false" => Empty(e, false),
            "integer" => long.Parse(e.Value.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture),
            _ => throw new FormatException($"unsupported plist element <{e.Name.LocalName}>"),
        };

        private static Dictionary<string, object> ReadDict(XElement e)
        {
            var items = e.Elements().ToList();
            if (items.Count % 2 != 0)
            {
                throw new FormatException("<dict> must hold <key>/value pairs");
            }

            var result = new Dictionary<string, object>(StringComparer.Ordinal);
            for (int i = 0; i < items.Count; i += 2)
            {
                if (items[i].Name.LocalName != "key" || items[i].HasElements)
                {
                    throw new FormatException($"expected <key>, found <{items[i].Name.LocalName}>");
                }

                if (!result.TryAdd(items[i].Value, ReadValue(items[i + 1])))
                {
                    throw new FormatException($"duplicate key {items[i].Value}");
                }
            }

            return result;
        }

        private static bool Empty(XElement e, bool value) =>
            e.IsEmpty || e.Value.Length == 0 ? value : throw new FormatException($"<{e.Name.LocalName}/> must be empty");
    }

    /// <summary>A declaration in an .iig class.</summary>
    private sealed record IigMethod(string Name, bool LocalOnly, string? Type);

    /// <summary>Text-level parsing of .iig class declarations (iig itself needs Xcode).</summary>
    private static class Iig
    {
        public static string StripComments(string text)
        {
            string noBlock = Regex.Replace(text, @"/\*.*?\*/", " ", RegexOptions.Singleline);
            return Regex.Replace(noBlock, @"//[^\n]*", "");
        }

        /// <summary>The text between the brace that ends <paramref name="headerPattern"/> and its matching close.</summary>
        public static string ClassBody(string text, string headerPattern)
        {
            var header = Regex.Match(text, headerPattern);
            header.Success.Should().BeTrue($"no match for /{headerPattern}/");
            int start = header.Index + header.Length;
            int depth = 1;
            for (int i = start; i < text.Length; i++)
            {
                depth += text[i] switch { '{' => 1, '}' => -1, _ => 0 };
                if (depth == 0)
                {
                    return text[start..i];
                }
            }

            throw new FormatException($"unbalanced braces after /{headerPattern}/");
        }

        public static List<IigMethod> ParseClass(string iig, string className, string baseClass)
        {
            string body = ClassBody(StripComments(iig), $@"class\s+{className}\s*:\s*public\s+{baseClass}\s*\{{");
            var methods = new List<IigMethod>();
            foreach (string raw in body.Split(';'))
            {
                string decl = Regex.Replace(raw, @"\b(public|protected|private)\s*:", " ").Trim();
                var name = Regex.Match(decl, @"(\w+)\s*\(");
                if (!name.Success)
                {
                    continue;
                }

                var type = Regex.Match(decl, @"\bTYPE\(\s*([\w:]+)\s*\)");
                methods.Add(new IigMethod(name.Groups[1].Value, Regex.IsMatch(decl, @"\bLOCALONLY\b"), type.Success ? type.Groups[1].Value : null));
            }

            methods.Should().NotBeEmpty($"{className}.iig declares methods");
            methods.Select(m => m.Name).Should().OnlyHaveUniqueItems("iig does not support overloads");
            return methods;
        }
    }
}
