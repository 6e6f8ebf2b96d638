using FluentAssertions;
using LitePcie.Hil.MacOS;
using LitePcie.Hil.MacOS.IOKit;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.MacOS;

/// <summary>CoreFoundation marshalling through the fake: round trips, and every created or copied object released.</summary>
[TestFixture]
public sealed class CoreFoundationTests
{
    private FakeIOKit _io = null!;

    [SetUp]
    public void SetUp() => _io = new FakeIOKit();

    [TearDown]
    public void TearDown()
    {
        _io.ShouldHaveReleasedEverything("the CF wrapper");
        _io.Dispose();
    }

    [TestCase("LitePCIeDriver")]
    [TestCase("")]
    [TestCase("LiteX SoC on AC701 2024-01-01 — µ ✓")]
    public void Strings_round_trip_through_CFString(string text)
    {
        using var s = CoreFoundation.CreateString(_io, text);
        CoreFoundation.GetString(_io, s.Handle).Should().Be(text, "the identifier string read back from a CFString");
    }

    [Test]
    public void Registry_values_convert_to_dotnet_values_and_wrong_types_are_null()
    {
        var service = _io.Publish(["IOUserService"], new Dictionary<string, object>
        {
            ["AbiVersion"] = 0x0001_0002u,
            ["Bar0Size"] = 1UL << 36,
            ["IdentifierMatches"] = true,
            ["class-code"] = FakeDext.Le32(0x058000),
            ["Identifier"] = "LiteX",
        });
        uint handle = Handle(service);
        try
        {
            using (var abi = CoreFoundation.CopyProperty(_io, handle, "AbiVersion"))
            {
                CoreFoundation.GetInt64(_io, abi.Handle).Should().Be(0x0001_0002, "AbiVersion as a CFNumber");
                CoreFoundation.GetString(_io, abi.Handle).Should().BeNull("a number is not a string");
                CoreFoundation.GetBoolean(_io, abi.Handle).Should().BeNull("a number is not a boolean");
            }

            CoreFoundation.SearchParents(_io, handle, "Bar0Size", CoreFoundation.GetInt64).Should().Be(1L << 36, "a 64-bit BAR size survives");
            CoreFoundation.SearchParents(_io, handle, "IdentifierMatches", CoreFoundation.GetBoolean).Should().BeTrue();
            CoreFoundation.SearchParents(_io, handle, "class-code", CoreFoundation.GetBytes).Should().Equal(0x00, 0x80, 0x05, 0x00);
            CoreFoundation.SearchParents(_io, handle, "class-code", CoreFoundation.GetUInt32).Should().Be(0x058000u, "class-code is 4-byte little-endian CFData");
            CoreFoundation.SearchParents(_io, handle, "Identifier", CoreFoundation.GetUInt32).Should().BeNull("a string is not an ID");
            CoreFoundation.SearchParents(_io, handle, "absent", CoreFoundation.GetString).Should().BeNull("a missing property reads as null");
        }
        finally
        {
            _io.IOObjectRelease(handle);
        }
    }

    [Test]
    public void Property_match_dictionary_finds_the_dext_service_and_is_consumed()
    {
        _io.Publish(FakeDext.ServiceClasses, new Dictionary<string, object> { ["IOUserClass"] = "OtherDriver" });
        var ours = _io.Publish(FakeDext.ServiceClasses, new Dictionary<string, object> { ["IOUserClass"] = MacOSBackend.DriverClass });
        _io.Publish(["IOPCIDevice"], new Dictionary<string, object> { ["IOUserClass"] = MacOSBackend.DriverClass });

        var matching = CoreFoundation.CreateMatching(_io, MacOSBackend.KernelServiceClass, [new("IOUserClass", MacOSBackend.DriverClass)]);
        _io.IOServiceGetMatchingServices(matching.Handle, out uint iterator).Should().Be(0);
        var found = new List<ulong>();
        uint s;
        while ((s = _io.IOIteratorNext(iterator)) != 0)
        {
            _io.IORegistryEntryGetRegistryEntryID(s, out ulong id);
            found.Add(id);
            _io.IOObjectRelease(s);
        }

        _io.IOObjectRelease(iterator);
        found.Should().Equal([ours.EntryId], "only an IOUserService whose IOUserClass is LitePCIeDriver matches");
        _io.LiveIOObjects.Should().Be(0, "the iterator and every service object were released");
    }

    [Test]
    public void Published_dictionary_values_are_borrowed_from_it()
    {
        var service = _io.Publish(["IOUserService"], new Dictionary<string, object>
        {
            ["IOUserServiceProperties"] = new Dictionary<string, object> { ["ChannelCount"] = 2u, ["Identifier"] = "LiteX" },
        });
        uint handle = Handle(service);
        using (var published = CoreFoundation.CopyProperty(_io, handle, "IOUserServiceProperties"))
        {
            CoreFoundation.IsDictionary(_io, published.Handle).Should().BeTrue();
            CoreFoundation.GetInt64(_io, CoreFoundation.GetValue(_io, published.Handle, "ChannelCount")).Should().Be(2);
            CoreFoundation.GetString(_io, CoreFoundation.GetValue(_io, published.Handle, "Identifier")).Should().Be("LiteX");
            CoreFoundation.GetValue(_io, published.Handle, "Missing").Should().Be(0, "an absent key is NULL");
        }

        _io.IOObjectRelease(handle);
    }

    private uint Handle(FakeService service)
    {
        var matching = _io.IOServiceMatching(service.Classes[0]);
        _io.IOServiceGetMatchingServices(matching, out uint iterator);
        uint found = 0, s;
        while ((s = _io.IOIteratorNext(iterator)) != 0)
        {
            _io.IORegistryEntryGetRegistryEntryID(s, out ulong id);
            if (id == service.EntryId && found == 0)
            {
                found = s;
            }
            else
            {
                _io.IOObjectRelease(s);
            }
        }

        _io.IOObjectRelease(iterator);
        return found;
    }
}
