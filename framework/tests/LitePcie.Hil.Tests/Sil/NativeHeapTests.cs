using FluentAssertions;
using LitePcie.Hil.Simulation.Sil;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Sil;

/// <summary>The SIL host counts its own native heap (the dext core and its host), so a driver-side native leak has an exact slope.</summary>
[TestFixture]
[NonParallelizable]
public sealed class NativeHeapTests
{
    private static (double Allocations, double Bytes) Native(SilBackend backend, string address)
    {
        var r = backend.DriverResources(address).ToDictionary(x => x.Name, x => x.Value);
        return (r["driver.native_allocations"], r["driver.native_bytes"]);
    }

    [Test]
    public async Task Each_driver_instance_counts_in_the_native_heap_and_gives_it_back()
    {
        await using var backend = new SilBackend();
        const string address = "0000:01:00.0";
        var attached = Native(backend, address);
        attached.Allocations.Should().BeGreaterThan(0, "a driver instance (device object, status page, timer thread state) lives in the library's heap");
        for (int i = 0; i < 20; i++)
        {
            await backend.DetachAsync(address);
            await backend.AttachAsync(address);
        }

        Native(backend, address).Should().Be(attached, "twenty attach/detach cycles later the native heap of the driver is what it was");
    }

    [Test]
    public async Task A_native_leak_in_the_driver_path_is_counted_exactly()
    {
        await using var backend = new SilBackend(new SilBackendOptions { Faults = "driver-native-leak=100" });
        const string address = "0000:01:00.0";
        var before = Native(backend, address);
        for (int i = 0; i < 10; i++)
        {
            var s = await backend.OpenAsync((await backend.EnumerateAsync())[0]);
            await s.DisposeAsync();
        }

        var after = Native(backend, address);
        (after.Allocations - before.Allocations).Should().Be(10, "one leaked allocation per open");
        (after.Bytes - before.Bytes).Should().BeInRange(1000, 10 * 128, "100 bytes per open (plus the allocator's rounding)");
    }
}
