using FluentAssertions;
using System.Globalization;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Tests.Support;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Lab;

/// <summary>
/// The csr.h/soc.h the upstream driver and tools are compiled against: compiled here with a program that prints every
/// address and constant, which must equal the CSR map they came from (the C compiler is the judge, not a text diff).
/// </summary>
[TestFixture]
public sealed class LiteXHeaderGeneratorTests
{
    private static IEnumerable<string> Maps()
    {
        foreach (string board in new[] { "sim-ac701-2ch", "sim-xcu1525-msix", "sim-kcu105-noloop" })
        {
            yield return Path.Combine(TestPaths.Boards, board, "csr.json");
        }
    }

    [TestCaseSource(nameof(Maps))]
    public void Headers_CompileAndCarryEveryAddressAndConstant(string csrJson) => Check(CsrMap.Load(csrJson));

    [Test]
    public void Headers_OfARealLiteXMap()
    {
        string dir = TestPaths.RequireSharedBoard();
        Check(CsrMap.Load(Path.Combine(dir, "csr.json")));
    }

    private static void Check(CsrMap map)
    {
        string gcc = new[] { "/usr/bin/gcc", "/usr/bin/cc" }.FirstOrDefault(File.Exists) ?? "";
        if (gcc.Length == 0)
        {
            Assert.Ignore("no C compiler (gcc) to compile the generated headers with");
        }

        string dir = Path.Combine(Path.GetTempPath(), $"litex-headers-{Guid.NewGuid():N}");
        try
        {
            LiteXHeaderGenerator.Write(map, dir);
            var c = new System.Text.StringBuilder("#include <stdio.h>\n#include \"soc.h\"\n#include \"csr.h\"\nint main(void) {\n");
            foreach (var r in map.Registers)
            {
                string n = r.Name.ToUpperInvariant();
                c.Append(CultureInfo.InvariantCulture, $"  printf(\"{r.Name} %lu %d\\n\", (unsigned long)(CSR_{n}_ADDR), (int)CSR_{n}_SIZE);\n");
            }

            foreach (var (name, address) in map.Bases)
            {
                c.Append(CultureInfo.InvariantCulture, $"  printf(\"base:{name} %lu\\n\", (unsigned long)(CSR_{name.ToUpperInvariant()}_BASE));\n");
            }

            foreach (var k in map.Constants.Values.Where(k => k.Integer is not null))
            {
                c.Append(CultureInfo.InvariantCulture, $"  printf(\"const:{k.Name} %lld\\n\", (long long)({k.Name.ToUpperInvariant()}));\n");
            }

            c.Append("  printf(\"identifier:%s\\n\", CONFIG_IDENTIFIER);\n  return 0;\n}\n");
            File.WriteAllText(Path.Combine(dir, "probe.c"), c.ToString());
            var build = ProcessRunner.Run(gcc, ["-Wall", "-Werror", "-o", Path.Combine(dir, "probe"), Path.Combine(dir, "probe.c")], TimeSpan.FromSeconds(60), dir);
            build.ExitCode.Should().Be(0, $"the generated headers compile: {build.Output}");
            var run = ProcessRunner.Run(Path.Combine(dir, "probe"), [], TimeSpan.FromSeconds(30));
            var lines = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
            foreach (var r in map.Registers)
            {
                lines.Should().Contain($"{r.Name} {r.Address} {r.Words}", $"CSR_{r.Name.ToUpperInvariant()}_ADDR/_SIZE");
            }

            foreach (var (name, address) in map.Bases)
            {
                lines.Should().Contain($"base:{name} {address}");
            }

            foreach (var k in map.Constants.Values.Where(k => k.Integer is not null))
            {
                lines.Should().Contain($"const:{k.Name} {k.Integer}");
            }

            lines.Should().Contain($"identifier:{map.Identifier}");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
