using System.CommandLine;
using LitePcie.Hil.Boards;
using LitePcie.Hil.Csr;

namespace LitePcie.Hil.Cli;

/// <summary>
/// <c>litepcie-hil litex-headers</c>: writes the csr.h and soc.h that the upstream litepcie driver and user tools
/// are compiled against, from a board profile or a LiteX csr.json/csr.csv (what LiteX writes beside a bitstream).
/// </summary>
internal static class LiteXHeadersCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var board = new Option<string>("--board", "-b") { Description = "Board profile (name or path) or a LiteX csr.json / csr.csv", Required = true };
        var output = new Option<DirectoryInfo>("--out", "-o") { Description = "Directory to write csr.h and soc.h into", Required = true };
        var command = new Command("litex-headers", "Generate csr.h and soc.h for LitePCIe's software (litepcie.ko, litepcie_util) from a board profile or csr.json") { board, output };
        command.SetAction(parse =>
        {
            string source = parse.GetValue(board)!;
            try
            {
                var map = source.EndsWith(".csv", StringComparison.OrdinalIgnoreCase)
                    || (source.EndsWith(".json", StringComparison.OrdinalIgnoreCase) && !source.EndsWith("profile.json", StringComparison.OrdinalIgnoreCase))
                    ? CsrMap.Load(source)
                    : BoardCatalog.Load(source).CsrMap;
                var (csr, soc) = LiteXHeaderGenerator.Write(map, parse.GetValue(output)!.FullName);
                stdout.WriteLine($"wrote {csr} ({map.Registers.Count} registers in {map.Bases.Count} regions) and {soc} ({map.Constants.Count} constants)");
                return ExitCodes.Success;
            }
            catch (Exception e) when (e is CsrMapException or IOException or ArgumentException or InvalidDataException or UnauthorizedAccessException or System.Text.Json.JsonException)
            {
                stderr.WriteLine($"error: {e.Message}");
                return ExitCodes.UsageError;
            }
        });
        return command;
    }
}
