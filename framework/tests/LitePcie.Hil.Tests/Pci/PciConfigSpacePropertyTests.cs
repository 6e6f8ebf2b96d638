using System.Runtime.ExceptionServices;
using FsCheck;
using FsCheck.Fluent;
using LitePcie.Hil.Pci;
using LitePcie.Hil.Simulation.Pci;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Pci;

[TestFixture]
public sealed class PciConfigSpacePropertyTests
{
    private const int FuzzRuns = 2000;
    private static readonly TimeSpan s_hangLimit = TimeSpan.FromSeconds(120);
    private static readonly PciConfigSpaceBuilder s_builder = new();

    [Test]
    public void RoundTrip_ParseOfBuiltImageReproducesTheSpec() =>
        Prop.ForAll(PciSpecGenerators.FunctionSpecs(), spec =>
        {
            var built = s_builder.Build(spec);
            var parsed = PciConfigSpace.Parse(built.Image, built.BarSizingMasks, "round-trip");
            var mismatch = RoundTripMismatch(spec, built, parsed);
            return (mismatch is null).Label(mismatch ?? "round trip ok");
        }).QuickCheckThrowOnFailure();

    [Test]
    public void Robustness_ArbitraryImagesParseOrThrowPciConfigSpaceException()
    {
        var property = Prop.ForAll(FuzzCases(), fuzz =>
        {
            try
            {
                _ = PciConfigSpace.Parse(fuzz.Image(), fuzz.Masks(), "fuzz");
                return true.Label("parsed");
            }
            catch (PciConfigSpaceException)
            {
                return true.Label("rejected with PciConfigSpaceException");
            }
            catch (Exception ex)
            {
                return false.Label($"{fuzz}: Parse threw {ex.GetType().Name} instead of PciConfigSpaceException: {ex.Message}");
            }
        });

        // The walk bound is what guarantees termination. The watchdog (a dedicated thread, so a spinning parse cannot
        // starve it) turns a hang into a failure instead of a stuck test run.
        Exception? failure = null;
        var worker = new Thread(() =>
        {
            try
            {
                Check.One(Config.QuickThrowOnFailure.WithMaxTest(FuzzRuns), property);
            }
            catch (Exception ex)
            {
                failure = ex;
            }
        })
        {
            IsBackground = true,
            Name = "pci-config-fuzz",
        };
        worker.Start();

        Assert.That(
            worker.Join(s_hangLimit),
            Is.True,
            $"{FuzzRuns} fuzzed config spaces did not all parse within {s_hangLimit.TotalSeconds} s: a capability walk hangs");
        if (failure is not null)
        {
            ExceptionDispatchInfo.Capture(failure).Throw();
        }
    }

    private static Arbitrary<FuzzCase> FuzzCases() =>
        (from seed in Gen.Choose(0, int.MaxValue)
         from length in Gen.Elements(256, 4096)
         from shape in Gen.Elements(FuzzShape.RandomBytes, FuzzShape.HeaderForced, FuzzShape.CapabilityShaped, FuzzShape.CapabilityShaped)
         from withMasks in PciSpecGenerators.Bool
         select new FuzzCase(seed, length, shape, withMasks)).ToArbitrary();

