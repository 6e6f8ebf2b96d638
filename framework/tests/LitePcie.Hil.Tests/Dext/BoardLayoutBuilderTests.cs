using FluentAssertions;
using LitePcie.Hil.Boards;
using LitePcie.Hil.Cli;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Dext;
using LitePcie.Hil.Tests.Support;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Dext;

/// <summary>The board layout given to the dext core, in memory (SIL) and as generated C++ (DriverKit).</summary>
[TestFixture]
public sealed class BoardLayoutBuilderTests
{
    [Test]
    public void Default_board_layout_carries_each_channels_own_registers_and_features()
    {
        var layout = BoardLayoutBuilder.Build(BoardCatalog.Load(BoardCatalog.DefaultBoard));
        layout.ChannelCount.Should().Be(2u);
        layout.Channels[0].Writer.Enable.Should().Be(0x4000u);
        layout.Channels[1].Writer.Enable.Should().Be(0x4800u, "channel 1 never uses DMA0's addresses");
        layout.Channels[1].Reader.LoopStatus.Should().Be(0x4834u);
        layout.Channels[1].LoopbackEnable.Should().Be(0x4840u);
        (layout.Channels[1].ReaderIrq, layout.Channels[1].WriterIrq).Should().Be((2u, 3u));
        (layout.Channels[0].Features & DextAbi.FeatureDriverOffsets).Should().NotBe(0u);
        layout.BarSizes[0].Should().Be(1UL << 20);
        layout.BarSizes[2].Should().Be(1UL << 20);
        layout.ExpectedIdentifier.ToText().Should().Be(BoardCatalog.Load(BoardCatalog.DefaultBoard).CsrMap.Identifier);
    }

    [Test]
    public void No_loopback_board_has_no_loopback_register_in_its_layout()
    {
        var layout = BoardLayoutBuilder.Build(BoardCatalog.Load("sim-kcu105-noloop"));
        layout.Channels[0].LoopbackEnable.Should().Be(DextAbi.NoRegister, "the core must never write +0x40 on this design");
        (layout.Channels[0].Features & DextAbi.FeatureLoopback).Should().Be(0u);
    }

    [Test]
    public void Msix_soc_board_layout_uses_bar_offsets_not_absolute_addresses()
    {
        var profile = BoardCatalog.Load("sim-xcu1525-msix");
        var layout = BoardLayoutBuilder.Build(profile);
        layout.MsiFlavour.Should().Be((uint)MsiFlavour.MsiX);
        layout.MsixTable.Should().Be(profile.CsrMap.ToBarOffset(profile.CsrMap.Bases["pcie_msi_table"]));
        layout.MsixTableBytes.Should().Be(32u * 16);
        layout.CtrlScratch.Should().Be(4u, "0xF0000004 is BAR0 offset 4");
        layout.DmaAddressWidth.Should().Be(64u);
    }

    private static IEnumerable<TestCaseData> GeneratedSources()
    {
        foreach (var name in BoardCatalog.BuiltInNames())
        {
            yield return new TestCaseData(name).SetName($"Generated_layout_of_{name}_compiles_and_passes_the_core_check");
        }
    }

