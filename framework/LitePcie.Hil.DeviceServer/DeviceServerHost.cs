using System.Buffers.Binary;
using LitePcie.Hil.Simulation;
using LitePcie.Hil.Simulation.Gateware;

namespace LitePcie.Hil.DeviceServer;

/// <summary>
/// Serves one simulated board to one QEMU <c>litepcie-hil</c> device over a unix socket: accepts the
/// device's mmio connection (requests answered in order) and its events connection (where the board's
/// MSIs go), until the mmio connection closes. Protocol violations are answered with a named error
/// and logged; they never reach the board.
/// </summary>
public sealed class DeviceServerHost : IMsiSink, IDisposable
{
    private readonly string _socketPath;
    private readonly BoardEndpoint _endpoint;
    private readonly TextWriter _log;
    private readonly List<string> _protocolErrors = [];
    private readonly ManualResetEventSlim _finished = new(false);
    private readonly object _sync = new();
    private readonly List<(Thread Thread, UnixConnection Connection)> _connections = [];
    private int _listenFd = -1;
    private Thread? _acceptThread;
    private UnixConnection? _mmio;
    private UnixConnection? _events;
    private bool _servedDevice;
    private long _msiSent;
    private long _msiUndelivered;
    private volatile bool _stopping;

    public DeviceServerHost(string socketPath, SimulatedBoard board, GuestMemory memory, TextWriter log, GuestPacing? pacing = null)
    {
        _socketPath = socketPath;
        _endpoint = new BoardEndpoint(board, memory, pacing);
        _log = log;
        Memory = memory;
        board.InterruptSink = this;
    }

    /// <summary>The board's endpoint (counters).</summary>
    public BoardEndpoint Endpoint => _endpoint;

    /// <summary>The guest RAM the board reaches.</summary>
    public GuestMemory Memory { get; }

    /// <summary>MSIs sent to QEMU.</summary>
    public long MsiSent => Interlocked.Read(ref _msiSent);

    /// <summary>MSIs the board raised while no events connection was open.</summary>
    public long MsiUndelivered => Interlocked.Read(ref _msiUndelivered);

    /// <summary>Every protocol violation seen (at most 100 kept).</summary>
    public IReadOnlyList<string> ProtocolErrors
    {
        get
        {
            lock (_protocolErrors)
            {
                return [.. _protocolErrors];
            }
        }
    }

    /// <summary>Binds the socket (replacing a stale one) and starts accepting.</summary>
    public unsafe void Start()
    {
        if (File.Exists(_socketPath))
        {
            File.Delete(_socketPath);
        }

        var address = UnixInterop.Address(_socketPath, out uint length);
        int fd = UnixInterop.Socket(UnixInterop.AfUnix, UnixInterop.SockStream | UnixInterop.SockCloexec, 0);
        if (fd < 0 || UnixInterop.Bind(fd, &address, length) != 0 || UnixInterop.Listen(fd, 4) != 0)
        {
            string error = UnixInterop.LastError();
            if (fd >= 0)
            {
                _ = UnixInterop.Close(fd);
            }

            throw new IOException($"cannot listen on unix socket {_socketPath}: {error}");
        }

        _listenFd = fd;
        _acceptThread = new Thread(AcceptLoop) { IsBackground = true, Name = "device-server accept" };
        _acceptThread.Start();
    }

    /// <summary>Waits until a device was served and its mmio connection closed (or the timeout passed).</summary>
    public bool WaitForDeviceGone(TimeSpan timeout, CancellationToken cancel) => _finished.Wait(timeout, cancel);

