using System.CommandLine;
using System.Text.Json.Nodes;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Pci;
using Spectre.Console;

namespace LitePcie.Hil.Cli;

/// <summary>
/// <c>litepcie-hil info</c>: what litepcie_util's info prints and what lspci -vv would add for a LitePCIe function:
/// identifier, IDs, revision/class, link, BARs, capabilities, the CSR map and the DMA geometry per channel, and the
/// driver (dext ABI or litepcie.ko) the session talks to.
/// </summary>
internal static class InfoCommand
{
    public static Command Create(CliIo io) =>
        DeviceCommand.Create("info", "Identifier, IDs, link, BARs, capabilities, CSR map and DMA geometry of a board", io, [], RunAsync);

    private static async Task<int> RunAsync(CommandContext ctx)
    {
        await using var bench = await Bench.OpenAsync(ctx.Request, ctx.Cancel).ConfigureAwait(false);
        var session = await bench.SessionAsync(ctx.Cancel).ConfigureAwait(false);
        await using (session.ConfigureAwait(false))
        {
            var info = session.Info;
            // Without root, Linux gives only the 64-byte config header: show what the session knows and say why the
            // capabilities are missing, rather than failing step 1 of a lab bring-up.
            PciConfigSpace? config = null;
            string? configProblem = null;
            try
            {
                config = session.ReadConfigSpace();
            }
            catch (DeviceException e) when (e.Code == DeviceErrorCode.NotPermitted)
            {
                configProblem = e.Message;
            }

            var pcie = config?.Find<PciExpressCapability>();
            var layout = session.Map.Layout;
            var c = ctx.Console;

            var facts = new Grid().AddColumn().AddColumn();
            void Fact(string name, string value) => facts.AddRow(Markup.Escape(name), Markup.Escape(value));
            Fact("Device", $"{info.Device.Backend}:{info.Device.Address}");
            Fact("SoC identifier", info.Identifier);
            Fact("Board profile", $"{bench.Profile.Name} ({bench.Profile.Description})");
            Fact("Vendor:Device", $"{info.Device.VendorId:x4}:{info.Device.DeviceId:x4}");
            Fact("Subsystem", $"{info.SubsystemVendorId:x4}:{info.SubsystemId:x4}");
            Fact("Revision / class", $"0x{info.Revision:x2} / 0x{info.ClassCode:x6} ({PciConfigSpace.ClassName(info.ClassCode)})");
            Fact("Link", Text.Link(info.Device.LinkSpeed, info.Device.LinkWidth, pcie));
            if (pcie is not null)
            {
                Fact("Max payload / read request", $"{pcie.MaxPayloadSize} B (supported {pcie.MaxPayloadSupported} B) / {pcie.MaxReadRequestSize} B");
            }

            Fact("Driver", $"{info.Driver}, {info.DriverVersion}");
            Fact("CSR map", $"{Text.DisplayPath(session.Map.Source)}: {session.Map.Registers.Count} registers, CSR base 0x{session.Map.CsrBase:x8}, " +
                $"MSI {layout.Msi.Flavour}, PHY {(layout.Phy is null ? "not exported" : layout.Phy.Family.ToString())}, DMA address width {layout.DmaAddressWidth} bits");
            c.Line("[> FPGA/SoC info");
            c.Render(facts);

            c.Line();
            c.Line("[> BARs");
            var bars = new Table().Border(TableBorder.Simple).AddColumns("BAR", "TYPE", "PREFETCH", "SIZE");
            foreach (var b in info.Bars)
            {
                bars.AddRow(b.Index.ToString(System.Globalization.CultureInfo.InvariantCulture), b.Kind.ToString(), b.Prefetchable ? "yes" : "no", Text.Size(b.Size));
            }

            c.Render(bars);
            c.Line("[> Capabilities");
            List<(string Name, string Detail)> caps = config is null ? [] : Capabilities(config);
            foreach (var (name, detail) in caps)
            {
                c.Line($"  {name,-6} {detail}");
            }

            if (configProblem is not null)
            {
                c.Line($"  not readable: {configProblem}");
            }

            c.Line();
            c.Line("[> DMA");
            var dma = new Table().Border(TableBorder.Simple).AddColumns("CHANNEL", "BLOCK", "RING", "LOOPBACK", "PLUGINS", "IRQ (writer/reader)");
            foreach (var ch in session.Channels)
            {
                var l = ch.Layout;
                dma.AddRow(ch.Index.ToString(System.Globalization.CultureInfo.InvariantCulture), Markup.Escape(l.BlockName),
                    $"{ch.Geometry.BufferCount} × {Text.Size((ulong)ch.Geometry.BufferSize)}", l.LoopbackEnable is null ? "absent" : "present",
                    Markup.Escape(Plugins(l)), $"{l.WriterInterrupt}/{l.ReaderInterrupt}");
            }

            c.Render(dma);
            c.Document(new JsonObject
            {
                ["command"] = "info",
                ["backend"] = info.Device.Backend,
                ["address"] = info.Device.Address,
                ["identifier"] = info.Identifier,
                ["board"] = bench.Profile.Name,
                ["vendorId"] = Text.Hex16(info.Device.VendorId),
                ["deviceId"] = Text.Hex16(info.Device.DeviceId),
                ["subsystemVendorId"] = Text.Hex16(info.SubsystemVendorId),
                ["subsystemId"] = Text.Hex16(info.SubsystemId),
                ["revision"] = info.Revision,
                ["classCode"] = $"0x{info.ClassCode:x6}",
                ["link"] = Text.LinkJson(info.Device.LinkSpeed, info.Device.LinkWidth, pcie),
                ["driver"] = info.Driver,
                ["driverVersion"] = info.DriverVersion,
                ["bars"] = new JsonArray([.. info.Bars.Select(b => (JsonNode)new JsonObject
                {
                    ["index"] = b.Index, ["kind"] = b.Kind.ToString(), ["prefetchable"] = b.Prefetchable, ["size"] = b.Size,
                })]),
                ["capabilities"] = new JsonArray([.. caps.Select(k => (JsonNode)new JsonObject { ["name"] = k.Name, ["detail"] = k.Detail })]),
                ["capabilitiesUnreadable"] = configProblem,
                ["csr"] = new JsonObject
                {
                    ["source"] = Text.DisplayPath(session.Map.Source),
                    ["registers"] = session.Map.Registers.Count,
                    ["csrBase"] = Text.Hex32(session.Map.CsrBase),
                    ["msi"] = layout.Msi.Flavour.ToString(),
                    ["phy"] = layout.Phy?.Family.ToString(),
                    ["dmaAddressWidth"] = layout.DmaAddressWidth,
                },
                ["channels"] = new JsonArray([.. session.Channels.Select(ch => (JsonNode)new JsonObject
                {
                    ["index"] = ch.Index,
                    ["buffers"] = ch.Geometry.BufferCount,
                    ["bufferSize"] = ch.Geometry.BufferSize,
                    ["loopback"] = ch.Layout.LoopbackEnable is not null,
                    ["plugins"] = Plugins(ch.Layout),
                })]),
            });
            return ExitCodes.Success;
        }
    }