    private static string? RoundTripMismatch(PciFunctionSpec spec, PciConfigImage built, PciConfigSpace parsed)
    {
        var expectedStatus = (ushort)(spec.Status | (spec.Capabilities.Count > 0 ? 0x0010 : 0));
        var header = new (string Register, object Expected, object Seen)[]
        {
            ("image length", spec.Extended ? 4096 : 256, parsed.Length),
            ("Vendor ID (0x00)", spec.VendorId, parsed.VendorId),
            ("Device ID (0x02)", spec.DeviceId, parsed.DeviceId),
            ("Command (0x04)", spec.Command, parsed.Command),
            ("Status (0x06)", expectedStatus, parsed.Status),
            ("Revision ID (0x08)", spec.Revision, parsed.Revision),
            ("class code (0x09..0x0B)", spec.ClassCode, parsed.ClassCode),
            ("header type (0x0E)", 0, parsed.HeaderType),
            ("multi-function (0x0E bit 7)", spec.MultiFunction, parsed.IsMultiFunction),
            ("Subsystem Vendor ID (0x2C)", (ushort?)spec.SubsystemVendorId, parsed.SubsystemVendorId!),
            ("Subsystem ID (0x2E)", (ushort?)spec.SubsystemId, parsed.SubsystemId!),
            ("Interrupt Line (0x3C)", spec.InterruptLine, parsed.InterruptLine),
            ("Interrupt Pin (0x3D)", spec.InterruptPin, parsed.InterruptPin),
        };
        foreach (var (register, expected, seen) in header)
        {
            if (!Equals(expected, seen))
            {
                return $"{register}: expected {expected} but parsed {seen}";
            }
        }

        var expectedBars = spec.Bars
            .OrderBy(b => b.Index)
            .Select(b => new PciBar(b.Index, b.Kind, b.Prefetchable, b.Address, b.Size))
            .ToList();
        if (!expectedBars.SequenceEqual(parsed.Bars))
        {
            return $"BARs: expected [{string.Join(", ", expectedBars)}] from masks " +
                   $"[{string.Join(", ", built.BarSizingMasks.Select(m => $"0x{m:X8}"))}] but parsed [{string.Join(", ", parsed.Bars)}]";
        }

        var offsets = built.CapabilityOffsets;
        for (var i = 0; i < offsets.Length; i++)
        {
            var minimum = i == 0 ? 0x40 : offsets[i - 1] + spec.Capabilities[i - 1].Length;
            if (offsets[i] < minimum || offsets[i] % 4 != 0 || offsets[i] + spec.Capabilities[i].Length > 0x100)
            {
                return $"capability #{i} placed at 0x{offsets[i]:X2}: not aligned, overlapping or past 0xFF";
            }
        }

        var expectedCapabilities = spec.Capabilities.Select((c, i) => ExpectedCapability(c, offsets[i])).ToList();
        if (parsed.Capabilities.Count != expectedCapabilities.Count)
        {
            return $"capability list: expected {expectedCapabilities.Count} entries but parsed {parsed.Capabilities.Count}";
        }

        for (var i = 0; i < expectedCapabilities.Count; i++)
        {
            if (!expectedCapabilities[i].Equals(parsed.Capabilities[i]))
            {
                return $"capability #{i} at 0x{offsets[i]:X2}: expected {expectedCapabilities[i]} but parsed {parsed.Capabilities[i]}";
            }
        }

        var extendedOffsets = built.ExtendedCapabilityOffsets;
        var expectedExtended = spec.ExtendedCapabilities.Select((c, i) => ExpectedExtended(c, extendedOffsets[i])).ToList();
        if (parsed.ExtendedCapabilities.Count != expectedExtended.Count)
        {
            return $"extended capability list: expected {expectedExtended.Count} entries but parsed {parsed.ExtendedCapabilities.Count}";
        }

        for (var i = 0; i < expectedExtended.Count; i++)
        {
            if (!expectedExtended[i].Equals(parsed.ExtendedCapabilities[i]))
            {
                return $"extended capability #{i} at 0x{extendedOffsets[i]:X3}: expected {expectedExtended[i]} but parsed {parsed.ExtendedCapabilities[i]}";
            }
        }

        return null;
    }

    private static PciCapability ExpectedCapability(PciCapabilitySpec spec, int offset) => spec switch
    {
        PowerManagementCapabilitySpec pm => new PowerManagementCapability(
            offset, pm.Version, pm.PmeSupport, pm.D1Supported, pm.D2Supported, pm.PowerState, pm.NoSoftReset, pm.PmeEnable, pm.PmeStatus),
        MsiCapabilitySpec msi => new MsiCapability(
            offset,
            msi.Enabled,
            msi.MultipleMessageCapable,
            msi.MultipleMessageEnable,
            msi.Is64Bit,
            msi.PerVectorMasking,
            msi.MessageAddress,
            msi.MessageData,
            msi.PerVectorMasking ? msi.MaskBits : null,
            msi.PerVectorMasking ? msi.PendingBits : null),
        MsiXCapabilitySpec msix => new MsiXCapability(
            offset, msix.Enabled, msix.FunctionMask, msix.TableSize, msix.TableBir, msix.TableOffset, msix.PbaBir, msix.PbaOffset),
        PciExpressCapabilitySpec pcie => new PciExpressCapability(
            offset,
            pcie.Version,
            pcie.DeviceType,
            pcie.SlotImplemented,
            pcie.MaxPayloadSupported,
            pcie.MaxPayloadSize,
            pcie.MaxReadRequestSize,
            pcie.LinkMaxSpeed,
            pcie.LinkMaxWidth,
            pcie.LinkSpeed,
            pcie.LinkWidth,
            pcie.LinkTraining,
            pcie.DataLinkLayerActive,
            (uint)pcie.LinkMaxSpeed | ((uint)pcie.LinkMaxWidth << 4),
            (ushort)((int)pcie.LinkSpeed | (pcie.LinkWidth << 4) | (pcie.LinkTraining ? 0x0800 : 0) | (pcie.DataLinkLayerActive ? 0x2000 : 0))),
        VendorSpecificCapabilitySpec vendor => new VendorSpecificCapability(offset, (byte)(3 + vendor.Data.Length), vendor.Data),
        _ => throw new ArgumentOutOfRangeException(nameof(spec), spec, "capability spec kind without an expected parse"),
    };

