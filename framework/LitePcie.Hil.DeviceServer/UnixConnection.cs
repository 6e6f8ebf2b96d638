namespace LitePcie.Hil.DeviceServer;

/// <summary>One accepted unix stream connection: whole messages in (with any fds passed beside them), whole messages out.</summary>
internal sealed unsafe class UnixConnection(int fd) : IDisposable
{
    private readonly object _sendLock = new();
    private int _fd = fd;

    public int Fd => _fd;

    /// <summary>
    /// Reads one message. Returns false on a clean end of stream before a header; throws
    /// <see cref="DeviceProtocolException"/> on a framing violation and <see cref="IOException"/> on a broken
    /// stream or when <paramref name="timeoutMs"/> (≥ 0) passes first.
    /// </summary>
    public bool TryRead(out ushort type, out byte[] payload, List<int> fds, int timeoutMs = -1)
    {
        byte* header = stackalloc byte[DeviceProtocol.HeaderBytes];
        type = 0;
        payload = [];
        int got = ReadWithFds(header, DeviceProtocol.HeaderBytes, fds, timeoutMs);
        if (got == 0)
        {
            return false;
        }

        ReadExact(header + got, DeviceProtocol.HeaderBytes - got, timeoutMs);
        (type, int length) = DeviceProtocol.ParseHeader(new ReadOnlySpan<byte>(header, DeviceProtocol.HeaderBytes));
        payload = new byte[length];
        fixed (byte* p = payload)
        {
            ReadExact(p, length, timeoutMs);
        }

        return true;
    }

    public void Send(ushort type, ReadOnlySpan<byte> payload)
    {
        int total = DeviceProtocol.HeaderBytes + payload.Length;
        byte[] message = new byte[total];
        DeviceProtocol.WriteHeader(message, type, payload.Length);
        payload.CopyTo(message.AsSpan(DeviceProtocol.HeaderBytes));
        lock (_sendLock)
        {
            fixed (byte* p = message)
            {
                int sent = 0;
                while (sent < total)
                {
                    nint n = UnixInterop.Send(_fd, p + sent, (nuint)(total - sent), UnixInterop.MsgNoSignal);
                    if (n < 0 && System.Runtime.InteropServices.Marshal.GetLastPInvokeError() == UnixInterop.Eintr)
                    {
                        continue;
                    }

                    if (n <= 0)
                    {
                        throw new IOException($"send {DeviceProtocol.TypeName(type)}: {UnixInterop.LastError()}");
                    }

                    sent += (int)n;
                }
            }
        }
    }

    public void SendError(string text)
    {
        try
        {
            byte[] bytes = System.Text.Encoding.UTF8.GetBytes(text.Length > DeviceProtocol.MaxText ? text[..DeviceProtocol.MaxText] : text);
            Send(DeviceProtocol.Error, bytes);
        }
        catch (IOException)
        {
            // The peer is gone already; the error is in the server's log.
        }
    }

    /// <summary>
    /// After an error: no more sends, and what the peer already sent is read and dropped (bounded) before the close,
    /// so the kernel does not reset the connection and throw away the error message the peer has yet to read.
    /// </summary>
    public void FinishAfterError(int timeoutMs = 1000)
    {
        _ = UnixInterop.Shutdown(_fd, 1 /* SHUT_WR */);
        byte* scratch = stackalloc byte[4096];
        var time = TimeProvider.System;
        long start = time.GetTimestamp();
        var bound = TimeSpan.FromMilliseconds(timeoutMs);
        while (time.GetElapsedTime(start) is var spent && spent < bound)
        {
            var pfd = new UnixInterop.PollFd { Fd = _fd, Events = UnixInterop.PollIn };
            if (UnixInterop.Poll(&pfd, 1, (int)Math.Max(1, (bound - spent).TotalMilliseconds)) <= 0 || UnixInterop.Recv(_fd, scratch, 4096, 0) <= 0)
            {
                return;
            }
        }
    }

    /// <summary>Unblocks a reader on another thread.</summary>
    public void Shutdown() => _ = UnixInterop.Shutdown(Volatile.Read(ref _fd), UnixInterop.ShutRdwr);

    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            _ = UnixInterop.Close(fd);
        }
    }

    private void WaitReadable(int timeoutMs)
    {
        if (timeoutMs < 0)
        {
            return;
        }

        var pfd = new UnixInterop.PollFd { Fd = _fd, Events = UnixInterop.PollIn };
        int r;
        do
        {
            r = UnixInterop.Poll(&pfd, 1, timeoutMs);
        }
        while (r < 0 && System.Runtime.InteropServices.Marshal.GetLastPInvokeError() == UnixInterop.Eintr);
        if (r == 0)
        {
            throw new IOException($"no data within {timeoutMs} ms");
        }
    }

    /// <summary>recvmsg into <paramref name="buffer"/>, collecting SCM_RIGHTS fds; returns the bytes read (0 = end of stream).</summary>
    private int ReadWithFds(byte* buffer, int length, List<int> fds, int timeoutMs)
    {
        const int controlBytes = 256; // room for 16 fds (CMSG_SPACE(64) = 80) with margin
        byte* control = stackalloc byte[controlBytes];
        var iov = new UnixInterop.IoVec { Base = buffer, Length = (nuint)length };
        var msg = new UnixInterop.MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = controlBytes };
        nint n;
        do
        {
            WaitReadable(timeoutMs);
            n = UnixInterop.RecvMsg(_fd, &msg, 0);
        }
        while (n < 0 && System.Runtime.InteropServices.Marshal.GetLastPInvokeError() == UnixInterop.Eintr);
        if (n < 0)
        {
            throw new IOException($"recvmsg: {UnixInterop.LastError()}");
        }

        // Walk the control messages (struct cmsghdr, 8-byte aligned on 64-bit Linux).
        int offset = 0;
        int controlLength = (int)msg.ControlLength;
        while (offset + sizeof(UnixInterop.CMsgHdr) <= controlLength)
        {
            var c = (UnixInterop.CMsgHdr*)(control + offset);
            int cmsgLength = (int)c->Length;
            if (cmsgLength < sizeof(UnixInterop.CMsgHdr))
            {
                break;
            }

            if (c->Level == UnixInterop.SolSocket && c->Type == UnixInterop.ScmRights)
            {
                int count = (cmsgLength - sizeof(UnixInterop.CMsgHdr)) / sizeof(int);
                int* data = (int*)(control + offset + sizeof(UnixInterop.CMsgHdr));
                for (int i = 0; i < count; i++)
                {
                    fds.Add(data[i]);
                }
            }

            offset += (cmsgLength + 7) & ~7;
        }

        if ((msg.Flags & UnixInterop.MsgCtrunc) != 0)
        {
            foreach (int fd in fds)
            {
                _ = UnixInterop.Close(fd);
            }

            fds.Clear();
            throw new DeviceProtocolException("ancillary data", $"more file descriptors than {DeviceProtocol.MaxRegions}: accepted at most one per region");
        }

        return (int)n;
    }

    private void ReadExact(byte* buffer, int length, int timeoutMs)
    {
        int done = 0;
        while (done < length)
        {
            WaitReadable(timeoutMs);
            nint n = UnixInterop.Recv(_fd, buffer + done, (nuint)(length - done), 0);
            if (n < 0 && System.Runtime.InteropServices.Marshal.GetLastPInvokeError() == UnixInterop.Eintr)
            {
                continue;
            }

            if (n <= 0)
            {
                throw new IOException(n == 0 ? $"connection closed after {done} of {length} bytes" : $"recv: {UnixInterop.LastError()}");
            }

            done += (int)n;
        }
    }
}
