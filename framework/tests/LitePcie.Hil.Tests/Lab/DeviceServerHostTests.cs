using FluentAssertions;
using System.Buffers.Binary;
using System.Net.Sockets;
using LitePcie.Hil.Boards;
using LitePcie.Hil.Csr;
using LitePcie.Hil.DeviceServer;
using LitePcie.Hil.DeviceServer.Tests;
using LitePcie.Hil.Simulation;
using LitePcie.Hil.Tests.Support;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Lab;

/// <summary>
/// The device server over its real unix socket, as QEMU's litepcie-hil device talks to it: HELLO and the device
/// description, config and BAR requests, the guest memory map with its fd, the model's DMA landing in that
/// memory, and bad messages answered by name without touching the board.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed unsafe class DeviceServerHostTests
{
    private string _path = null!;
    private SimulatedBoard _board = null!;
    private GuestMemory _memory = null!;
    private DeviceServerHost _host = null!;
    private StringWriter _log = null!;

    [SetUp]
    public void SetUp()
    {
        Guard.RequireLinux();
        _path = Path.Combine(Path.GetTempPath(), $"lph-test-{Environment.ProcessId}-{Guid.NewGuid():N}"[..40] + ".sock");
        _memory = new GuestMemory(32);
        _board = new SimulatedBoard(BoardCatalog.Load(BoardCatalog.DefaultBoard), new SimulationOptions { RunHardwareThread = false, BusAddressSpace = _memory });
        _log = new StringWriter();
        _host = new DeviceServerHost(_path, _board, _memory, TextWriter.Synchronized(_log));
        _host.Start();
    }

    [TearDown]
    public void TearDown()
    {
        _host?.Dispose();
        _board?.Dispose();
        _memory?.Dispose();
        _log?.Dispose();
    }

    private Socket Connect(uint role)
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = 10_000 };
        s.Connect(new UnixDomainSocketEndPoint(_path));
        byte[] hello = new byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(hello, DeviceProtocol.Version);
        BinaryPrimitives.WriteUInt32LittleEndian(hello.AsSpan(4), role);
        Send(s, DeviceProtocol.Hello, hello);
        return s;
    }

    private static void Send(Socket s, ushort type, byte[] payload, ushort reserved = 0)
    {
        byte[] m = new byte[8 + payload.Length];
        DeviceProtocol.WriteHeader(m, type, payload.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(m.AsSpan(2), reserved);
        payload.CopyTo(m, 8);
        s.Send(m);
    }

    private static (ushort Type, byte[] Payload) Receive(Socket s)
    {
        byte[] h = ReceiveExactly(s, 8);
        ushort type = BinaryPrimitives.ReadUInt16LittleEndian(h);
        int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(h.AsSpan(4));
        return (type, ReceiveExactly(s, length));
    }

    private static byte[] ReceiveExactly(Socket s, int n)
    {
        byte[] b = new byte[n];
        int got = 0;
        while (got < n)
        {
            int r = s.Receive(b, got, n - got, SocketFlags.None);
            if (r == 0)
            {
                throw new IOException($"closed after {got} of {n} bytes");
            }

            got += r;
        }

        return b;
    }

    private static byte[] Mmio(int bar, int size, ulong offset, ulong value = 0)
    {
        byte[] p = new byte[24];
        p[0] = (byte)bar;
        p[1] = (byte)size;
        BinaryPrimitives.WriteUInt64LittleEndian(p.AsSpan(8), offset);
        BinaryPrimitives.WriteUInt64LittleEndian(p.AsSpan(16), value);
        return p;
    }

    private static void SendWithFd(Socket s, ushort type, byte[] payload, int fd)
    {
        byte[] message = new byte[8 + payload.Length];
        DeviceProtocol.WriteHeader(message, type, payload.Length);
        payload.CopyTo(message, 8);
        byte* control = stackalloc byte[24];
        new Span<byte>(control, 24).Clear();
        var c = (UnixInterop.CMsgHdr*)control;
        c->Length = 20; // CMSG_LEN(sizeof(int))
        c->Level = UnixInterop.SolSocket;
        c->Type = UnixInterop.ScmRights;
        *(int*)(control + 16) = fd;
        fixed (byte* p = message)
        {
            var iov = new UnixInterop.IoVec { Base = p, Length = (nuint)message.Length };
            var msg = new UnixInterop.MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = 24 };
            UnixInterop.SendMsg((int)s.Handle, &msg, 0).Should().Be(message.Length);
        }
    }

    [Test]
    public void AQemuDevice_IsDescribedServedAndItsGuestRamReachedByTheModelsDma()
    {
        using var mmio = Connect(DeviceProtocol.RoleMmio);
        var (type, device) = Receive(mmio);
        type.Should().Be(DeviceProtocol.Device);
        BinaryPrimitives.ReadUInt16LittleEndian(device.AsSpan(4)).Should().Be(_board.Profile.VendorId);
        using var events = Connect(DeviceProtocol.RoleEvents);
        Receive(events).Type.Should().Be(DeviceProtocol.EventsReady);

        // Guest RAM: 1 MiB at guest address 1 MiB, from a memfd as QEMU's memory-backend-memfd gives it.
        using var ram = new MemfdRegion(1 << 20);
        byte[] map = new byte[8 + 24];
        BinaryPrimitives.WriteUInt32LittleEndian(map, 1);
        BinaryPrimitives.WriteUInt64LittleEndian(map.AsSpan(8), 0x10_0000);
        BinaryPrimitives.WriteUInt64LittleEndian(map.AsSpan(16), 1 << 20);
        SendWithFd(mmio, DeviceProtocol.MemoryMap, map, ram.Fd);
        var (mapType, mapReply) = Receive(mmio);
        mapType.Should().Be(DeviceProtocol.StatusReply);
        BinaryPrimitives.ReadUInt32LittleEndian(mapReply).Should().Be(DeviceProtocol.StatusOk, System.Text.Encoding.UTF8.GetString(mapReply.AsSpan(8)));

        // Config read through the socket; then the host's enumeration, a writer descriptor into guest RAM, one step.
        byte[] cfg = new byte[4];
        cfg[2] = 2;
        Send(mmio, DeviceProtocol.CfgRead, cfg);
        BinaryPrimitives.ReadUInt64LittleEndian(Receive(mmio).Payload.AsSpan(8)).Should().Be(_board.Profile.VendorId);
        SimBoards.EnumerateWithBusMaster(_board);
        uint scratch = _board.Map.BarOffsetOf(_board.Map.Register("ctrl_scratch"));
        Send(mmio, DeviceProtocol.MmioWrite, Mmio(0, 4, scratch, 0xCAFEF00D));
        Send(mmio, DeviceProtocol.MmioRead, Mmio(0, 4, scratch));
        BinaryPrimitives.ReadUInt64LittleEndian(Receive(mmio).Payload.AsSpan(8)).Should().Be(0xCAFEF00DUL, "a posted write is ordered before the next read on the same connection");

        // Loopback: the reader fetches 4 KiB the "guest" wrote at 0x101000, the writer stores it at 0x103000.
        for (int i = 0; i < 4096; i += 8)
        {
            ram.Write(0x1000 + i, 0xA5A5_0000_0000_0000UL | (uint)i);
        }

        var dma = _board.Map.Layout.DmaChannels[0];
        var csr = _board.CsrBus;
        csr.Write(dma.LoopbackEnable!, 1);
        foreach (var (engine, address) in new[] { (dma.Reader, 0x10_1000u), (dma.Writer, 0x10_3000u) })
        {
            csr.Write(engine.Enable, 0);
            csr.Write(engine.TableReset, 1);
            csr.Write(engine.TableValue, ((ulong)((1u << 25) | 4096u) << 32) | address);
            csr.Write(engine.TableWe, 0);
        }

        csr.Write(dma.Writer.Enable, 1);
        csr.Write(dma.Reader.Enable, 1);
        for (int i = 0; i < 10 && _board.GetStatistics().WriterBytes < 4096; i++)
        {
            _board.Step();
        }

        for (int i = 0; i < 4096; i += 8)
        {
            ram.Read<ulong>(0x3000 + i).Should().Be(0xA5A5_0000_0000_0000UL | (uint)i, $"word {i / 8} read from guest RAM and written back in place");
        }

        _memory.Faults.Should().BeEmpty();
        _board.GetStatistics().ReaderBytes.Should().Be(4096);
    }

    [Test]
    public void ABadFieldIsAnsweredByName_AndTheStreamGoesOn()
    {
        using var mmio = Connect(DeviceProtocol.RoleMmio);
        Receive(mmio);
        Send(mmio, DeviceProtocol.MmioRead, Mmio(0, 3, 0));
        var (type, payload) = Receive(mmio);
        type.Should().Be(DeviceProtocol.MmioReadReply);
        BinaryPrimitives.ReadUInt32LittleEndian(payload).Should().Be(DeviceProtocol.StatusInvalid);
        System.Text.Encoding.UTF8.GetString(payload.AsSpan(16)).Should().Contain("MMIO_READ.size: 3: accepted 1, 2 or 4");
        Send(mmio, DeviceProtocol.MmioRead, Mmio(0, 4, _board.Map.BarOffsetOf(_board.Map.Register("ctrl_scratch"))));
        Receive(mmio).Type.Should().Be(DeviceProtocol.MmioReadReply, "the connection still serves requests");
        _host.ProtocolErrors.Should().ContainSingle().Which.Should().Contain("MMIO_READ.size");
    }

    [Test]
    public void ABrokenFrameEndsTheConnectionWithANamedError()
    {
        using var mmio = Connect(DeviceProtocol.RoleMmio);
        Receive(mmio);
        Send(mmio, DeviceProtocol.MmioRead, Mmio(0, 4, 0), reserved: 7);
        var (type, payload) = Receive(mmio);
        type.Should().Be(DeviceProtocol.Error);
        System.Text.Encoding.UTF8.GetString(payload).Should().Be("header.reserved: 0x0007: accepted 0");
        mmio.Receive(new byte[1]).Should().Be(0, "the server closed the connection");
        _host.WaitForDeviceGone(TimeSpan.FromSeconds(10), CancellationToken.None).Should().BeTrue("the device's mmio connection ended");
    }

    [Test]
    public void ASecondDeviceOnTheSameServer_IsRefused()
    {
        using var first = Connect(DeviceProtocol.RoleMmio);
        Receive(first);
        using var second = Connect(DeviceProtocol.RoleMmio);
        var (type, payload) = Receive(second);
        type.Should().Be(DeviceProtocol.Error);
        System.Text.Encoding.UTF8.GetString(payload).Should().Contain("HELLO.role: mmio is already connected: accepted one QEMU device per server");
    }
}
