using FsCheck;
using FsCheck.Fluent;
using LitePcie.Hil.Pci;
using LitePcie.Hil.Simulation.Pci;

namespace LitePcie.Hil.Tests.Pci;

/// <summary>FsCheck generators of valid <see cref="PciFunctionSpec"/>s (everything the builder must accept).</summary>
internal static class PciSpecGenerators
{
    private const int CapabilityAreaEnd = 0x100;

    public static Arbitrary<PciFunctionSpec> FunctionSpecs() => FunctionSpec.ToArbitrary();

    public static Gen<bool> Bool => Gen.Elements(true, false);

    public static Gen<byte> U8 => Gen.Choose(0, 0xFF).Select(v => (byte)v);

    public static Gen<ushort> U16 => Gen.Choose(0, 0xFFFF).Select(v => (ushort)v);

    public static Gen<uint> U32 =>
        from high in Gen.Choose(0, 0xFFFF)
        from low in Gen.Choose(0, 0xFFFF)
        select ((uint)high << 16) | (uint)low;

    public static Gen<ulong> U64 =>
        from high in U32
        from low in U32
        select ((ulong)high << 32) | low;

    private static Gen<byte[]> Bytes(int max) => Gen.Choose(0, max).SelectMany(n => Gen.ArrayOf(U8, n));

    private static Gen<PciFunctionSpec> FunctionSpec =>
        from vendor in U16
        from device in U16
        from revision in U8
        from classCode in U32.Select(v => v & 0xFF_FFFF)
        from subsystemVendor in U16
        from subsystem in U16
        from command in U16.Select(v => (PciCommand)(v & 0x077F))
        from status in U16
        from multiFunction in Bool
        from line in U8
        from pin in Gen.Choose(0, 4)
        from bars in Bars
        from capabilities in Capabilities
        from extended in Bool
        from extendedCapabilities in extended ? ExtendedCapabilities : Gen.Constant(Array.Empty<PciExtendedCapabilitySpec>())
        select new PciFunctionSpec
        {
            VendorId = vendor,
            DeviceId = device,
            Revision = revision,
            ClassCode = classCode,
            SubsystemVendorId = subsystemVendor,
            SubsystemId = subsystem,
            Command = command,
            Status = status,
            MultiFunction = multiFunction,
            InterruptLine = line,
            InterruptPin = (byte)pin,
            Bars = bars,
            Capabilities = capabilities,
            Extended = extended,
            ExtendedCapabilities = extendedCapabilities,
        };

    // Per register: 0 = unimplemented, 1 = mem32, 2 = mem64 (takes the next register too), 3 = I/O.
    private static Gen<PciBarSpec[]> Bars =>
        Gen.ArrayOf(Gen.Choose(0, 3), 6).SelectMany(kinds => Gen.CollectToArray(Layout(kinds)));

    private static IEnumerable<Gen<PciBarSpec>> Layout(int[] kinds)
    {
        for (var index = 0; index < kinds.Length; index++)
        {
            switch (kinds[index])
            {
                case 1:
                    yield return Memory32Bar(index);
                    break;
                case 2 when index < kinds.Length - 1:
                    yield return Memory64Bar(index);
                    index++;
                    break;
                case 2:
                    yield return Memory32Bar(index);
                    break;
                case 3:
                    yield return IoBar(index);
                    break;
            }
        }
    }

    private static Gen<PciBarSpec> Memory32Bar(int index) =>
        from log2 in Gen.Choose(4, 31)
        from prefetchable in Bool
        from address in U32
        select new PciBarSpec(index, PciBarKind.Memory32, 1ul << log2, prefetchable, address & ~((1ul << log2) - 1));

    private static Gen<PciBarSpec> Memory64Bar(int index) =>
        from log2 in Gen.Choose(4, 48)
        from prefetchable in Bool
        from address in U64
        select new PciBarSpec(index, PciBarKind.Memory64, 1ul << log2, prefetchable, address & ~((1ul << log2) - 1));

    private static Gen<PciBarSpec> IoBar(int index) =>
        from log2 in Gen.Choose(2, 8)
        from address in Gen.Choose(0, 0xFFFF)
        select new PciBarSpec(index, PciBarKind.Io, 1ul << log2, false, (ulong)address & ~((1ul << log2) - 1));

    private static Gen<PciCapabilitySpec[]> Capabilities =>
        Gen.Choose(0, 6).SelectMany(n => Gen.ArrayOf(Capability, n)).Select(FitIntoCapabilityArea);