    [TestCaseSource(nameof(GeneratedSources))]
    public void Generated_source_compiles_against_the_abi_and_passes_the_cores_layout_check(string board)
    {
        Support.TestPaths.RequireAvailable(board);
        var stdout = new StringWriter();
        string dir = Directory.CreateTempSubdirectory("lpc-layout-").FullName;
        try
        {
            string generated = Path.Combine(dir, "BoardLayout.generated.cpp");
            Program.Run(["board-header", "--board", board, "--out", generated], stdout, TextWriter.Null).Should().Be(ExitCodes.Success, stdout.ToString());
            CompileAndCheck(dir, generated).Should().Be("layout OK", "the dext core accepts the generated layout of " + board);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Test]
    public void Generated_source_from_the_real_ac701_csr_json_passes_the_core_check()
    {
        string csr = Path.Combine(TestPaths.RequireSharedBoard(), "csr.json");
        string dir = Directory.CreateTempSubdirectory("lpc-layout-").FullName;
        try
        {
            string generated = Path.Combine(dir, "BoardLayout.generated.cpp");
            Program.Run(["board-header", "--board", csr, "--bar0-size", "1MiB", "--out", generated], TextWriter.Null, TextWriter.Null).Should().Be(ExitCodes.Success);
            File.ReadAllText(generated).Should().Contain("\"LitePCIe standalone core 2026-11-21 14:35:04\"");
            CompileAndCheck(dir, generated).Should().Be("layout OK");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Test]
    public void Bad_input_to_board_header_is_a_usage_error_naming_the_problem()
    {
        var err = new StringWriter();
        Program.Run(["board-header", "--board", "no-such-board"], TextWriter.Null, err).Should().Be(ExitCodes.UsageError);
        err.ToString().Should().Contain("no profile file or directory 'no-such-board'");

        err = new StringWriter();
        string csr = Path.Combine(TestPaths.Boards, "sim-ac701-2ch", "csr.json");
        Program.Run(["board-header", "--board", csr, "--buffers", "300"], TextWriter.Null, err).Should().Be(ExitCodes.UsageError);
        err.ToString().Should().Contain("--buffers 300 must be a power of two in 2..4096");

        err = new StringWriter();
        Program.Run(["board-header"], TextWriter.Null, err).Should().Be(ExitCodes.UsageError);
        err.ToString().Should().Contain("--board");
    }

    /// <summary>Compiles the generated file with the real driverkit BoardLayout.h and the core's validation, runs the check.</summary>
    private static string CompileAndCheck(string dir, string generated)
    {
        string cxx = FindCompiler();
        string root = TestPaths.RepoRoot;
        string main = Path.Combine(dir, "main.cpp");
        File.WriteAllText(main, """
            #include <stdio.h>
            #include "BoardLayout.h"
            #include "lpc/Validation.hpp"
            int main() {
                const char* problem = lpc::validation::CheckLayout(kLitePcieBoardLayout);
                printf("%s", problem ? problem : "layout OK");
                return problem ? 1 : 0;
            }
            """);
        string exe = Path.Combine(dir, "check");
        string headerDir = Path.Combine(root, "dext", "driverkit", "LitePCIeDriver");
        if (!File.Exists(Path.Combine(headerDir, "BoardLayout.h")))
        {
            headerDir = dir;
            File.WriteAllText(Path.Combine(dir, "BoardLayout.h"), "#pragma once\n#include \"lpc/LitePcieAbi.h\"\nextern const LpcBoardLayout kLitePcieBoardLayout;\n");
        }

        Run(cxx, $"-std=c++17 -Wall -Werror -fno-exceptions -fno-rtti -I \"{headerDir}\" -I \"{Path.Combine(root, "dext", "core", "include")}\" " +
                 $"\"{main}\" \"{generated}\" \"{Path.Combine(root, "dext", "core", "src", "Validation.cpp")}\" -o \"{exe}\"");
        return Run(exe, "", allowFailure: true);
    }

    private static string FindCompiler()
    {
        foreach (var c in new[] { "g++", "clang++", "c++" })
        {
            foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':'))
            {
                if (File.Exists(Path.Combine(dir, c)))
                {
                    return Path.Combine(dir, c);
                }
            }
        }

        Assert.Ignore("no C++ compiler on PATH: the generated dext board layout cannot be compiled here");
        return "";
    }

    private static string Run(string file, string args, bool allowFailure = false)
    {
        var r = ProcessRunner.Run(file, args, TimeSpan.FromMinutes(2));
        if (!allowFailure)
        {
            r.ExitCode.Should().Be(0, $"{Path.GetFileName(file)} {args}: {r.Output}");
        }

        return r.Output;
    }
}
