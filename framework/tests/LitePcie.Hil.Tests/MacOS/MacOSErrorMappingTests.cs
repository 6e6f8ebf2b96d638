using FluentAssertions;
using LitePcie.Hil.Boards;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Dext;
using LitePcie.Hil.MacOS;
using LitePcie.Hil.MacOS.IOKit;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.MacOS;

/// <summary>IOReturn codes from IOServiceOpen and from the user client, mapped to the framework's device exceptions.</summary>
[TestFixture]
public sealed class MacOSErrorMappingTests
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
        _io.ShouldHaveReleasedEverything("every failure path of open");
        _io.Dispose();
    }

    [Test]
    public async Task Open_refused_with_not_permitted_names_the_missing_entitlement()
    {
        var e = await OpenAsync(IOReturn.NotPermitted).Should().ThrowAsync<DeviceCapabilityException>();
        e.Which.NativeCode.Should().Be(IOReturn.NotPermitted);
        e.Which.Message.Should().Contain("kIOReturnNotPermitted").And.Contain("com.apple.developer.driverkit.userclient-access",
            "a missing entitlement is a setup problem the lab engineer must see named");
    }

    [Test]
    public async Task Open_refused_with_exclusive_access_is_busy()
    {
        var e = await OpenAsync(IOReturn.ExclusiveAccess).Should().ThrowAsync<DeviceBusyException>();
        e.Which.Code.Should().Be(DeviceErrorCode.ExclusiveAccess);
        e.Which.NativeCode.Should().Be(IOReturn.ExclusiveAccess);
    }

    [TestCase(IOReturn.Offline)]
    [TestCase(IOKitConstants.ReturnNotAttached)]
    [TestCase(IOKitConstants.ReturnNoDevice)]
    public async Task Open_of_a_service_that_left_is_device_gone(int status)
    {
        var e = await OpenAsync(status).Should().ThrowAsync<DeviceGoneException>();
        e.Which.Message.Should().Contain(IOKitConstants.Name(status)).And.Contain("service left");
    }

    [TestCase(IOReturn.Offline)]
    [TestCase(IOKitConstants.ReturnNotAttached)]
    [TestCase(IOKitConstants.MachSendInvalidDest)]
    public async Task Calls_answered_with_a_gone_code_are_device_gone(int status)
    {
        var e = await OpenAsync(IOReturn.Success, status).Should().ThrowAsync<DeviceGoneException>("GetInfo at open was answered " + IOKitConstants.Name(status));
        e.Which.NativeCode.Should().Be(IOReturn.Offline, "codes meaning the client is gone are reported as kIOReturnOffline");
    }

    [Test]
    public async Task Calls_answered_with_not_ready_keep_their_class()
    {
        var e = await OpenAsync(IOReturn.Success, IOReturn.NotReady).Should().ThrowAsync<DeviceException>();
        e.Which.Code.Should().Be(DeviceErrorCode.NotReady, "kIOReturnNotReady (asleep) is not a removal");
    }

    private Func<Task> OpenAsync(int openStatus, int callStatus = IOReturn.Success) => async () =>
    {
        FakeDext.PublishRefusing(_io, _profile, "7:0:0", openStatus, callStatus);
        await using var backend = new MacOSBackend([_profile], _io);
        var device = (await backend.EnumerateAsync()).Single();
        await using var session = await backend.OpenAsync(device);
    };
}