    private static PciExtendedCapability ExpectedExtended(PciExtendedCapabilitySpec spec, int offset) => spec switch
    {
        AerCapabilitySpec aer => new PciExtendedCapability(0x0001, aer.CapabilityVersion, offset),
        DeviceSerialNumberCapabilitySpec dsn => new DeviceSerialNumberCapability(1, offset, dsn.SerialNumber),
        VendorSpecificExtendedCapabilitySpec vsec => new VendorSpecificExtendedCapability(
            1, offset, vsec.VsecId, vsec.VsecRevision, 8 + vsec.Data.Length, vsec.Data),
        _ => throw new ArgumentOutOfRangeException(nameof(spec), spec, "extended capability spec kind without an expected parse"),
    };

    internal enum FuzzShape
    {
        /// <summary>Every byte random (most fail the header-type check).</summary>
        RandomBytes,

        /// <summary>Random bytes with header type 0/1, Status bit 4 and a random capability pointer: fuzzes BAR decoding.</summary>
        HeaderForced,

        /// <summary>
        /// Valid BARs and masks; capability-like IDs and next pointers in every aligned slot (biased towards the end of
        /// the area), and extended headers with random next pointers: fuzzes the capability walks and bodies.
        /// </summary>
        CapabilityShaped,
    }

    /// <summary>A reproducible fuzzed image: the seed regenerates the bytes, so a counterexample is printable.</summary>
    internal sealed record FuzzCase(int Seed, int Length, FuzzShape Shape, bool WithMasks)
    {
        private static readonly byte[] s_ids = [0x01, 0x05, 0x09, 0x10, 0x11, 0x00, 0xFF];
        private static readonly ushort[] s_extendedIds = [0x0001, 0x0003, 0x000B, 0x0010, 0x0000, 0xFFFF];

        public byte[] Image() => Generate().Image;

        /// <summary>Sizing masks with the right count for the image's header type, or null.</summary>
        public uint[]? Masks() => WithMasks ? Generate().Masks : null;

        private (byte[] Image, uint[] Masks) Generate()
        {
            var random = new Random(Seed);
            var image = new byte[Length];
            random.NextBytes(image);
            if (Shape == FuzzShape.RandomBytes)
            {
                return (image, new uint[(image[0x0E] & 0x7F) == 1 ? 2 : 6]);
            }

            image[0x0E] = (byte)(random.Next(2) | (random.Next(2) << 7));
            image[0x06] |= 0x10;
            image[0x34] = NextPointer(random, 0x00, 0x100);
            var masks = new uint[(image[0x0E] & 0x7F) == 1 ? 2 : 6];
            if (Shape == FuzzShape.HeaderForced)
            {
                for (var i = 0; i < masks.Length; i++)
                {
                    masks[i] = random.Next(4) == 0 ? 0u : (uint)random.NextInt64(0, 1L << 32);
                }

                return (image, masks);
            }

            for (var i = 0; i < masks.Length; i++)
            {
                // Unimplemented, 32-bit memory or I/O, with a contiguous probe mask.
                var kind = random.Next(3);
                var size = 1u << random.Next(kind == 2 ? 2 : 4, kind == 2 ? 9 : 31);
                var value = kind == 0 ? 0u : ((uint)random.NextInt64(0, 1L << 32) & ~(size - 1)) | (kind == 2 ? 1u : 0u);
                masks[i] = kind == 0 ? 0u : ~(size - 1) | (value & 0xF);
                BitConverter.TryWriteBytes(image.AsSpan(0x10 + (4 * i)), value);
            }

            for (var offset = 0x40; offset < 0x100; offset += 4)
            {
                image[offset] = s_ids[random.Next(s_ids.Length)];
                image[offset + 1] = NextPointer(random, 0x38, 0x100);
            }

            if (Length == 4096)
            {
                for (var offset = 0x100; offset < Length; offset += 4)
                {
                    if (offset == 0x100 || random.Next(16) == 0 || offset >= 0xFE0)
                    {
                        var next = random.Next(16) == 0 ? 0 : random.Next(4) == 0 ? random.Next(0xFE0, 0x1000) : random.Next(0xF0, 0x1000);
                        var header = s_extendedIds[random.Next(s_extendedIds.Length)] | ((uint)random.Next(16) << 16) | ((uint)next << 20);
                        BitConverter.TryWriteBytes(image.AsSpan(offset), header);
                    }
                }
            }

            return (image, masks);
        }

        /// <summary>0 (end) now and then, often a slot near the end of the area, otherwise anywhere in [low, high).</summary>
        private static byte NextPointer(Random random, int low, int high) => random.Next(8) switch
        {
            0 => 0,
            1 or 2 or 3 => (byte)random.Next(0xE0, 0x100),
            _ => (byte)random.Next(low, high),
        };
    }
}
