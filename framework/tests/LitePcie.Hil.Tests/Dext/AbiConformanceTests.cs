using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json;
using FluentAssertions;
using LitePcie.Hil.Dext;
using LitePcie.Hil.Simulation.Sil;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Dext;

/// <summary>
/// The C# mirrors of the dext ABI structs have the sizes and field offsets the C++ compiler gives the
/// originals: the CMake build's <c>lpc_abi_probe</c> prints them, this test compares.
/// </summary>
[TestFixture]
public sealed class AbiConformanceTests
{
    private static JsonElement s_probe;

    [OneTimeSetUp]
    public void RunProbe()
    {
        string probe = Path.Combine(AppContext.BaseDirectory, "lpc_abi_probe");
        File.Exists(probe).Should().BeTrue($"the .NET build copies the CMake-built ABI probe to {probe}");
        using var p = Process.Start(new ProcessStartInfo(probe) { RedirectStandardOutput = true })!;
        string json = p.StandardOutput.ReadToEnd();
        p.WaitForExit(10_000).Should().BeTrue("the probe exits");
        p.ExitCode.Should().Be(0);
        s_probe = JsonDocument.Parse(json).RootElement.Clone();
    }

    private static void Compare<T>(string name, params (string Field, int Offset)[] fields)
        where T : struct
    {
        var s = s_probe.GetProperty("structs").GetProperty(name);
        Unsafe.SizeOf<T>().Should().Be(s.GetProperty("size").GetInt32(), $"sizeof({name})");
        var cFields = s.GetProperty("fields");
        foreach (var (field, offset) in fields)
        {
            cFields.TryGetProperty(field, out var c).Should().BeTrue($"{name}.{field} exists in the C++ struct");
            offset.Should().Be(c.GetInt32(), $"offsetof({name}, {field})");
        }

        cFields.EnumerateObject().Count().Should().Be(fields.Length, $"every field of {name} is mirrored in C#");
    }

    private static int Off<TS, TF>(ref TS s, ref TF f) => (int)Unsafe.ByteOffset(ref Unsafe.As<TS, byte>(ref s), ref Unsafe.As<TF, byte>(ref f));

    [Test]
    public void Abi_version_and_constants_match()
    {
        s_probe.GetProperty("abi").GetUInt32().Should().Be(((uint)DextAbi.AbiMajor << 16) | DextAbi.AbiMinor);
        var c = s_probe.GetProperty("constants");
        c.GetProperty("methodCount").GetInt32().Should().Be(Enum.GetValues<DextSelector>().Length);
        c.GetProperty("maxChannels").GetInt32().Should().Be(DextAbi.MaxChannels);
        c.GetProperty("statusPageBytes").GetInt32().Should().Be(DextAbi.StatusPageBytes);
        c.GetProperty("identifierBytes").GetInt32().Should().Be(DextAbi.IdentifierBytes);
        c.GetProperty("maxSegments").GetInt32().Should().Be(DextAbi.MaxSegments);
    }

    [Test]
    public void Engine_and_channel_layouts_match()
    {
        var e = default(LpcEngineRegs);
        Compare<LpcEngineRegs>("LpcEngineRegs",
            ("enable", Off(ref e, ref e.Enable)), ("tableValue", Off(ref e, ref e.TableValue)), ("tableWe", Off(ref e, ref e.TableWe)),
            ("loopProgN", Off(ref e, ref e.LoopProgN)), ("loopStatus", Off(ref e, ref e.LoopStatus)), ("level", Off(ref e, ref e.Level)),
            ("tableReset", Off(ref e, ref e.TableReset)), ("reserved", Off(ref e, ref e.Reserved)));
        var c = default(LpcChannelLayout);
        Compare<LpcChannelLayout>("LpcChannelLayout",
            ("writer", Off(ref c, ref c.Writer)), ("reader", Off(ref c, ref c.Reader)), ("blockBase", Off(ref c, ref c.BlockBase)),
            ("blockSize", Off(ref c, ref c.BlockSize)), ("loopbackEnable", Off(ref c, ref c.LoopbackEnable)), ("features", Off(ref c, ref c.Features)),
            ("writerIrq", Off(ref c, ref c.WriterIrq)), ("readerIrq", Off(ref c, ref c.ReaderIrq)), ("reserved", Off(ref c, ref c.Reserved0)));
    }

    [Test]
    public void Board_layout_matches()
    {
        var l = default(LpcBoardLayout);
        Compare<LpcBoardLayout>("LpcBoardLayout",
            ("magic", Off(ref l, ref l.Magic)), ("abiMajor", Off(ref l, ref l.AbiMajor)), ("abiMinor", Off(ref l, ref l.AbiMinor)),
            ("channelCount", Off(ref l, ref l.ChannelCount)), ("msiFlavour", Off(ref l, ref l.MsiFlavour)), ("msiEnable", Off(ref l, ref l.MsiEnable)),
            ("msiEnableWords", Off(ref l, ref l.MsiEnableWords)), ("msiClear", Off(ref l, ref l.MsiClear)), ("msiVector", Off(ref l, ref l.MsiVector)),
            ("msiPba", Off(ref l, ref l.MsiPba)), ("msixTable", Off(ref l, ref l.MsixTable)), ("msixTableBytes", Off(ref l, ref l.MsixTableBytes)),
            ("ctrlReset", Off(ref l, ref l.CtrlReset)), ("ctrlScratch", Off(ref l, ref l.CtrlScratch)), ("ctrlBusErrors", Off(ref l, ref l.CtrlBusErrors)),
            ("identifierBase", Off(ref l, ref l.IdentifierBase)), ("dmaAddressWidth", Off(ref l, ref l.DmaAddressWidth)),
            ("bufferCount", Off(ref l, ref l.BufferCount)), ("bufferSize", Off(ref l, ref l.BufferSize)), ("csrBar", Off(ref l, ref l.CsrBar)),
            ("reserved0", Off(ref l, ref l.Reserved0)), ("barSizes", Off(ref l, ref l.BarSizes)),
            ("expectedIdentifier", Off(ref l, ref l.ExpectedIdentifier)), ("channels", Off(ref l, ref l.Channels)));
    }

