using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace LitePcie.Hil.Dext;

/// <summary>
/// Constants of the dext ABI (<c>dext/core/include/lpc/LitePcieAbi.h</c>). The struct mirrors below are
/// compared field by field with the C++ declarations by the ABI conformance test.
/// </summary>
internal static class DextAbi
{
    public const ushort AbiMajor = 1;
    public const ushort AbiMinor = 0;
    public const int MaxChannels = 16;
    public const int MaxSegments = 32;
    public const int IdentifierBytes = 256;
    public const int StatusPageBytes = 16384;
    public const uint NoRegister = 0xFFFF_FFFF;
    public const uint MaxWaitMilliseconds = 60000;

    public const uint InfoMagic = 0x4950434C;
    public const uint StatusMagic = 0x5350434C;
    public const uint LayoutMagic = 0x4C50434C;

    public const ulong FlagDeviceGone = 0x1;
    public const ulong FlagSleeping = 0x2;
    public const ulong FlagStopping = 0x4;
    public const ulong FlagIdentMismatch = 0x8;

    public const uint FeatureLoopback = 0x1;
    public const uint FeatureSynchronizer = 0x2;
    public const uint FeatureBuffering = 0x4;
    public const uint FeatureMonitor = 0x8;
    public const uint FeatureDmaStatus = 0x10;
    public const uint FeatureDriverOffsets = 0x20;

    public const ulong StartLoopback = 0x1;
    public const ulong StartIrqMasked = 0x2;

    /// <summary>Offset of the status of (channel, direction) in the status page.</summary>
    public static int DirStatusOffset(int channel, DmaDirection direction) => 64 + 64 * (channel * 2 + (int)direction);

    /// <summary>CopyClientMemoryForType type for a memory kind and channel.</summary>
    internal static ulong MemoryType(DextMemoryKind kind, int channel) => ((ulong)kind << 8) | (uint)channel;
}

/// <summary>External method selectors.</summary>
internal enum DextSelector : uint
{
    GetInfo = 0,
    CsrRead32 = 1,
    CsrWrite32 = 2,
    BarRead32 = 3,
    BarWrite32 = 4,
    ConfigRead32 = 5,
    DmaStart = 6,
    DmaStop = 7,
    UpdateSwCount = 8,
    WaitBuffers = 9,
    SetLoopback = 10,
    Reset = 11,
    GetDirStatus = 12,
    GetLastError = 13,
}

/// <summary>Shared memory kinds (CopyClientMemoryForType).</summary>
internal enum DextMemoryKind : uint
{
    Status = 1,
    WriterRing = 2,
    ReaderRing = 3,
}

/// <summary>Reset types of the Reset method.</summary>
internal enum DextResetType : uint
{
    /// <summary><c>ctrl_reset</c> SoC reset pulse.</summary>
    Soc = 0,

    /// <summary>PCIe function-level reset.</summary>
    Function = 1,

    /// <summary>Link hot reset.</summary>
    Hot = 2,
}

/// <summary>IOReturn values the dext returns (IOKit/IOReturn.h).</summary>
internal static class IOReturn
{
    public const int Success = 0;
    public const int Error = unchecked((int)0xE00002BC);
    public const int NoMemory = unchecked((int)0xE00002BD);
    public const int BadArgument = unchecked((int)0xE00002C2);
    public const int ExclusiveAccess = unchecked((int)0xE00002C5);
    public const int Unsupported = unchecked((int)0xE00002C7);
    public const int IOError = unchecked((int)0xE00002CA);
    public const int NotOpen = unchecked((int)0xE00002CD);
    public const int Busy = unchecked((int)0xE00002D5);
    public const int Timeout = unchecked((int)0xE00002D6);
    public const int Offline = unchecked((int)0xE00002D7);
    public const int NotReady = unchecked((int)0xE00002D8);
    public const int NotPermitted = unchecked((int)0xE00002E2);
    public const int Aborted = unchecked((int)0xE00002EB);

    /// <summary>The IOKit name of a code, for messages.</summary>
    public static string Name(int code) => code switch
    {
        Success => "kIOReturnSuccess",
        Error => "kIOReturnError",
        NoMemory => "kIOReturnNoMemory",
        BadArgument => "kIOReturnBadArgument",
        ExclusiveAccess => "kIOReturnExclusiveAccess",
        Unsupported => "kIOReturnUnsupported",
        IOError => "kIOReturnIOError",
        NotOpen => "kIOReturnNotOpen",
        Busy => "kIOReturnBusy",
        Timeout => "kIOReturnTimeout",
        Offline => "kIOReturnOffline",
        NotReady => "kIOReturnNotReady",
        NotPermitted => "kIOReturnNotPermitted",
        Aborted => "kIOReturnAborted",
        _ => $"0x{code:X8}",
    };
}

