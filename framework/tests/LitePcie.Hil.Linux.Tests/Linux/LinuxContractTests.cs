using FluentAssertions;
using LitePcie.Hil.Csr;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Dma;
using LitePcie.Hil.Pci;
using LitePcie.Hil.Tests.Contract;
using NUnit.Framework;

namespace LitePcie.Hil.Linux.Tests;

/// <summary>
/// The device contract on the litepcie.ko transport: against <see cref="FakeLitePcieKernel"/> in every <c>dotnet test</c>
/// (with host flow control, a declared difference of the fake, so verified streams cannot lose data to scheduling), and
/// against the real driver where the driver twin runs it (<c>LITEPCIE_HIL_DRIVER_TWIN=real</c>, in the guest). What the
/// fake kernel lets a test see besides (the ioctls sent, registers out of bounds) is asserted in the hooks.
/// </summary>
[TestFixtureSource(typeof(TwinKernels), nameof(TwinKernels.All))]
[Category("DriverTwin")]
[NonParallelizable]
public sealed class LinuxContractTests(TwinKind kind) : BackendContractTests
{
#pragma warning disable NUnit1032 // disposed in CloseRigAsync, which the contract's [TearDown] calls
    private FakeLitePcieKernel? _fake;
    private ITwinKernel? _real;
    private LinuxBackend _backend = null!;
#pragma warning restore NUnit1032

    protected override string Driver => "litepcie.ko";

    protected override long LoopbackBytes => 8L << 20;

    protected override async Task<IDeviceSession> OpenAsync()
    {
        if (kind == TwinKind.Fake)
        {
            _fake = new FakeLitePcieKernel(hostFlowControl: true);
            _backend = new LinuxBackend(_fake.Profile, _fake.Paths, _fake);
        }
        else
        {
            _real = TwinKernels.Create(kind);
            _backend = _real.Backend();
        }

        var device = (await _backend.EnumerateAsync()).Should().ContainSingle().Subject;
        return await _backend.OpenAsync(device);
    }

    protected override Task CloseRigAsync()
    {
        _fake?.Dispose();
        _real?.Dispose();
        return Task.CompletedTask;
    }

    protected override Task RemoveBoardAsync()
    {
        // The contract removes the board under an open session: on the real driver that is the removal the kernel does not
        // survive (the twin's RemovalWithOpenFilesUnavailable says why); the twin removes it with no file open instead.
        if (_real is { RemovalWithOpenFilesUnavailable: { } why })
        {
            Assert.Ignore(why);
        }

        if (_fake is not null)
        {
            _fake.Remove();
        }
        else
        {
            _real!.Remove();
        }

        return Task.CompletedTask;
    }

    protected override bool EngineEnabled(int channel, DmaDirection direction)
    {
        var enable = Session.Map.Layout.DmaChannels[channel].Engine(direction).Enable;
        if (_fake is not null)
        {
            return (_fake.Board.CsrBus.Read32(enable) & 1) != 0;
        }

        // The real board: read the enable bit through a file of our own (LITEPCIE_IOCTL_REG), beside the session.
        int fd = Raw.Open(_real!.Sys, _real.NodePath(0));
        try
        {
            return (Raw.Read(_real.Sys, fd, enable) & 1) != 0;
        }
        finally
        {
            _real.Sys.Close(fd);
        }
    }

    protected override string WaitedForHardwareCount(string engine, long target) => $"{engine} hw count {target} (at 0)";

    /// <summary>Enumerated from sysfs, opened through its channel nodes; the identity check reads the ROM first.</summary>
    protected override Action ObserveIdentity() => () =>
    {
        Session.Channels.Should().HaveCount(2, "one /dev/litepcieN per channel");
        if (_fake is not { } kernel)
        {
            return;
        }

        LinuxBackend.Unavailable(kernel.Paths).Should().BeNull("a LitePCIe function bound to litepcie.ko with /dev nodes is usable");
        Session.Info.Device.Should().Be(new DeviceDescriptor("linux", "0000:02:00.0", 0x10EE, 0x7024, "sim-ac701-2ch", PciLinkSpeed.Gen2, 4));
        Session.Info.DriverVersion.Should().Be("build-id " + Simulation.SimulatedSysfs.BuildId, "no version or srcversion in /sys/module/litepcie, no modules.dep entry: the module's build-id note");
        kernel.Ioctls.Where(i => i.Name != "LITEPCIE_IOCTL_REG").First().Name.Should().Be("LITEPCIE_IOCTL_MMAP_DMA_INFO", "the identity check reads the identifier ROM first");
        Session.GetInterruptStatistics().Messages.Should().Be(1500, "/proc/interrupts for the board's MSI vector, all CPUs");
    };

    /// <summary>Refused by our checks before LITEPCIE_IOCTL_REG, which checks nothing: nothing reaches the driver.</summary>
    protected override Action<DeviceArgumentException, DeviceArgumentException, DeviceArgumentException> ObserveRefusedOffsets()
    {
        int before = _fake?.Ioctls.Count ?? 0;
        return (outside, _, unalignedWrite) =>
        {
            outside.Message.Should().Match("*BAR0 offset*0x100000*a multiple of 4 below 0x*refused before LITEPCIE_IOCTL_REG, which checks nothing (P16)*");
            unalignedWrite.Message.Should().Match("*0x802*multiple of 4*");
            if (_fake is { } kernel)
            {
                kernel.Ioctls.Should().HaveCount(before, "nothing reached the driver");
                kernel.OutOfBoundsRegs.Should().BeEmpty();
            }
        };
    }

    /// <summary>The zero-copy stream uses the documented ioctl sequence: lock before enable, stop before release.</summary>
    protected override Action<StreamReport> ObserveLoopback()
    {
        int before = _fake?.Ioctls.Count ?? 0;
        return report =>
        {
            report.Clean.Should().BeTrue(report.Summary());
            report.RxBuffers.Should().BeGreaterThanOrEqualTo(1024);
            if (_fake is not { } kernel)
            {
                return;
            }

            var names = kernel.Ioctls.Skip(before).Select(i => i.Name).ToList();
            names.Should().ContainInOrder(
                "LITEPCIE_IOCTL_DMA",                       // loopback on (the guard allows it: loopback_enable is at +0x40)
                "LITEPCIE_IOCTL_LOCK", "LITEPCIE_IOCTL_DMA_WRITER", // lock before enable
                "LITEPCIE_IOCTL_LOCK", "LITEPCIE_IOCTL_DMA_READER",
                "LITEPCIE_IOCTL_MMAP_DMA_READER_UPDATE", "LITEPCIE_IOCTL_MMAP_DMA_WRITER_UPDATE",
                "LITEPCIE_IOCTL_DMA_READER", "LITEPCIE_IOCTL_LOCK");  // stop, then release
            var engineEnables = Session.Map.Layout.DmaChannels.SelectMany(c => new[] { (uint)c.Writer.Enable.Address, (uint)c.Reader.Enable.Address }).ToHashSet();
            kernel.Ioctls.Skip(before).Where(i => i.Name == "LITEPCIE_IOCTL_REG").Should().OnlyContain(
                i => engineEnables.Contains(BitConverter.ToUInt32(i.Argument, 0)) && i.Argument[8] == 0,
                "the stream's only register accesses are reads of an engine's enable bit, so counter reads send the engine's state back unchanged");
            kernel.Driver.State(0, DmaDirection.Writer).Enabled.Should().BeFalse("the stream stopped both engines");
        };
    }
}