    [Test]
    public void Info_status_and_error_structs_match()
    {
        var i = default(LpcInfo);
        Compare<LpcInfo>("LpcInfo",
            ("magic", Off(ref i, ref i.Magic)), ("abiMajor", Off(ref i, ref i.AbiMajor)), ("abiMinor", Off(ref i, ref i.AbiMinor)),
            ("channelCount", Off(ref i, ref i.ChannelCount)), ("bufferCount", Off(ref i, ref i.BufferCount)), ("bufferSize", Off(ref i, ref i.BufferSize)),
            ("dmaAddressWidth", Off(ref i, ref i.DmaAddressWidth)), ("msiFlavour", Off(ref i, ref i.MsiFlavour)), ("flags", Off(ref i, ref i.Flags)),
            ("vendorId", Off(ref i, ref i.VendorId)), ("deviceId", Off(ref i, ref i.DeviceId)), ("revision", Off(ref i, ref i.Revision)),
            ("reserved0", Off(ref i, ref i.Reserved0a)), ("classCode", Off(ref i, ref i.ClassCode)), ("channelFeatures", Off(ref i, ref i.ChannelFeatures)),
            ("reserved1", Off(ref i, ref i.Reserved1)), ("generation", Off(ref i, ref i.Generation)), ("barSizes", Off(ref i, ref i.BarSizes)),
            ("identifier", Off(ref i, ref i.Identifier)));
        var h = default(LpcStatusHeader);
        Compare<LpcStatusHeader>("LpcStatusHeader",
            ("magic", Off(ref h, ref h.Magic)), ("abiMajor", Off(ref h, ref h.AbiMajor)), ("abiMinor", Off(ref h, ref h.AbiMinor)),
            ("channelCount", Off(ref h, ref h.ChannelCount)), ("bufferCount", Off(ref h, ref h.BufferCount)), ("bufferSize", Off(ref h, ref h.BufferSize)),
            ("reserved0", Off(ref h, ref h.Reserved0)), ("generation", Off(ref h, ref h.Generation)), ("flags", Off(ref h, ref h.Flags)),
            ("msiCount", Off(ref h, ref h.MsiCount)), ("spuriousCount", Off(ref h, ref h.SpuriousCount)), ("reserved1", Off(ref h, ref h.Reserved1)));
        var d = default(LpcDirStatus);
        Compare<LpcDirStatus>("LpcDirStatus",
            ("hwCount", Off(ref d, ref d.HwCount)), ("lostCount", Off(ref d, ref d.LostCount)), ("clientAck", Off(ref d, ref d.ClientAck)),
            ("lastIrqTime", Off(ref d, ref d.LastIrqTime)), ("irqCount", Off(ref d, ref d.IrqCount)), ("running", Off(ref d, ref d.Running)),
            ("irqEvery", Off(ref d, ref d.IrqEvery)), ("generation", Off(ref d, ref d.Generation)), ("reserved", Off(ref d, ref d.Reserved)));
        var e = default(LpcErrorInfo);
        Compare<LpcErrorInfo>("LpcErrorInfo",
            ("selector", Off(ref e, ref e.Selector)), ("argument", Off(ref e, ref e.Argument)), ("status", Off(ref e, ref e.Status)),
            ("reserved", Off(ref e, ref e.Reserved)), ("message", Off(ref e, ref e.Message)));
    }

    [Test]
    public void Sil_host_structs_match()
    {
        var b = default(SilDmaBuffer);
        Compare<SilDmaBuffer>("LpcSilDmaBuffer",
            ("cpuAddress", Off(ref b, ref b.CpuAddress)), ("length", Off(ref b, ref b.Length)), ("handle", Off(ref b, ref b.Handle)),
            ("segmentCount", Off(ref b, ref b.SegmentCount)), ("reserved", Off(ref b, ref b.Reserved)), ("segments", Off(ref b, ref b.Segments)));
        var s = default(SilStats);
        Compare<SilStats>("LpcSilStats",
            ("liveDmaBuffers", Off(ref s, ref s.LiveDmaBuffers)), ("liveDmaBytes", Off(ref s, ref s.LiveDmaBytes)),
            ("liveSharedBytes", Off(ref s, ref s.LiveSharedBytes)), ("pendingWaits", Off(ref s, ref s.PendingWaits)),
            ("clientsOpened", Off(ref s, ref s.ClientsOpened)), ("interrupts", Off(ref s, ref s.Interrupts)),
            ("liveDevices", Off(ref s, ref s.LiveDevices)), ("liveTimers", Off(ref s, ref s.LiveTimers)),
            ("nativeAllocations", Off(ref s, ref s.NativeAllocations)), ("nativeBytes", Off(ref s, ref s.NativeBytes)));
    }
}
