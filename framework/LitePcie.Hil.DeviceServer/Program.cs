using System.CommandLine;
using System.Text.Json;
using LitePcie.Hil.Backends;
using LitePcie.Hil.Boards;
using LitePcie.Hil.Options;
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

    /// <summary>Parses the arguments, then serves one board until the device disconnects.</summary>
    public static int Main(string[] args)
    {
        if (Parse(args, Console.Error, out int code) is not { } a)
        {
            return code;
        }

        if (a.RootPortFile is { } rootPortFile)
        {
            // The root port above the function trains the profile's link (QEMU 7.2 property values).
            string speed = a.Profile.LinkSpeed switch
            {
                Hil.Pci.PciLinkSpeed.Gen1 => "2_5",
                Hil.Pci.PciLinkSpeed.Gen2 => "5",
                Hil.Pci.PciLinkSpeed.Gen3 => "8",
                _ => "16",
            };
            File.WriteAllText(rootPortFile.FullName, $"x-speed={speed},x-width={a.Profile.LinkWidth}\n");
        }

        return Serve(a.Socket, a.Request, a.Profile, a.Plan, a.Rate, a.Lead, a.Summary, a.ConnectTimeout);
    }

    /// <summary>
    /// The arguments, each option built from its one declaration (<see cref="DeclaredOption"/>): the board, its faults,
    /// engine and pacing from the runsettings' (<see cref="HilOptions.Binder"/>), the server's own from
    /// <see cref="DeviceServerOptions.Binder"/>. Null when the process is to exit with <paramref name="exitCode"/>: 2 after
    /// writing each problem (the option, the value, what it accepts) to <paramref name="error"/>, or help's.
    /// </summary>
    internal static ServerArguments? Parse(string[] args, TextWriter error, out int exitCode)
    {
        var own = DeviceServerOptions.Binder;
        var socket = DeclaredOption.Of<string, DeviceServerOptions>(own, nameof(ServingOptions.Socket));
        socket.Required = true;
        socket.DefaultValueFactory = null; // required: no default to fall back on
        socket.Aliases.Add("-s");
        var board = DeclaredOption.Of<string, HilOptions>(HilOptions.Binder, "Board", "Board profile; the server serves one", flag: "--board");
        board.Aliases.Add("-b");
        var faults = DeclaredOption.Of<string, HilOptions>(HilOptions.Binder, nameof(SimOptions.SimFaults), "Faults to inject into the board, e.g. dma-bitflip=0.01;seed=7");
        faults.Aliases.Add("-f");
        var engine = DeclaredOption.Of<string, HilOptions>(HilOptions.Binder, nameof(SimOptions.SimEngine), "What computes the gateware: the C# gateware model, or the board's real LitePCIe RTL under Verilator (docs/rtl.md)");
        var paced = DeclaredOption.Of<bool, HilOptions>(HilOptions.Binder, nameof(SimOptions.SimPaced), "Pace DMA to the profile's link rate");
        var dmaRate = DeclaredOption.Of<long, DeviceServerOptions>(own, nameof(ServingOptions.DmaRate), unit: "bytes/s");
        var lead = DeclaredOption.Of<int, DeviceServerOptions>(own, nameof(ServingOptions.Lead), unit: "buffers");
        var summary = DeclaredOption.Of<string, DeviceServerOptions>(own, nameof(ServingOptions.Summary));
        var rootPort = DeclaredOption.Of<string, DeviceServerOptions>(own, nameof(ServingOptions.RootPortFile));
        var connectTimeout = DeclaredOption.Of<int, DeviceServerOptions>(own, nameof(ServingOptions.ConnectTimeout), unit: "seconds");
        var root = new RootCommand("litepcie-hil-device-server: a simulated LitePCIe board behind a unix socket, for QEMU's litepcie-hil device")
        {
            socket, board, faults, engine, paced, dmaRate, lead, summary, rootPort, connectTimeout,
        };
        var parse = root.Parse(args);
        exitCode = 2;
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors)
            {
                error.WriteLine($"error: {e.Message}");
            }

            return null;
        }

        if (parse.Action is not null && parse.CommandResult.Command != root || args.Contains("--help") || args.Contains("-h") || args.Contains("-?"))
        {
            exitCode = parse.Invoke();
            return null;
        }

        var request = new BackendRequest
        {
            Backend = SimBackendProvider.Name,
            Boards = [parse.GetValue(board)!],
            Faults = parse.GetValue(faults),
            Paced = parse.GetValue(paced),
            Engine = Enum.Parse<SimEngine>(parse.GetValue(engine)!, ignoreCase: true), // a word its declaration accepted
            AskedAs = "--engine",
        };
        string boardName = request.Boards[0];
        if (boardName.Contains(',', StringComparison.Ordinal))
        {
            error.WriteLine($"error: --board '{boardName}': the device server serves one board; accepted one profile name or path");
            return null;
        }

        BoardProfile profile;
        try
        {
            profile = BoardCatalog.Load(boardName);
            _ = profile.CsrMap; // a csr.json without a required register is bad input, found now (as the runsettings' Board is)
        }
        catch (Exception e) when (e is BoardProfileException or Csr.CsrMapException or ArgumentException or IOException or InvalidDataException or System.Text.Json.JsonException)
        {
            error.WriteLine($"error: --board '{boardName}': {e.Message}");
            return null;
        }

        var plan = FaultPlan.Parse(request.Faults); // accepted by its declaration's parser already

        if (BackendRegistry.For(request).Unavailable(request) is { } noRtl)
        {
            error.WriteLine($"error: --engine rtl: {noRtl}");
            return null;
        }

        exitCode = 0;
        static FileInfo? File(string path) => path.Length == 0 ? null : new FileInfo(path);
        return new ServerArguments(parse.GetValue(socket)!, request, profile, plan, parse.GetValue(dmaRate) is var rate and > 0 ? rate : null,
            parse.GetValue(lead), File(parse.GetValue(summary)!), File(parse.GetValue(rootPort)!), TimeSpan.FromSeconds(parse.GetValue(connectTimeout)));
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

/// <summary>What the device server was asked to serve, checked.</summary>
/// <param name="Socket">The unix socket QEMU's device connects to.</param>
/// <param name="Request">The simulator's request: board, faults, engine, pacing.</param>
/// <param name="Profile">The board's profile.</param>
/// <param name="Plan">The faults to inject.</param>
/// <param name="Rate">DMA bytes per second per direction, or null (unpaced, or the link rate when paced).</param>
/// <param name="Lead">Buffers a DMA engine may run ahead of the guest's driver (0 = never wait).</param>
/// <param name="Summary">Where to write the JSON summary, or null.</param>
/// <param name="RootPortFile">Where to write the root port's link properties, or null.</param>
/// <param name="ConnectTimeout">How long to wait for QEMU's device.</param>
internal sealed record ServerArguments(
    string Socket, BackendRequest Request, BoardProfile Profile, FaultPlan Plan, double? Rate, int Lead, FileInfo? Summary, FileInfo? RootPortFile, TimeSpan ConnectTimeout);
