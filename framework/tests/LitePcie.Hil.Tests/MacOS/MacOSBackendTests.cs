using FluentAssertions;
using LitePcie.Hil.Boards;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Dext;
using LitePcie.Hil.MacOS;
using LitePcie.Hil.MacOS.IOKit;
using LitePcie.Hil.Pci;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.MacOS;

/// <summary>Enumeration and availability of the macOS backend from a fake IORegistry (no device is opened here).</summary>
[TestFixture]
public sealed class MacOSBackendTests
{
    private FakeIOKit _io = null!;
    private BoardProfile _profile = null!;

    [SetUp]
    public void SetUp()
    {
        _io = new FakeIOKit();
        _profile = BoardCatalog.Load(BoardCatalog.DefaultBoard);
    }

    [TearDown]
    public void TearDown()
    {
        _io.ShouldHaveReleasedEverything("enumeration");
        _io.Dispose();
    }

    [Test]
    public async Task Published_and_pci_properties_become_the_descriptor()
    {
        FakeDext.PublishRefusing(_io, _profile, "5:0:0", IOReturn.Success);
        await using var backend = new MacOSBackend([_profile], _io);

        var devices = await backend.EnumerateAsync();

        devices.Should().ContainSingle().Which.Should().Be(
            new DeviceDescriptor("macos", "0000:05:00.0", _profile.VendorId, _profile.DeviceId, _profile.Name, _profile.LinkSpeed, _profile.LinkWidth),
            "address from pcidebug 5:0:0, IDs from the provider's little-endian CFData, link from IOPCIExpressLinkStatus, board by IDs");
        var service = backend.Services().Should().ContainSingle().Subject;
        service.AbiVersion.Should().Be((uint)(DextAbi.AbiMajor << 16 | DextAbi.AbiMinor), "AbiVersion from IOUserServiceProperties");
        service.ChannelCount.Should().Be(_profile.CsrMap.Layout.DmaChannels.Count);
        (service.BufferCount, service.BufferSize).Should().Be((256, 8192), "the dext's ring geometry");
        service.Bar0Size.Should().Be(_profile.CsrBar.Size);
        service.Identifier.Should().Be(_profile.CsrMap.Identifier);
        service.IdentifierMatches.Should().BeTrue();
        service.ClassCode.Should().Be(_profile.ClassCode);
        service.Location.Should().Be("5:0:0");
    }

    [Test]
    public async Task Dext_properties_at_the_top_level_are_read_when_there_is_no_published_dictionary()
    {
        var pci = _io.Publish(FakeDext.PciClasses, FakeDext.PciProperties(_profile, "2:0:0"));
        var properties = FakeDext.Published(_profile);
        properties["IOUserClass"] = MacOSBackend.DriverClass;
        _io.Publish(FakeDext.ServiceClasses, properties, pci);
        await using var backend = new MacOSBackend([_profile], _io);

        var service = backend.Services().Should().ContainSingle().Subject;

        service.ChannelCount.Should().Be(_profile.CsrMap.Layout.DmaChannels.Count, "ChannelCount read directly from the service");
        service.AbiMajor.Should().Be(DextAbi.AbiMajor);
    }

    [Test]
    public async Task A_dext_of_another_abi_is_refused_naming_both_versions()
    {
        var pci = _io.Publish(FakeDext.PciClasses, FakeDext.PciProperties(_profile, "3:0:0"));
        _io.Publish(FakeDext.ServiceClasses, FakeDext.ServiceProperties(FakeDext.Published(_profile, abiVersion: 0x0002_0000)), pci);
        await using var backend = new MacOSBackend([_profile], _io);

        var e = await FluentActions.Awaiting(async () => await backend.EnumerateAsync()).Should().ThrowAsync<DeviceCapabilityException>();

        e.Which.Message.Should().Contain("AbiVersion 2.0 of the dext").And.Contain($"framework's {DextAbi.AbiMajor}.x", "both versions are named");
        e.Which.Device.Should().Be("0000:03:00.0");
        MacOSBackend.Unavailable(_io).Should().StartWith("AbiVersion 2.0 of the dext does not match the framework's 1.x");
    }

    [Test]
    public async Task No_service_enumerates_nothing_and_the_probe_says_why()
    {
        _io.Publish(FakeDext.ServiceClasses, new Dictionary<string, object> { ["IOUserClass"] = "SomeOtherDriver" });
        await using var backend = new MacOSBackend([_profile], _io);

        (await backend.EnumerateAsync()).Should().BeEmpty("a board that is not there is an empty list: the suites poll for absence");
        MacOSBackend.Unavailable(_io).Should().StartWith(
            "no LitePCIeDriver service: the dext is not installed/approved or no board is attached");
    }