    /// <inheritdoc />
    public void OnMessage(MsiMessage message, long timestamp)
    {
        var events = Volatile.Read(ref _events);
        if (events is null)
        {
            Interlocked.Increment(ref _msiUndelivered);
            return;
        }

        Span<byte> payload = stackalloc byte[DeviceProtocol.MsiBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(payload, message.Address);
        BinaryPrimitives.WriteUInt32LittleEndian(payload[8..], message.Data);
        BinaryPrimitives.WriteUInt32LittleEndian(payload[12..], (uint)message.Vector);
        try
        {
            events.Send(DeviceProtocol.Msi, payload);
            Interlocked.Increment(ref _msiSent);
        }
        catch (IOException)
        {
            Interlocked.Increment(ref _msiUndelivered);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _stopping = true;
        int fd = Interlocked.Exchange(ref _listenFd, -1);
        if (fd >= 0)
        {
            _ = UnixInterop.Shutdown(fd, UnixInterop.ShutRdwr);
            _ = UnixInterop.Close(fd);
        }

        _acceptThread?.Join(TimeSpan.FromSeconds(5));
        (Thread Thread, UnixConnection Connection)[] connections;
        lock (_connections)
        {
            connections = [.. _connections];
        }

        // Every connection thread ends before the server is gone (none may log or touch the board afterwards).
        foreach (var (_, connection) in connections)
        {
            connection.Shutdown();
        }

        foreach (var (thread, _) in connections)
        {
            thread.Join(TimeSpan.FromSeconds(5));
        }

        try
        {
            File.Delete(_socketPath);
        }
        catch (IOException)
        {
        }

        _finished.Dispose();
    }

    private unsafe void AcceptLoop()
    {
        while (!_stopping)
        {
            int fd = UnixInterop.Accept(Volatile.Read(ref _listenFd), null, null, UnixInterop.SockCloexec);
            if (fd < 0)
            {
                if (_stopping)
                {
                    return;
                }

                Log($"accept failed: {UnixInterop.LastError()}");
#pragma warning disable RS0030 // paces retries of a failing accept(2) on the server's own thread (not a synchronisation; the loop ends on _stopping)
                Thread.Sleep(10);
#pragma warning restore RS0030
                continue;
            }

            var connection = new UnixConnection(fd);
            var thread = new Thread(() => Serve(connection)) { IsBackground = true, Name = "device-server connection" };
            lock (_connections)
            {
                _connections.RemoveAll(c => !c.Thread.IsAlive);
                _connections.Add((thread, connection));
            }

            thread.Start();
        }
    }

    private void Serve(UnixConnection connection)
    {
        var fds = new List<int>();
        uint role = 0;
        try
        {
            if (!connection.TryRead(out ushort type, out byte[] payload, fds, timeoutMs: 10_000))
            {
                connection.Dispose();
                return;
            }

            CloseAll(fds); // HELLO carries none
            var hello = DeviceProtocol.ParseHello(type, payload);
            role = hello.Role;
            lock (_sync)
            {
                ref var slot = ref role == DeviceProtocol.RoleMmio ? ref _mmio : ref _events;
                if (slot is not null)
                {
                    throw new DeviceProtocolException("HELLO.role", $"{RoleName(role)} is already connected: accepted one QEMU device per server");
                }

                slot = connection;
            }

            Log($"QEMU pid {hello.Pid} connected ({RoleName(role)})");
            if (role == DeviceProtocol.RoleEvents)
            {
                connection.Send(DeviceProtocol.EventsReady, []);
                // Nothing comes in on this connection: wait for its end.
                if (connection.TryRead(out ushort unexpected, out _, fds))
                {
                    CloseAll(fds);
                    throw new DeviceProtocolException("header.type", $"{DeviceProtocol.TypeName(unexpected)} on the events connection: accepted none");
                }

                return;
            }

            connection.Send(DeviceProtocol.Device, _endpoint.DescribeDevice());
            _servedDevice = true;
            ServeMmio(connection, fds);
        }
        catch (DeviceProtocolException e)
        {
            Violation(role, e.Message);
            connection.SendError(e.Message);
            connection.FinishAfterError();
        }
        catch (IOException e)
        {
            if (!_stopping)
            {
                Log($"{RoleName(role)} connection: {e.Message}");
            }
        }
        finally
        {
            CloseAll(fds);
            lock (_sync)
            {
                if (role == DeviceProtocol.RoleMmio && _mmio == connection)
                {
                    _mmio = null;
                }
                else if (role == DeviceProtocol.RoleEvents && _events == connection)
                {
                    _events = null;
                }
            }

            connection.Dispose();
            if (role == DeviceProtocol.RoleMmio && _servedDevice)
            {
                Log("QEMU device disconnected");
                _finished.Set();
            }
        }
    }

    private void ServeMmio(UnixConnection connection, List<int> fds)
    {
        while (true)
        {
            fds.Clear();
            if (!connection.TryRead(out ushort type, out byte[] payload, fds))
            {
                return;
            }

            Request request;
            try
            {
                request = DeviceProtocol.ParseRequest(DeviceProtocol.RoleMmio, type, payload, fds.Count);
            }
            catch (DeviceProtocolException e) when (AnswerType(type) is { } answer && LengthFits(type, payload.Length))
            {
                // A well-framed request with a bad field: answered with the reason, the stream goes on.
                CloseAll(fds);
                Violation(DeviceProtocol.RoleMmio, e.Message);
                if (answer != 0)
                {
                    connection.Send(answer, Refusal(answer, e.Message));
                }

                continue;
            }

            Reply? reply;
            try
            {
                reply = _endpoint.Handle(request, [.. fds]);
            }
            catch (DeviceProtocolException e)
            {
                Violation(DeviceProtocol.RoleMmio, e.Message); // a posted write the board refused
                continue;
            }

            fds.Clear(); // the endpoint closed or kept them
            if (reply is not null)
            {
                connection.Send(reply.Type, reply.Payload);
            }
        }
    }

    /// <summary>The answer type of a request type, 0 for a posted one, null for one that is not a request.</summary>
    private static ushort? AnswerType(ushort type) => type switch
    {
        DeviceProtocol.CfgRead => DeviceProtocol.CfgReadReply,
        DeviceProtocol.MmioRead => DeviceProtocol.MmioReadReply,
        DeviceProtocol.CfgWrite or DeviceProtocol.Reset or DeviceProtocol.MemoryMap => DeviceProtocol.StatusReply,
        DeviceProtocol.MmioWrite => 0,
        _ => null,
    };

    private static bool LengthFits(ushort type, int length) => type switch
    {
        DeviceProtocol.CfgRead => length == DeviceProtocol.CfgReadBytes,
        DeviceProtocol.CfgWrite => length == DeviceProtocol.CfgWriteBytes,
        DeviceProtocol.MmioRead or DeviceProtocol.MmioWrite => length == DeviceProtocol.MmioBytes,
        DeviceProtocol.Reset => length == 0,
        DeviceProtocol.MemoryMap => length >= DeviceProtocol.MemoryMapHeaderBytes && (length - DeviceProtocol.MemoryMapHeaderBytes) % DeviceProtocol.RegionBytes == 0,
        _ => false,
    };

    private static byte[] Refusal(ushort answer, string text)
    {
        byte[] bytes = System.Text.Encoding.UTF8.GetBytes(text.Length > DeviceProtocol.MaxText ? text[..DeviceProtocol.MaxText] : text);
        int fixedBytes = answer == DeviceProtocol.StatusReply ? DeviceProtocol.StatusReplyBytes : DeviceProtocol.ValueReplyBytes;
        byte[] payload = new byte[fixedBytes + bytes.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(payload, DeviceProtocol.StatusInvalid);
        if (answer != DeviceProtocol.StatusReply)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(payload.AsSpan(8), ulong.MaxValue);
        }

        bytes.CopyTo(payload, fixedBytes);
        return payload;
    }

    private void Violation(uint role, string text)
    {
        lock (_protocolErrors)
        {
            if (_protocolErrors.Count < 100)
            {
                _protocolErrors.Add(text);
            }
        }

        Log($"protocol error on the {RoleName(role)} connection: {text}");
    }

    private static string RoleName(uint role) => role switch
    {
        DeviceProtocol.RoleMmio => "mmio",
        DeviceProtocol.RoleEvents => "events",
        _ => "new",
    };

    private static void CloseAll(List<int> fds)
    {
        foreach (int fd in fds)
        {
            _ = UnixInterop.Close(fd);
        }

        fds.Clear();
    }

    private void Log(string text)
    {
        lock (_log)
        {
            _log.WriteLine($"device-server: {text}");
            _log.Flush();
        }
    }
}
