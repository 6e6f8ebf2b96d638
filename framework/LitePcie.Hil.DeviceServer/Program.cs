using System.CommandLine;
using System.Text.Json;
using LitePcie.Hil.Backends;
using LitePcie.Hil.Boards;
using LitePcie.Hil.Simulation.Faults;
using LitePcie.Hil.Simulation.Gateware;

namespace LitePcie.Hil.DeviceServer;

/// <summary>
/// <c>litepcie-hil-device-server --socket PATH [--board NAME] [--faults SPEC] [--engine model|rtl]</c>: one simulated
/// board for one QEMU <c>litepcie-hil</c> device. Exits when the device disconnects (QEMU quit), writing a
/// summary (what was served, DMA moved, faults injected, protocol errors) to <c>--summary</c>.
/// Exit codes: 0 served and closed cleanly, 1 protocol errors or DMA faults were seen, 2 bad arguments, 3 no device came.
/// </summary>
public static class Program
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static int Main(string[] args)
    {
        var socket = new Option<string>("--socket", "-s") { Description = "Unix socket path QEMU's litepcie-hil device connects to", Required = true };
        var board = new Option<string>("--board", "-b") { Description = "Board profile (name or path)", DefaultValueFactory = _ => BoardCatalog.DefaultBoard };
        var faults = new Option<string>("--faults", "-f") { Description = "Faults to inject, name[=value];… (as SimFaults), e.g. dma-bitflip=0.01;seed=7", DefaultValueFactory = _ => "" };
        var engine = new Option<string>("--engine") { Description = "What computes the gateware: model (the C# gateware model) or rtl (the board's real LitePCIe RTL under Verilator, docs/rtl.md)", DefaultValueFactory = _ => "model" };
        var paced = new Option<bool>("--paced") { Description = "Pace DMA to the profile's link rate" };
        var dmaRate = new Option<string?>("--dma-rate") { Description = "Pace DMA to this many bytes/s per direction (e.g. 32MiB; 1MiB..100GiB): a guest under TCG runs far slower than real time, the board must too" };
        var summary = new Option<FileInfo?>("--summary") { Description = "Write a JSON summary here when the device disconnects" };
        var rootPort = new Option<FileInfo?>("--root-port-file") { Description = "Write the QEMU pcie-root-port link properties of the board (x-speed=…,x-width=…) to this file before listening" };
        var lead = new Option<int>("--lead") { Description = "Buffers a DMA engine may run ahead of what the guest's driver last read of it (0 = the hardware's behaviour: never wait; 1..65536)", DefaultValueFactory = _ => 0 };
        var connectTimeout = new Option<int>("--connect-timeout") { Description = "Seconds to wait for QEMU's device (1..86400)", DefaultValueFactory = _ => 600 };
        var root = new RootCommand("litepcie-hil-device-server: a simulated LitePCIe board behind a unix socket, for QEMU's litepcie-hil device")
        {
            socket, board, faults, engine, paced, dmaRate, lead, summary, rootPort, connectTimeout,
        };
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors)
            {
                Console.Error.WriteLine($"error: {error.Message}");
            }

            return 2;
        }

        if (parse.Action is not null && parse.CommandResult.Command != root || args.Contains("--help") || args.Contains("-h") || args.Contains("-?"))
        {
            return parse.Invoke();
        }

        string engineName = parse.GetValue(engine)!.Trim().ToLowerInvariant();
        SimEngine chosen;
        switch (engineName)
        {
            case "model":
                chosen = SimEngine.Model;
                break;
            case "rtl":
                chosen = SimEngine.Rtl;
                break;
            default:
                Console.Error.WriteLine($"error: --engine '{engineName}': accepted model or rtl");
                return 2;
        }

        int leadBuffers = parse.GetValue(lead);
        if (leadBuffers is < 0 or > 65536)
        {
            Console.Error.WriteLine($"error: --lead {leadBuffers}: accepted 0 (off) or 1..65536 buffers");
            return 2;
        }

        int timeout = parse.GetValue(connectTimeout);
        if (timeout is < 1 or > 86400)
        {
            Console.Error.WriteLine($"error: --connect-timeout {timeout}: accepted 1..86400 seconds");
            return 2;
        }

        double? rate = null;
        if (parse.GetValue(dmaRate) is { } rateText)
        {
            if (!BoardProfile.TryParseInteger(rateText, out long bytes) || bytes < 1L << 20 || bytes > 100L << 30)
            {
                Console.Error.WriteLine($"error: --dma-rate '{rateText}': accepted 1MiB..100GiB (bytes per second per direction, KiB/MiB/GiB suffixes)");
                return 2;
            }

            rate = bytes;
        }

        BoardProfile profile;
        FaultPlan plan;
        var request = new BackendRequest
        {
            Backend = SimBackendProvider.Name,
            Boards = [parse.GetValue(board)!],
            Faults = parse.GetValue(faults),
            Paced = parse.GetValue(paced),
            Engine = chosen,
            AskedAs = "--engine",
        };
        try
        {
            profile = BoardCatalog.Load(request.Boards[0]);
            plan = FaultPlan.Parse(request.Faults);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or IOException or InvalidDataException or System.Text.Json.JsonException or InvalidOperationException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 2;
        }

        if (BackendRegistry.For(request).Unavailable(request) is { } noRtl)
        {
            Console.Error.WriteLine($"error: --engine rtl: {noRtl}");
            return 2;
        }

        if (parse.GetValue(rootPort) is { } rootPortFile)
        {
            // The root port above the function trains the profile's link (QEMU 7.2 property values).
            string speed = profile.LinkSpeed switch
            {
                Hil.Pci.PciLinkSpeed.Gen1 => "2_5",
                Hil.Pci.PciLinkSpeed.Gen2 => "5",
                Hil.Pci.PciLinkSpeed.Gen3 => "8",
                _ => "16",
            };
            File.WriteAllText(rootPortFile.FullName, $"x-speed={speed},x-width={profile.LinkWidth}\n");
        }

        return Serve(parse.GetValue(socket)!, request, profile, plan, rate, leadBuffers, parse.GetValue(summary), TimeSpan.FromSeconds(timeout));
    }

    private static int Serve(string socketPath, BackendRequest request, BoardProfile profile, FaultPlan plan, double? rate, int lead, FileInfo? summary, TimeSpan connectTimeout)
    {
        var engine = request.Engine;
        using var memory = new GuestMemory(profile.CsrMap.Layout.DmaAddressWidth);
        using var board = BackendRegistry.Server(request).Serve(request, new BoardServing(memory) { PacedBytesPerSecond = rate });
        var pacing = lead > 0 ? new GuestPacing(profile.CsrMap, lead) : null;
        board.FlowControl = pacing;
        using var host = new DeviceServerHost(socketPath, board, memory, Console.Error, pacing);
        var stop = new CancellationTokenSource(); // not disposed: the handlers below may run while the process exits
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.Cancel();
        try
        {
            host.Start();
        }
        catch (Exception e) when (e is IOException or ArgumentException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 2;
        }

        Console.Error.WriteLine($"device-server: board {profile.Name} ({profile.VendorId:x4}:{profile.DeviceId:x4}, engine {engine.ToString().ToLowerInvariant()}, faults '{plan}') listening on {socketPath}");
        var declared = pacing is null ? [] : DeclaredDifferences.OfTheBoard.Where(d => d.Name == "guest-pacing").ToArray();
        foreach (var d in declared)
        {
            Console.Error.WriteLine($"device-server: declared difference {d.Name} (lead {lead} buffers): {d.Where}");
        }
        bool gone;
        try
        {
            gone = host.WaitForDeviceGone(connectTimeout + TimeSpan.FromDays(1), stop.Token);
        }
        catch (OperationCanceledException)
        {
            gone = false;
        }

        var stats = board.GetStatistics();
        var counters = host.Endpoint.Counters;
        var dmaFaults = memory.Faults;
        var result = new
        {
            board = profile.Name,
            engine = engine.ToString().ToLowerInvariant(),
            faults = plan.ToString(),
            dmaRateBytesPerSecond = rate,
            guestLeadBuffers = lead,
            guestPacingHolds = pacing?.Holds ?? 0,
            guestPacingReleasedByBound = pacing?.Released ?? 0,
            guestPacingConsumerCouplings = pacing?.ConsumerCouplings ?? 0,
            declaredDifferences = declared.Select(d => d.Name).ToArray(),
            deviceServed = gone,
            config = counters.ConfigAccesses,
            mmioReads = counters.MmioReads,
            mmioWrites = counters.MmioWrites,
            refused = counters.Refused,
            resets = counters.Resets,
            memoryMaps = counters.MemoryMaps,
            guestRamBytes = memory.MappedBytes,
            msiSent = host.MsiSent,
            msiUndelivered = host.MsiUndelivered,
            buffersMoved = stats.BuffersMoved,
            writerBytes = stats.WriterBytes,
            readerBytes = stats.ReaderBytes,
            bitsFlipped = stats.BitsFlipped,
            buffersDropped = stats.BuffersDropped,
            busErrors = stats.BusErrors,
            dmaFaults = dmaFaults.Count,
            firstDmaFaults = dmaFaults.Take(10).Select(f => f.ToString()).ToArray(),
            protocolErrors = host.ProtocolErrors,
        };
        string json = JsonSerializer.Serialize(result, Indented);
        if (summary is not null)
        {
            File.WriteAllText(summary.FullName, json);
        }

        Console.Error.WriteLine($"device-server: {counters.MmioReads} MMIO reads, {counters.MmioWrites} writes, {counters.ConfigAccesses} config accesses, {host.MsiSent} MSIs, " +
            $"{stats.WriterBytes + stats.ReaderBytes} DMA bytes ({stats.BuffersMoved} buffers), {stats.BitsFlipped} bits flipped, {dmaFaults.Count} DMA faults, {host.ProtocolErrors.Count} protocol errors");
        return !gone ? 3 : host.ProtocolErrors.Count > 0 || dmaFaults.Count > 0 ? 1 : 0;
    }
}
