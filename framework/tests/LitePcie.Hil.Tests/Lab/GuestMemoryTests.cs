using FluentAssertions;
using LitePcie.Hil.DeviceServer;
using LitePcie.Hil.DeviceServer.Tests;
using NUnit.Framework;

namespace LitePcie.Hil.Tests.Lab;

/// <summary>Guest RAM as the board's bus address space: mapped from memfds, translated in place, faults recorded.</summary>
[TestFixture]
public sealed unsafe class GuestMemoryTests
{
    [Test]
    public void Translate_ReachesTheSameBytesAsTheFdsOwner()
    {
        Guard.RequireLinux();
        using var owner = new MemfdRegion(2 << 20);
        using var memory = new GuestMemory(32);
        memory.Replace([new GuestRegion(0x10_0000, 1 << 20, 1 << 20)], [owner.Dup()]);

        byte* p = memory.Translate(0x10_0000 + 0x40, 8, "test");
        ((nint)p).Should().NotBe(0);
        *(ulong*)p = 0x1122334455667788;
        owner.Read<ulong>((1 << 20) + 0x40).Should().Be(0x1122334455667788UL, "the device server writes guest RAM in place (same pages as QEMU's memfd, at fd offset 1 MiB)");
        memory.MappedBytes.Should().Be(1UL << 20);
    }

    [TestCase(0x0UL, 4, "bus address outside guest RAM")]
    [TestCase(0x1F_FFFCUL, 8, "runs past the end")]
    [TestCase(0x1_0000_0000UL, 4, "32-bit DMA reach")]
    public void Translate_OutsideGuestRam_IsAFaultNeverAPointer(ulong bus, int length, string problem)
    {
        Guard.RequireLinux();
        using var owner = new MemfdRegion(1 << 20);
        using var memory = new GuestMemory(32);
        memory.Replace([new GuestRegion(0x10_0000, 1 << 20, 0)], [owner.Dup()]);
        ((nint)memory.Translate(bus, length, "pcie_dma0 writer")).Should().Be(0);
        memory.Faults.Should().ContainSingle().Which.ToString().Should().Contain("pcie_dma0 writer").And.Contain(problem);
    }

    [Test]
    public void BeforeTheMapArrives_DmaFaultsSayWhy()
    {
        using var memory = new GuestMemory(64);
        ((nint)memory.TryTranslate(0x1000, 4, out string? problem)).Should().Be(0);
        problem.Should().Contain("no guest memory map yet");
    }
}
