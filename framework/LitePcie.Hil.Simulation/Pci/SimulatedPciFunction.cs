using System.Buffers.Binary;
using LitePcie.Hil.Boards;
using LitePcie.Hil.Pci;

namespace LitePcie.Hil.Simulation.Pci;

/// <summary>
/// The configuration space of the simulated function: the image a <see cref="PciConfigSpaceBuilder"/>
/// produces from the board profile, with the registers an OS writes made writable (command, status
/// RW1C, BARs with sizing, interrupt line, PMCSR, MSI/MSI-X control, PCIe device/link control).
/// Power-state changes and the trained link are visible here. Not thread-safe: the board serialises.
/// </summary>
internal sealed class SimulatedPciFunction
{
    private const ushort CommandWritable = 0x0001 | 0x0002 | 0x0004 | 0x0040 | 0x0100 | 0x0400;
    private const ushort StatusRw1C = 0xF900;

    private readonly PciConfigImage _reset;
    private readonly byte[] _space;
    private readonly ulong[] _barSizes = new ulong[6];
    private readonly PciBarKind?[] _barKinds = new PciBarKind?[6];
    private readonly int _pm;
    private readonly int _msi;
    private readonly int _msix;
    private readonly int _pcie;
    private readonly bool _msi64;

    public SimulatedPciFunction(BoardProfile profile, int trainedWidth, ulong serialNumber)
    {
        Profile = profile;
        TrainedWidth = trainedWidth;
        var caps = new List<PciCapabilitySpec>
        {
            new PowerManagementCapabilitySpec(Version: 3, NoSoftReset: false),
        };
        if (profile.MsiVectors > 0)
        {
            caps.Add(new MsiCapabilitySpec(MultipleMessageCapable: Log2(profile.MsiVectors), Is64Bit: profile.Msi64Bit));
        }

        if (profile.MsiXTableSize > 0)
        {
            // The PHY IP must be configured with the table and PBA where the gateware decodes them
            // (standalone map: 0x2000 and 0x1808); derive both from the CSR map.
            var map = profile.CsrMap;
            uint table = map.Layout.Msi.TableBaseAddress is { } t ? map.ToBarOffset(t) : 0x2000;
            uint pba = map.Layout.Msi.Pba is { } p ? map.ToBarOffset(p.Address) : 0x1808;
            caps.Add(new MsiXCapabilitySpec(profile.MsiXTableSize, TableBir: 0, TableOffset: table, PbaBir: 0, PbaOffset: pba));
        }

        caps.Add(new PciExpressCapabilitySpec(
            MaxPayloadSupported: profile.MaxPayloadSize,
            MaxPayloadSize: 128,
            MaxReadRequestSize: 512,
            LinkMaxSpeed: profile.LinkSpeed,
            LinkMaxWidth: profile.LinkWidth,
            LinkSpeed: profile.LinkSpeed,
            LinkWidth: trainedWidth,
            DataLinkLayerActive: true));

        var spec = new PciFunctionSpec
        {
            VendorId = profile.VendorId,
            DeviceId = profile.DeviceId,
            Revision = profile.Revision,
            ClassCode = profile.ClassCode,
            SubsystemVendorId = profile.SubsystemVendorId,
            SubsystemId = profile.SubsystemId,
            InterruptPin = 1,
            Bars = [.. profile.Bars.Select(b => new PciBarSpec(b.Index, b.Kind, b.Size, b.Prefetchable))],
            Capabilities = caps,
            Extended = true,
            ExtendedCapabilities = [new AerCapabilitySpec(), new DeviceSerialNumberCapabilitySpec(serialNumber)],
        };
        _reset = new PciConfigSpaceBuilder().Build(spec);
        _space = (byte[])_reset.Image.Clone();
        foreach (var b in profile.Bars)
        {
            _barSizes[b.Index] = b.Size;
            _barKinds[b.Index] = b.Kind;
        }

        _pm = _reset.CapabilityOffsets[0];
        int next = 1;
        _msi = profile.MsiVectors > 0 ? _reset.CapabilityOffsets[next++] : -1;
        _msix = profile.MsiXTableSize > 0 ? _reset.CapabilityOffsets[next++] : -1;
        _pcie = _reset.CapabilityOffsets[next];
        _msi64 = profile.Msi64Bit;
    }

