using FluentAssertions;
using LitePcie.Hil.Devices;
using LitePcie.Hil.Dext;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Dext;

/// <summary>IOReturn codes from the dext, synchronous or from an asynchronous completion, as the framework's exceptions.</summary>
[TestFixture]
public sealed class DextErrorMappingTests
{
    [Test]
    public void Offline_from_an_async_completion_says_device_gone_like_the_cores_own_messages()
    {
        var e = DextClient.ToException("0000:01:00.0", DextSelector.WaitBuffers, IOReturn.Offline, "wait for pcie_dma0 writer ended at hardware count 0");

        e.Should().BeOfType<DeviceGoneException>();
        e.NativeCode.Should().Be(IOReturn.Offline);
        e.Message.Should().Be("0000:01:00.0: WaitBuffers: kIOReturnOffline: wait for pcie_dma0 writer ended at hardware count 0: device gone",
            "a cycle summary or verdict that reads the message must see the device is gone");
    }

    [Test]
    public void Offline_with_the_cores_device_gone_text_is_not_said_twice()
    {
        var e = DextClient.ToException("0000:01:00.0", DextSelector.UpdateSwCount, IOReturn.Offline, "device state = 0: device gone");

        e.Message.Should().Be("0000:01:00.0: UpdateSwCount: kIOReturnOffline: device state = 0: device gone");
    }
}