    private static Gen<PciCapabilitySpec> Capability =>
        Gen.OneOf(PowerManagement, Msi, MsiX, PciExpress, VendorSpecific);

    /// <summary>Keeps the longest prefix that fits 0x40..0xFF with 4-byte aligned placement.</summary>
    private static PciCapabilitySpec[] FitIntoCapabilityArea(PciCapabilitySpec[] capabilities)
    {
        var offset = 0x40;
        var fitting = 0;
        foreach (var capability in capabilities)
        {
            if (offset + capability.Length > CapabilityAreaEnd)
            {
                break;
            }

            offset = (offset + capability.Length + 3) & ~3;
            fitting++;
        }

        return capabilities[..fitting];
    }

    private static Gen<PciCapabilitySpec> PowerManagement =>
        from version in Gen.Choose(0, 7)
        from pmeSupport in Gen.Choose(0, 0x1F)
        from d1 in Bool
        from d2 in Bool
        from state in Gen.Choose(0, 3)
        from noSoftReset in Bool
        from pmeEnable in Bool
        from pmeStatus in Bool
        select (PciCapabilitySpec)new PowerManagementCapabilitySpec(
            (byte)version, (byte)pmeSupport, d1, d2, (PciPowerState)state, noSoftReset, pmeEnable, pmeStatus);

    private static Gen<PciCapabilitySpec> Msi =>
        from capable in Gen.Choose(0, 5)
        from granted in Gen.Choose(0, capable)
        from is64 in Bool
        from masking in Bool
        from enabled in Bool
        from address in U64
        from data in U16
        from mask in U32
        from pending in U32
        select (PciCapabilitySpec)new MsiCapabilitySpec(
            capable,
            is64,
            masking,
            enabled,
            granted,
            is64 ? address & ~3ul : address & 0xFFFF_FFFC,
            data,
            masking ? mask : 0,
            masking ? pending : 0);

    private static Gen<PciCapabilitySpec> MsiX =>
        from tableSize in Gen.Choose(1, 2048)
        from tableBir in Gen.Choose(0, 5)
        from tableOffset in U32
        from pbaBir in Gen.Choose(0, 5)
        from pbaOffset in U32
        from enabled in Bool
        from functionMask in Bool
        select (PciCapabilitySpec)new MsiXCapabilitySpec(
            tableSize, tableBir, tableOffset & ~7u, pbaBir, pbaOffset & ~7u, enabled, functionMask);

    private static Gen<PciCapabilitySpec> PciExpress =>
        from type in Gen.Elements(0, 1, 3, 4, 5, 6, 7, 8, 9, 0xA, 0xF)
        from version in Gen.Elements(1, 2, 2, 2, 3)
        from slot in Bool
        from payloadSupported in Gen.Choose(0, 5)
        from payload in Gen.Choose(0, 5)
        from readRequest in Gen.Choose(0, 5)
        from maxSpeed in Gen.Choose(0, 6)
        from maxWidth in Gen.Choose(0, 63)
        from speed in Gen.Choose(0, 6)
        from width in Gen.Choose(0, 63)
        from training in Bool
        from dllActive in Bool
        select (PciCapabilitySpec)new PciExpressCapabilitySpec(
            (PciExpressDeviceType)type,
            (byte)version,
            slot,
            128 << payloadSupported,
            128 << payload,
            128 << readRequest,
            (PciLinkSpeed)maxSpeed,
            maxWidth,
            (PciLinkSpeed)speed,
            width,
            training,
            dllActive);

    private static Gen<PciCapabilitySpec> VendorSpecific =>
        Bytes(40).Select(data => (PciCapabilitySpec)new VendorSpecificCapabilitySpec(data));

    private static Gen<PciExtendedCapabilitySpec[]> ExtendedCapabilities =>
        Gen.Choose(0, 5).SelectMany(n => Gen.ArrayOf(ExtendedCapability, n));

    private static Gen<PciExtendedCapabilitySpec> ExtendedCapability =>
        Gen.OneOf(
            Gen.Choose(1, 15).Select(v => (PciExtendedCapabilitySpec)new AerCapabilitySpec((byte)v)),
            U64.Select(serial => (PciExtendedCapabilitySpec)new DeviceSerialNumberCapabilitySpec(serial)),
            from id in U16
            from revision in Gen.Choose(0, 15)
            from data in Bytes(64)
            select (PciExtendedCapabilitySpec)new VendorSpecificExtendedCapabilitySpec(id, (byte)revision, data));
}
