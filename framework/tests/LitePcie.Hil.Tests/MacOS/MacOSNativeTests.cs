using FluentAssertions;
using LitePcie.Hil.MacOS;
using LitePcie.Hil.MacOS.IOKit;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.MacOS;

/// <summary>
/// The twin of the fake IOKit: the same marshalling against the real CoreFoundation and IOKit, so the
/// P/Invoke declarations (entry points, argument types, ownership) are proven on a Mac. They run natively in
/// the macOS workflow (.github/workflows/macos.yml, a GitHub-hosted runner without a board) and on lab Macs.
/// </summary>
[TestFixture]
public sealed class MacOSNativeTests
{
    private IIOKit _io = null!;

    [SetUp]
    public void SetUp()
    {
        if (!OperatingSystem.IsMacOS())
        {
            Assert.Ignore("not macOS: these check the real IOKit and run natively in .github/workflows/macos.yml");
        }

        _io = IOKitRuntime.Current!;
    }

    [TestCase("LitePCIeDriver")]
    [TestCase("")]
    [TestCase("LiteX SoC on AC701 2024-01-01 — µ ✓")]
    public void Strings_round_trip_through_the_real_CFString(string text)
    {
        using var s = CoreFoundation.CreateString(_io, text);
        CoreFoundation.GetString(_io, s.Handle).Should().Be(text);
    }

    [Test]
    public void The_real_IOKit_matches_and_reads_the_platform_expert()
    {
        nint matching = _io.IOServiceMatching("IOPlatformExpertDevice");
        matching.Should().NotBe(0, "IOServiceMatching returns a +1 dictionary");
        _io.IOServiceGetMatchingServices(matching, out uint iterator).Should().Be(0, "kIOReturnSuccess; the dictionary is consumed");
        try
        {
            uint entry = _io.IOIteratorNext(iterator);
            entry.Should().NotBe(0u, "every Mac has a platform expert");
            try
            {
                _io.IORegistryEntryGetRegistryEntryID(entry, out ulong id).Should().Be(0);
                id.Should().NotBe(0UL);
                using var key = CoreFoundation.CreateString(_io, "IOPlatformSerialNumber");
                nint serial = _io.IORegistryEntryCreateCFProperty(entry, key.Handle);
                using var owned = new CFRef(_io, serial);
                CoreFoundation.GetString(_io, serial).Should().NotBeNullOrEmpty("a registry property read back as a .NET string");
            }
            finally
            {
                _io.IOObjectRelease(entry);
            }
        }
        finally
        {
            _io.IOObjectRelease(iterator);
        }
    }

    [Test]
    public void A_notification_port_on_a_dispatch_queue_is_created_and_torn_down()
    {
        nint queue = _io.DispatchQueueCreate("litepcie-hil.native-test");
        nint port = _io.IONotificationPortCreate();
        port.Should().NotBe(0);
        _io.IONotificationPortGetMachPort(port).Should().NotBe(0u);
        _io.IONotificationPortSetDispatchQueue(port, queue);
        _io.IONotificationPortDestroy(port);
        _io.DispatchQueueDrain(queue, TimeSpan.FromSeconds(5)).Should().BeTrue("the queue runs what was queued on it");
        _io.DispatchRelease(queue);
    }

    [Test]
    public void Without_the_dext_the_backend_says_why()
    {
        string? reason = MacOSBackend.Unavailable(tryOpen: false);
        if (reason is null)
        {
            Assert.Ignore("the LitePCIe dext and a board are present on this Mac: the lab suites cover it");
        }

        reason.Should().Contain("LitePCIeDriver", "the probe names the service it looked for")
            .And.Contain("systemextensionsctl", "and how to check the dext");
    }
}