    public BoardProfile Profile { get; }

    /// <summary>Width the link trained at (the profile's, or narrower under <c>link-degrade</c>).</summary>
    public int TrainedWidth { get; }

    /// <summary>Raised on a PMCSR power-state change (old, new).</summary>
    public event Action<PciPowerState, PciPowerState>? PowerStateChanged;

    public int Length => _space.Length;

    public PciCommand Command => (PciCommand)U16(0x04);

    public bool MemorySpaceEnabled => (Command & PciCommand.MemorySpace) != 0;

    public bool BusMasterEnabled => (Command & PciCommand.BusMaster) != 0;

    public PciPowerState PowerState => (PciPowerState)(U16(_pm + 4) & 3);

    public bool MsiEnabled => _msi >= 0 && (U16(_msi + 2) & 1) != 0;

    /// <summary>MSI vectors the OS granted (MME).</summary>
    public int MsiGrantedVectors => _msi >= 0 ? 1 << ((U16(_msi + 2) >> 4) & 7) : 0;

    public bool MsixEnabled => _msix >= 0 && (U16(_msix + 2) & 0x8000) != 0;

    public bool MsixFunctionMasked => _msix >= 0 && (U16(_msix + 2) & 0x4000) != 0;

    /// <summary>MPS the OS programmed in Device Control.</summary>
    public int MaxPayloadSize => 128 << ((U16(_pcie + 8) >> 5) & 7);

    /// <summary>MRRS the OS programmed in Device Control.</summary>
    public int MaxReadRequestSize => 128 << ((U16(_pcie + 8) >> 12) & 7);

    /// <summary>MSI message address and data the OS programmed.</summary>
    public (ulong Address, ushort Data) MsiMessage
    {
        get
        {
            if (_msi < 0)
            {
                return (0, 0);
            }

            ulong lo = U32(_msi + 4);
            ulong hi = _msi64 ? U32(_msi + 8) : 0;
            ushort data = U16(_msi + (_msi64 ? 12 : 8));
            return ((hi << 32) | lo, data);
        }
    }

    /// <summary>The base address currently programmed in BAR <paramref name="index"/>.</summary>
    public ulong BarAddress(int index)
    {
        if (_barKinds[index] is not { } kind)
        {
            return 0;
        }

        ulong lo = U32(0x10 + index * 4) & (kind == PciBarKind.Io ? ~3u : ~0xFu);
        ulong hi = kind == PciBarKind.Memory64 ? U32(0x10 + (index + 1) * 4) : 0;
        return (hi << 32) | lo;
    }

    /// <summary>Size of BAR <paramref name="index"/> (0 if not implemented).</summary>
    public ulong BarSize(int index) => _barSizes[index];

    /// <summary>Reads 1, 2 or 4 bytes (little endian) at a naturally aligned offset.</summary>
    public uint Read(int offset, int size)
    {
        Check(offset, size);
        return size switch
        {
            1 => _space[offset],
            2 => U16(offset),
            _ => U32(offset),
        };
    }

    /// <summary>Writes 1, 2 or 4 bytes; only writable bits change, RW1C bits clear where 1 is written.</summary>
    public void Write(int offset, int size, uint value)
    {
        Check(offset, size);
        for (int i = 0; i < size; i++)
        {
            WriteByte(offset + i, (byte)(value >> (8 * i)));
        }
    }

    /// <summary>Function reset: every register back to its power-on value (BARs unassigned, command 0).</summary>
    public void Reset()
    {
        var before = PowerState;
        _reset.Image.CopyTo(_space, 0);
        if (before != PciPowerState.D0)
        {
            PowerStateChanged?.Invoke(before, PciPowerState.D0);
        }
    }

    /// <summary>A copy of the current configuration space.</summary>
    public byte[] Snapshot() => (byte[])_space.Clone();

    private static int Log2(int v) => System.Numerics.BitOperations.Log2((uint)v);