    /// <summary>The capabilities a LitePCIe function's driver cares about, decoded.</summary>
    private static List<(string Name, string Detail)> Capabilities(PciConfigSpace config)
    {
        var list = new List<(string, string)>();
        foreach (var cap in config.Capabilities)
        {
            switch (cap)
            {
                case PowerManagementCapability pm:
                    list.Add(("PM", $"@0x{pm.Offset:x2} version {pm.Version}, state {pm.PowerState}{(pm.D1Supported ? ", D1" : "")}{(pm.D2Supported ? ", D2" : "")}"));
                    break;
                case MsiCapability msi:
                    list.Add(("MSI", $"@0x{msi.Offset:x2} {(msi.Enabled ? "enabled" : "disabled")}, {msi.GrantedVectors}/{msi.RequestedVectors} vector(s), " +
                        $"{(msi.Is64Bit ? "64" : "32")}-bit{(msi.PerVectorMasking ? ", per-vector masking" : "")}"));
                    break;
                case MsiXCapability x:
                    list.Add(("MSI-X", $"@0x{x.Offset:x2} {(x.Enabled ? "enabled" : "disabled")}, {x.TableSize} entries, table BAR{x.TableBir}+0x{x.TableOffset:x}, PBA BAR{x.PbaBir}+0x{x.PbaOffset:x}"));
                    break;
                case PciExpressCapability e:
                    list.Add(("PCIe", $"@0x{e.Offset:x2} v{e.Version} {e.DeviceType}, link {e.LinkSpeed.Describe()} x{e.LinkWidth} (max {e.LinkMaxSpeed.Describe()} x{e.LinkMaxWidth}), " +
                        $"MPS {e.MaxPayloadSize} B, MRRS {e.MaxReadRequestSize} B"));
                    break;
                default:
                    list.Add(($"0x{cap.Id:x2}", $"@0x{cap.Offset:x2}"));
                    break;
            }
        }

        return list;
    }

    private static string Plugins(DmaChannelLayout l)
    {
        var names = new[]
        {
            l.Synchronizer is null ? null : "synchronizer",
            l.Buffering is null ? null : "buffering",
            l.Monitor is null ? null : "monitor",
            l.Status is null ? null : "status",
        }.OfType<string>().ToList();
        return names.Count == 0 ? "none" : string.Join(", ", names);
    }
}
