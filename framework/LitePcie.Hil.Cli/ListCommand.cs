using System.CommandLine;
using System.Text.Json.Nodes;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Pci;
using Spectre.Console;

namespace LitePcie.Hil.Cli;

/// <summary>
/// <c>litepcie-hil list</c>: the LitePCIe boards the backend finds, with address, IDs, board profile, the identifier
/// ROM and the link (negotiated, and the maximum from the Link Capabilities register where the config space is
/// readable). A board another client holds is listed as busy rather than failing the listing.
/// </summary>
internal static class ListCommand
{
    public static Command Create(CliIo io) =>
        DeviceCommand.Create("list", "List the LitePCIe boards found (address, IDs, board, identifier, link)", io, [], RunAsync);

    private static async Task<int> RunAsync(CommandContext ctx)
    {
        await using var bench = await Bench.OpenAsync(ctx.Request, ctx.Cancel, requireDevice: false).ConfigureAwait(false);
        var rows = new List<(DeviceDescriptor Device, string Identifier, PciExpressCapability? Link)>();
        foreach (var d in bench.Found)
        {
            ctx.Cancel.ThrowIfCancellationRequested();
            rows.Add(await ProbeAsync(bench, d, ctx.Cancel).ConfigureAwait(false));
        }

        var json = new JsonArray();
        var table = new Table().Border(TableBorder.Simple)
            .AddColumns("ADDRESS", "VENDOR:DEVICE", "BOARD", "IDENTIFIER", "LINK");
        foreach (var (d, ident, pcie) in rows)
        {
            string link = Text.Link(d.LinkSpeed, d.LinkWidth, pcie);
            table.AddRow(Markup.Escape(d.Address), $"{d.VendorId:x4}:{d.DeviceId:x4}", Markup.Escape(d.Board ?? "-"), Markup.Escape(ident), Markup.Escape(link));
            json.Add(new JsonObject
            {
                ["address"] = d.Address,
                ["vendorId"] = Text.Hex16(d.VendorId),
                ["deviceId"] = Text.Hex16(d.DeviceId),
                ["board"] = d.Board,
                ["identifier"] = ident,
                ["link"] = Text.LinkJson(d.LinkSpeed, d.LinkWidth, pcie),
            });
        }

        if (rows.Count == 0)
        {
            ctx.Console.Line($"no LitePCIe board found on --backend {ctx.Request.Backend}");
        }
        else
        {
            ctx.Console.Line($"{rows.Count} LitePCIe board(s) on --backend {ctx.Request.Backend}:");
            ctx.Console.Render(table);
        }

        ctx.Console.Document(new JsonObject { ["command"] = "list", ["backend"] = ctx.Request.Backend, ["devices"] = json });
        return ExitCodes.Success;
    }

    private static async Task<(DeviceDescriptor, string, PciExpressCapability?)> ProbeAsync(Bench bench, DeviceDescriptor d, CancellationToken cancel)
    {
        try
        {
            var session = await bench.Backend.OpenAsync(d, cancel).ConfigureAwait(false);
            await using (session.ConfigureAwait(false))
            {
                PciExpressCapability? pcie = null;
                try
                {
                    pcie = session.ReadConfigSpace().Find<PciExpressCapability>();
                }
                catch (DeviceException e) when (e.Code == DeviceErrorCode.NotPermitted)
                {
                    // Step 0 on a lab host runs as the user: without root, Linux shows only the config header, so the
                    // maximum link is unknown — list the board anyway (the negotiated link comes from sysfs).
                }

                return (d, session.Info.Identifier, pcie);
            }
        }
        catch (DeviceBusyException)
        {
            return (d, "(busy: another client holds it)", null);
        }
    }
}
