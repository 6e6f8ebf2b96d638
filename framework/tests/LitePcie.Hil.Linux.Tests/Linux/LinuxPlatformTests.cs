using FluentAssertions;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Linux.Sysfs;
using LitePcie.Hil.Pci;
using NUnit.Framework;

namespace LitePcie.Hil.Linux.Tests;

/// <summary>Linux availability reasons, sysfs attach/detach and the kernel probe, on a fake sysfs tree (never the real one).</summary>
[TestFixture]
public sealed class LinuxPlatformTests
{
    [Test]
    public void A_board_without_device_nodes_is_named_with_the_fix()
    {
        using var kernel = new FakeLitePcieKernel();
        Directory.Delete(Path.Combine(kernel.Paths.Sys, "bus", "pci", "drivers"), recursive: true);
        File.Delete(Path.Combine(kernel.Paths.PciDevices, kernel.Address, "driver"));
        LinuxBackend.Unavailable(kernel.Paths).Should().Be(
            "LitePCIe board(s) 0000:02:00.0 [10ee:7024] driver none but none bound to litepcie.ko: load it (insmod litepcie.ko) and check dmesg for its probe " +
            "(it needs revision 0, a memory BAR0 and MSI)");
    }

    [Test]
    public async Task Sysfs_detach_writes_remove_and_attach_writes_rescan()
    {
        using var kernel = new FakeLitePcieKernel();
        string remove = Path.Combine(kernel.Paths.PciDevices, kernel.Address, "remove");
        File.WriteAllText(remove, "");
        Directory.CreateDirectory(Path.Combine(kernel.Paths.Sys, "bus", "pci"));
        var control = new SysfsAttachControl(kernel.Paths);

        await control.DetachAsync(kernel.Address, CancellationToken.None);
        File.ReadAllText(remove).Should().Be("1");
        await control.AttachAsync(kernel.Address, CancellationToken.None);
        File.ReadAllText(Path.Combine(kernel.Paths.Sys, "bus", "pci", "rescan")).Should().Be("1");
        var missing = async () => await control.DetachAsync("0000:09:00.0", CancellationToken.None);
        await missing.Should().ThrowAsync<DeviceGoneException>().WithMessage("*0000:09:00.0 is not on the bus*");
    }

    [Test]
    public async Task A_hot_plug_slot_is_powered_off_and_on_instead()
    {
        using var kernel = new FakeLitePcieKernel();
        string slot = Path.Combine(kernel.Paths.Sys, "bus", "pci", "slots", "4");
        Directory.CreateDirectory(slot);
        File.WriteAllText(Path.Combine(slot, "address"), "0000:02:00\n");
        File.WriteAllText(Path.Combine(slot, "power"), "1");
        var control = new SysfsAttachControl(kernel.Paths);
        await control.DetachAsync(kernel.Address, CancellationToken.None);
        File.ReadAllText(Path.Combine(slot, "power")).Should().Be("0");
        await control.AttachAsync(kernel.Address, CancellationToken.None);
        File.ReadAllText(Path.Combine(slot, "power")).Should().Be("1");
    }

    [Test]
    public void Sleep_is_refused_with_the_reason_when_the_kernel_offers_no_suspend_to_ram()
    {
        using var kernel = new FakeLitePcieKernel();
        RtcWakePowerControl.Unavailable(kernel.Paths).Should().EndWith("power/state does not exist: this kernel offers no system sleep");
        Directory.CreateDirectory(Path.Combine(kernel.Paths.Sys, "power"));
        File.WriteAllText(Path.Combine(kernel.Paths.Sys, "power", "state"), "freeze\n");
        RtcWakePowerControl.Unavailable(kernel.Paths).Should().Contain("lists 'freeze': no suspend to RAM (mem)");
    }

    [Test]
    public void The_kernel_probe_reads_unreclaimable_slab_and_the_module_reference_count()
    {
        using var kernel = new FakeLitePcieKernel();
        File.WriteAllText(Path.Combine(kernel.Paths.Proc, "meminfo"), "MemTotal:       24000000 kB\nSUnreclaim:        81234 kB\n");
        File.WriteAllText(Path.Combine(kernel.Paths.Sys, "module", "litepcie", "refcnt"), "2\n");
        new LinuxKernelProbe(kernel.Paths).Sample(kernel.Address).Select(r => (r.Name, r.Value)).Should().Equal(
            ("kernel.slab_unreclaimable_bytes", 81234.0 * 1024), ("driver.module_references", 2.0));
    }

    [TestCase("2.5 GT/s PCIe", PciLinkSpeed.Gen1)]
    [TestCase("5.0 GT/s PCIe", PciLinkSpeed.Gen2)]
    [TestCase("8.0 GT/s PCIe", PciLinkSpeed.Gen3)]
    [TestCase("16.0 GT/s PCIe", PciLinkSpeed.Gen4)]
    [TestCase("Unknown", PciLinkSpeed.Unknown)]
    public void Link_speed_text_is_parsed(string text, PciLinkSpeed speed) => SysfsPci.ParseSpeed(text).Should().Be(speed);

    [Test]
    public void A_malformed_resource_line_names_the_file_and_line()
    {
        FluentActions.Invoking(() => SysfsPci.ParseResource("0x0 0x1\n", "/sys/x/resource")).Should().Throw<FormatException>()
            .WithMessage("/sys/x/resource line 1 '0x0 0x1': expected 'start end flags' in hex");
    }
}