    private static void Check(int offset, int size)
    {
        if (size is not (1 or 2 or 4) || offset < 0 || offset % size != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"config access of {size} byte(s) at 0x{offset:X} must be naturally aligned (1, 2 or 4 bytes)");
        }
    }

    private ushort U16(int o) => BinaryPrimitives.ReadUInt16LittleEndian(_space.AsSpan(o));

    private uint U32(int o) => BinaryPrimitives.ReadUInt32LittleEndian(_space.AsSpan(o));

    private void WriteByte(int offset, byte value)
    {
        if (offset >= _space.Length)
        {
            return;
        }

        // Command / status
        if (offset is 0x04 or 0x05)
        {
            Merge(offset, value, (byte)(CommandWritable >> (8 * (offset - 4))));
            return;
        }

        if (offset is 0x06 or 0x07)
        {
            byte rw1c = (byte)(StatusRw1C >> (8 * (offset - 6)));
            _space[offset] &= (byte)~(value & rw1c);
            return;
        }

        if (offset == 0x3C)
        {
            _space[offset] = value; // interrupt line
            return;
        }

        if (offset is >= 0x10 and < 0x28)
        {
            WriteBarByte(offset, value);
            return;
        }

        if (offset >= _pm + 4 && offset < _pm + 6)
        {
            WritePmcsr(offset - _pm - 4, value);
            return;
        }

        if (_msi >= 0)
        {
            int end = _msi + (_msi64 ? 14 : 10);
            if (offset == _msi + 2)
            {
                Merge(offset, value, 0x71); // enable, MME
                return;
            }

            if (offset >= _msi + 4 && offset < end)
            {
                Merge(offset, value, offset == _msi + 4 ? (byte)0xFC : (byte)0xFF);
                return;
            }
        }

        if (_msix >= 0 && offset == _msix + 3)
        {
            Merge(offset, value, 0xC0); // enable, function mask
            return;
        }

        if (offset == _pcie + 8 || offset == _pcie + 9)
        {
            Merge(offset, value, 0xFF); // device control (MPS, MRRS, error reporting enables)
            return;
        }

        if (offset == _pcie + 0xA)
        {
            _space[offset] &= (byte)~(value & 0x0F); // device status RW1C
            return;
        }

        if (offset == _pcie + 0x10 || offset == _pcie + 0x11)
        {
            Merge(offset, value, offset == _pcie + 0x10 ? (byte)0xDB : (byte)0x0F); // link control (retrain bit self-clears)
        }
    }

    private void Merge(int offset, byte value, byte writable) =>
        _space[offset] = (byte)((_space[offset] & ~writable) | (value & writable));

    private void WriteBarByte(int offset, byte value)
    {
        int reg = (offset - 0x10) / 4;
        int byteInReg = (offset - 0x10) % 4;
        // The upper half of a 64-bit BAR belongs to the BAR below it.
        int owner = reg > 0 && _barKinds[reg] is null && _barKinds[reg - 1] == PciBarKind.Memory64 ? reg - 1 : reg;
        if (_barKinds[owner] is not { } kind)
        {
            return; // unimplemented: reads 0
        }

        ulong size = _barSizes[owner];
        ulong mask64 = ~(size - 1);
        bool upper = owner != reg;
        uint mask = upper ? (uint)(mask64 >> 32) : (uint)mask64 & (kind == PciBarKind.Io ? ~3u : ~0xFu);
        byte writable = (byte)(mask >> (8 * byteInReg));
        Merge(offset, value, writable);
    }

    private void WritePmcsr(int byteIndex, byte value)
    {
        int o = _pm + 4 + byteIndex;
        if (byteIndex == 0)
        {
            var before = PowerState;
            var requested = (PciPowerState)(value & 3);
            if (requested is PciPowerState.D1 or PciPowerState.D2)
            {
                requested = before; // D1/D2 not supported: the write does not change the state
            }

            _space[o] = (byte)((_space[o] & ~3) | (int)requested);
            if (requested != before)
            {
                if (before == PciPowerState.D3Hot && requested == PciPowerState.D0)
                {
                    // No_Soft_Reset = 0: D3hot→D0 performs an internal reset (D0uninitialized).
                    _reset.Image.CopyTo(_space, 0);
                }

                PowerStateChanged?.Invoke(before, requested);
            }
        }
        else
        {
            Merge(o, value, 0x01); // PME_En
            _space[o] &= (byte)~(value & 0x80); // PME_Status RW1C
        }
    }
}
