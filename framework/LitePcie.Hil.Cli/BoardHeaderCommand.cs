using System.CommandLine;
using LitePcie.Hil.Boards;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Dext;

namespace LitePcie.Hil.Cli;

/// <summary>
/// <c>litepcie-hil board-header</c>: renders the board layout the dext core needs from a board profile or a
/// LiteX csr.json, as the C++ source the DriverKit build compiles (BoardLayout.generated.cpp).
/// </summary>
internal static class BoardHeaderCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var board = new Option<string>("--board", "-b")
        {
            Description = "Board profile (name or path) or a LiteX csr.json / csr.csv",
            Required = true,
        };
        var output = new Option<FileInfo?>("--out", "-o") { Description = "File to write (default: standard output)" };
        var bar0 = new Option<string>("--bar0-size") { Description = "BAR0 size when --board is a csr file (e.g. 1MiB)", DefaultValueFactory = _ => "1MiB" };
        var buffers = new Option<int>("--buffers") { Description = "DMA buffers per ring when --board is a csr file (power of two, 2..4096)", DefaultValueFactory = _ => 256 };
        var bufferSize = new Option<int>("--buffer-size") { Description = "Bytes per DMA buffer when --board is a csr file (multiple of 4)", DefaultValueFactory = _ => 8192 };
        var command = new Command("board-header", "Generate the dext's board layout (C++) from a board profile or csr.json") { board, output, bar0, buffers, bufferSize };
        command.SetAction(parse =>
        {
            string source = parse.GetValue(board)!;
            try
            {
                LpcBoardLayout layout;
                if (source.EndsWith(".json", StringComparison.OrdinalIgnoreCase) && !source.EndsWith("profile.json", StringComparison.OrdinalIgnoreCase)
                    || source.EndsWith(".csv", StringComparison.OrdinalIgnoreCase))
                {
                    if (!BoardProfile.TryParseInteger(parse.GetValue(bar0)!, out long barSize) || barSize < 4096 || (barSize & (barSize - 1)) != 0)
                    {
                        stderr.WriteLine($"error: --bar0-size '{parse.GetValue(bar0)}' must be a power of two of at least 4 KiB (e.g. 1MiB)");
                        return ExitCodes.UsageError;
                    }

                    int n = parse.GetValue(buffers), size = parse.GetValue(bufferSize);
                    if (n < 2 || n > 4096 || (n & (n - 1)) != 0 || size < 4 || size % 4 != 0 || size > 1 << 23)
                    {
                        stderr.WriteLine($"error: --buffers {n} must be a power of two in 2..4096 and --buffer-size {size} a multiple of 4 up to 8 MiB");
                        return ExitCodes.UsageError;
                    }

                    layout = BoardLayoutBuilder.Build(CsrMap.Load(source), n, size, new Dictionary<int, ulong> { [0] = (ulong)barSize });
                }
                else
                {
                    layout = BoardLayoutBuilder.Build(BoardCatalog.Load(source));
                }

                string text = BoardLayoutBuilder.RenderCpp(layout, Path.GetFileName(source));
                if (parse.GetValue(output) is { } file)
                {
                    File.WriteAllText(file.FullName, text);
                    stdout.WriteLine($"wrote {file.FullName} ({layout.ChannelCount} DMA channel(s), identifier \"{layout.ExpectedIdentifier.ToText()}\")");
                }
                else
                {
                    stdout.Write(text);
                }

                return ExitCodes.Success;
            }
            catch (Exception e) when (e is CsrMapException or BoardProfileException or IOException or UnauthorizedAccessException)
            {
                stderr.WriteLine($"error: {e.Message}");
                return ExitCodes.UsageError;
            }
        });
        return command;
    }
}