    [Test]
    public async Task A_device_no_profile_describes_is_listed_without_a_board_and_refused_at_open()
    {
        var other = BoardCatalog.Load("sim-xcu1525-msix");
        FakeDext.PublishRefusing(_io, _profile, "4:0:0", IOReturn.Success);
        await using var backend = new MacOSBackend([other], _io);

        var device = (await backend.EnumerateAsync()).Should().ContainSingle().Subject;
        device.Board.Should().BeNull($"no given profile has {_profile.VendorId:x4}:{_profile.DeviceId:x4}");

        var e = await FluentActions.Awaiting(async () => await backend.OpenAsync(device)).Should().ThrowAsync<DeviceCapabilityException>();
        e.Which.Message.Should().Contain($"no board profile describes {_profile.VendorId:x4}:{_profile.DeviceId:x4}").And.Contain(other.Name);
        _io.OpenConnections.Should().Be(0, "nothing was opened for a device without a profile");
    }

    [Test]
    public void The_availability_probe_opens_and_closes_once_and_names_the_entitlement()
    {
        FakeDext.PublishRefusing(_io, _profile, "1:0:0", IOReturn.NotPermitted);
        MacOSBackend.Unavailable(_io).Should().StartWith(
            "IOServiceOpen refused with kIOReturnNotPermitted: the client lacks the com.apple.developer.driverkit.userclient-access entitlement");
        MacOSBackend.Unavailable(_io, tryOpen: false).Should().BeNull("without the open probe the service and its ABI are all that is checked");
    }

    [Test]
    public void The_availability_probe_is_null_when_the_dext_answers()
    {
        FakeDext.PublishRefusing(_io, _profile, "1:0:0", IOReturn.Success);
        MacOSBackend.Unavailable(_io).Should().BeNull("a service of the right ABI that opens is usable");
        _io.OpenConnections.Should().Be(0, "the probe closed its connection");
    }

    [TestCase("3:0:5", "0000:03:00.5")]
    [TestCase("0:28:0(1:3)", "0000:00:1c.0")]
    [TestCase("131:0:0", "0000:83:00.0")]
    [TestCase("4:0.1", "0000:04:00.1")]
    [TestCase("nonsense", null)]
    [TestCase("1:40:0", null)]
    public void Pcidebug_locations_become_bdf_addresses(string location, string? address) =>
        MacOSDextService.AddressOfLocation(location).Should().Be(address, $"pcidebug \"{location}\" is decimal bus:dev:fn");

    [Test]
    public void Link_status_register_decodes_to_speed_and_width()
    {
        MacOSDextService.DecodeLinkStatus(0x1103).Should().Be((PciLinkSpeed.Gen3, 16), "4355 = Gen3 x16 as ioreg shows it");
        MacOSDextService.DecodeLinkStatus(0x0042).Should().Be((PciLinkSpeed.Gen2, 4));
        MacOSDextService.DecodeLinkStatus(null).Should().Be((PciLinkSpeed.Unknown, 0));
    }
}

/// <summary>On this (non-macOS) host the real IOKit is never loaded; everything reports why.</summary>
[TestFixture]
public sealed class MacOSAvailabilityTests
{
    [Test]
    public async Task Off_macOS_the_backend_reports_not_macOS_without_touching_IOKit()
    {
        if (OperatingSystem.IsMacOS())
        {
            Assert.Ignore("this host is macOS: the availability probe really looks for the dext here");
        }

        IOKitRuntime.Current.Should().BeNull("the real IOKit is never created off macOS");
        MacOSBackend.Unavailable().Should().StartWith("not macOS", "the probe's first check");

        await using var backend = new MacOSBackend([BoardCatalog.Load(BoardCatalog.DefaultBoard)]);
        backend.Name.Should().Be("macos");
        var e = await FluentActions.Awaiting(async () => await backend.EnumerateAsync()).Should().ThrowAsync<DeviceCapabilityException>();
        e.Which.Message.Should().Contain("Backend=macos").And.Contain("not macOS");
        var d = new DeviceDescriptor("macos", "0000:01:00.0", 0x10EE, 0x7024, null, PciLinkSpeed.Unknown, 0);
        await FluentActions.Awaiting(async () => await backend.OpenAsync(d)).Should().ThrowAsync<DeviceCapabilityException>();
    }
}