[InlineArray(6)]
internal struct BarSizeArray
{
    private ulong _element0;
}

[InlineArray(DextAbi.IdentifierBytes)]
internal struct IdentifierBytes
{
    private byte _element0;

    /// <summary>The NUL-terminated ASCII text.</summary>
    public readonly string ToText()
    {
        ReadOnlySpan<byte> s = this;
        int n = s.IndexOf((byte)0);
        return Encoding.ASCII.GetString(n < 0 ? s : s[..n]);
    }

    /// <summary>Sets the text (truncated to 255 characters, NUL-terminated).</summary>
    public void SetText(string text)
    {
        Span<byte> s = this;
        s.Clear();
        Encoding.ASCII.GetBytes(text.AsSpan(0, Math.Min(text.Length, DextAbi.IdentifierBytes - 1)), s);
    }
}

[InlineArray(DextAbi.MaxChannels)]
internal struct ChannelLayoutArray
{
    private LpcChannelLayout _element0;
}

[InlineArray(DextAbi.MaxChannels)]
internal struct ChannelFeatureArray
{
    private uint _element0;
}

[InlineArray(112)]
internal struct ErrorMessageBytes
{
    private byte _element0;
}

/// <summary>Registers of one DMA engine as BAR0 offsets.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct LpcEngineRegs
{
    public uint Enable;
    public uint TableValue;
    public uint TableWe;
    public uint LoopProgN;
    public uint LoopStatus;
    public uint Level;
    public uint TableReset;
    public uint Reserved;
}

/// <summary>One pcie_dmaN block.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct LpcChannelLayout
{
    internal LpcEngineRegs Writer;
    internal LpcEngineRegs Reader;
    public uint BlockBase;
    public uint BlockSize;
    public uint LoopbackEnable;
    public uint Features;
    public uint WriterIrq;
    public uint ReaderIrq;
    public uint Reserved0;
    public uint Reserved1;
}

/// <summary>The board layout given to the core at Start.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct LpcBoardLayout
{
    public uint Magic;
    public ushort AbiMajor;
    public ushort AbiMinor;
    public uint ChannelCount;
    public uint MsiFlavour;
    public uint MsiEnable;
    public uint MsiEnableWords;
    public uint MsiClear;
    public uint MsiVector;
    public uint MsiPba;
    public uint MsixTable;
    public uint MsixTableBytes;
    public uint CtrlReset;
    public uint CtrlScratch;
    public uint CtrlBusErrors;
    public uint IdentifierBase;
    public uint DmaAddressWidth;
    public uint BufferCount;
    public uint BufferSize;
    public uint CsrBar;
    public uint Reserved0;
    internal BarSizeArray BarSizes;
    internal IdentifierBytes ExpectedIdentifier;
    internal ChannelLayoutArray Channels;
}

/// <summary>GetInfo output.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct LpcInfo
{
    public uint Magic;
    public ushort AbiMajor;
    public ushort AbiMinor;
    public uint ChannelCount;
    public uint BufferCount;
    public uint BufferSize;
    public uint DmaAddressWidth;
    public uint MsiFlavour;
    public uint Flags;
    public ushort VendorId;
    public ushort DeviceId;
    public byte Revision;
    public byte Reserved0a;
    public byte Reserved0b;
    public byte Reserved0c;
    public uint ClassCode;
    internal ChannelFeatureArray ChannelFeatures;
    public uint Reserved1;
    public ulong Generation;
    internal BarSizeArray BarSizes;
    internal IdentifierBytes Identifier;
}

/// <summary>Status page header.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct LpcStatusHeader
{
    public uint Magic;
    public ushort AbiMajor;
    public ushort AbiMinor;
    public uint ChannelCount;
    public uint BufferCount;
    public uint BufferSize;
    public uint Reserved0;
    public ulong Generation;
    public ulong Flags;
    public ulong MsiCount;
    public ulong SpuriousCount;
    public ulong Reserved1;
}

/// <summary>Per (channel, direction) status in the status page.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct LpcDirStatus
{
    public ulong HwCount;
    public ulong LostCount;
    public ulong ClientAck;
    public ulong LastIrqTime;
    public ulong IrqCount;
    public uint Running;
    public uint IrqEvery;
    public ulong Generation;
    public ulong Reserved;
}

/// <summary>GetLastError output.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct LpcErrorInfo
{
    public uint Selector;
    public uint Argument;
    public int Status;
    public uint Reserved;
    internal ErrorMessageBytes Message;

    /// <summary>The message text.</summary>
    public readonly string MessageText()
    {
        ReadOnlySpan<byte> s = Message;
        int n = s.IndexOf((byte)0);
        return Encoding.ASCII.GetString(n < 0 ? s : s[..n]);
    }
}
