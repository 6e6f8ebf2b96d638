using System.Text;

namespace LitePcie.Hil.Csr;

/// <summary>
/// What the layout guard (HIL-04 and P14, docs/checklist.md) found for one DMA channel: which optional
/// blocks exist and whether the fixed offsets the Linux driver hard-codes hold for this design.
/// </summary>
public sealed record DmaChannelGuard(
    int Channel,
    bool HasLoopback,
    bool HasSynchronizer,
    bool HasBuffering,
    bool HasMonitor,
    bool HasDmaStatus,
    bool DriverOffsetsHold,
    bool LoopbackAtDriverOffset,
    string? RegisterAtLoopbackOffset,
    IReadOnlyList<string> Findings)
{
    /// <summary>Offset of <c>loopback_enable</c> the kernel driver assumes (<c>LITEPCIE_IOCTL_DMA</c> writes there blindly).</summary>
    public const uint DriverLoopbackOffset = 0x40;

    /// <summary>Offset of the reader engine the driver assumes.</summary>
    public const uint DriverReaderOffset = 0x20;

    /// <summary>Whether the kernel's DMA_WRITER/DMA_READER ioctls program the right registers.</summary>
    public bool KernelDmaIoctlsSafe => DriverOffsetsHold;

    /// <summary>Whether <c>LITEPCIE_IOCTL_DMA</c> (loopback) may be sent: only with loopback at +0x40.</summary>
    public bool KernelLoopbackIoctlSafe => DriverOffsetsHold && HasLoopback && LoopbackAtDriverOffset;
}

/// <summary>The layout guard's report for a whole design.</summary>
public sealed record LayoutGuardReport(IReadOnlyList<DmaChannelGuard> Channels)
{
    /// <summary>True when every channel's writer/reader registers sit where the driver expects.</summary>
    public bool AllDriverOffsetsHold => Channels.All(c => c.DriverOffsetsHold);

    /// <summary>True when every channel has loopback at +0x40.</summary>
    public bool AllLoopbackSafe => Channels.All(c => c.KernelLoopbackIoctlSafe);

    /// <summary>One line per channel, for reports and error messages.</summary>
    public string Describe()
    {
        var sb = new StringBuilder();
        foreach (var c in Channels)
        {
            sb.Append("pcie_dma").Append(c.Channel).Append(": driver offsets ")
              .Append(c.DriverOffsetsHold ? "hold" : "DO NOT hold")
              .Append(", loopback ").Append(c.HasLoopback ? (c.LoopbackAtDriverOffset ? "at +0x40" : "elsewhere") : "absent");
            if (!c.HasLoopback && c.RegisterAtLoopbackOffset is { } at)
            {
                sb.Append(" (+0x40 is ").Append(at).Append(')');
            }

            var opts = new List<string>();
            if (c.HasSynchronizer)
            {
                opts.Add("synchronizer");
            }

            if (c.HasBuffering)
            {
                opts.Add("buffering");
            }

            if (c.HasMonitor)
            {
                opts.Add("monitor");
            }

            if (c.HasDmaStatus)
            {
                opts.Add("status");
            }

            sb.Append(", plugins: ").Append(opts.Count == 0 ? "none" : string.Join('+', opts));
            foreach (var f in c.Findings)
            {
                sb.Append("; ").Append(f);
            }

            sb.AppendLine();
        }

        return sb.ToString();
    }

    internal static DmaChannelGuard Check(
        CsrMap map, int index, uint baseAddress, DmaEngineLayout writer, DmaEngineLayout reader,
        CsrRegister? loopback, bool sync, bool buffering, bool monitor, bool status)
    {
        var findings = new List<string>();
        bool offsetsHold = CheckEngine(writer, baseAddress, 0, findings) & CheckEngine(reader, baseAddress, DmaChannelGuard.DriverReaderOffset, findings);

        uint loopbackAddress = baseAddress + DmaChannelGuard.DriverLoopbackOffset;
        bool loopbackAtOffset = loopback is not null && loopback.Address == loopbackAddress;
        string? atOffset = map.RegisterAt(loopbackAddress)?.Name;
        if (loopback is null)
        {
            findings.Add(atOffset is null
                ? "no loopback_enable; +0x40 is unmapped"
                : $"no loopback_enable; +0x40 is {atOffset}: LITEPCIE_IOCTL_DMA would overwrite it (P14)");
        }
        else if (!loopbackAtOffset)
        {
            findings.Add($"loopback_enable at +0x{loopback.Address - baseAddress:X2}, driver writes +0x40 ({atOffset ?? "unmapped"})");
        }

        return new DmaChannelGuard(index, loopback is not null, sync, buffering, monitor, status,
            offsetsHold, loopbackAtOffset, atOffset, findings);
    }

    private static bool CheckEngine(DmaEngineLayout engine, uint baseAddress, uint engineOffset, List<string> findings)
    {
        bool ok = true;
        var regs = engine.All;
        for (int i = 0; i < regs.Count; i++)
        {
            uint expected = baseAddress + engineOffset + DmaEngineLayout.DriverOffsets[i];
            if (regs[i].Address != expected)
            {
                findings.Add($"{regs[i].Name} at +0x{regs[i].Address - baseAddress:X2}, driver assumes +0x{expected - baseAddress:X2}");
                ok = false;
            }

            if (regs[i].Words != DmaEngineLayout.DriverWords[i])
            {
                findings.Add($"{regs[i].Name} has {regs[i].Words} word(s), driver assumes {DmaEngineLayout.DriverWords[i]}");
                ok = false;
            }
        }

        return ok;
    }
}
