// Descriptor words, segment walking and ring checks (docs/gateware.md#descriptor,
// docs/linux-driver.md#start-and-stop-sequences, docs/dext-design.md#rings-and-shared-memory).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "FakeDevice.hpp"
#include "lpc/Descriptor.hpp"

namespace {

using namespace lpc;
using lpc_test::Hex;

std::string Ring(const char* p) { return p == nullptr ? std::string("(usable)") : std::string(p); }

DmaBuffer MakeBuffer(std::initializer_list<DmaSegment> segments) {
    DmaBuffer b;
    uint64_t total = 0;
    for (const DmaSegment& s : segments) {
        b.segments[b.segmentCount++] = s;
        total += s.length;
    }
    b.length = total;
    return b;
}

// ---- DescriptorControl --------------------------------------------------------------------------

TEST(Descriptor, FlagBitsAreTheKernelDriverConstants) {
    EXPECT_EQ(kDescIrqDisable, 1u << 24) << "DMA_IRQ_DISABLE";
    EXPECT_EQ(kDescLastDisable, 1u << 25) << "DMA_LAST_DISABLE";
    EXPECT_EQ(kDescLengthMask, 0x00FFFFFFu);
}

TEST(Descriptor, ControlWordLinuxDefaults) {
    // litepcie.ko: DMA_LAST_DISABLE | (i % 32 ? DMA_IRQ_DISABLE : 0) | 8192 for i = 0..255.
    for (uint32_t i = 0; i < 256; ++i) {
        const uint32_t expected = 8192u | kDescLastDisable | (i % 32 != 0 ? kDescIrqDisable : 0u);
        ASSERT_EQ(DescriptorControl(i, 8192, 32), expected) << "buffer index " << i << ": table_value high word";
    }
}

TEST(Descriptor, IrqEnabledOnlyEveryIrqEveryBuffers) {
    for (uint32_t every : {1u, 2u, 7u, 128u}) {
        for (uint32_t i = 0; i < 256; ++i) {
            const bool irq = (DescriptorControl(i, 4096, every) & kDescIrqDisable) == 0;
            ASSERT_EQ(irq, i % every == 0) << "buffer index " << i << " with irqEvery " << every;
        }
    }
}

TEST(Descriptor, LastDisableAlwaysSetAndLengthMasked) {
    for (uint32_t i : {0u, 1u, 255u, 4095u}) {
        EXPECT_NE(DescriptorControl(i, 8192, 32) & kDescLastDisable, 0u) << "buffer index " << i << ": last_disable";
    }
    EXPECT_EQ(DescriptorControl(0, 4, 1) & kDescLengthMask, 4u) << "smallest length";
    EXPECT_EQ(DescriptorControl(0, LPC_MAX_BUFFER_SIZE, 1) & kDescLengthMask, LPC_MAX_BUFFER_SIZE) << "8 MiB length";
    // A length with bits above 23 must not leak into irq_disable / last_disable.
    EXPECT_EQ(DescriptorControl(0, 0x03ABCDEFu, 1), 0x00ABCDEFu | kDescLastDisable) << "length bits 25:24 masked off";
}

// ---- BusAddressOf ------------------------------------------------------------------------------

TEST(Descriptor, BusAddressOfWalksSegments) {
    const DmaBuffer b = MakeBuffer({{0x10000000, 0x3000}, {0x20000000, 0x2000}, {0x30000000, 0x1000}});
    uint64_t bus = 0;
    ASSERT_TRUE(BusAddressOf(b, 0, 0x1000, &bus));
    EXPECT_EQ(bus, 0x10000000u);
    ASSERT_TRUE(BusAddressOf(b, 0x2000, 0x1000, &bus)) << "last 4 KiB of segment 0";
    EXPECT_EQ(bus, 0x10002000u);
    ASSERT_TRUE(BusAddressOf(b, 0x3000, 0x2000, &bus)) << "all of segment 1";
    EXPECT_EQ(bus, 0x20000000u);
    ASSERT_TRUE(BusAddressOf(b, 0x4000, 0x1000, &bus));
    EXPECT_EQ(bus, 0x20001000u);
    ASSERT_TRUE(BusAddressOf(b, 0x5000, 0x1000, &bus)) << "segment 2";
    EXPECT_EQ(bus, 0x30000000u);
    ASSERT_TRUE(BusAddressOf(b, 0x5FFC, 4, &bus)) << "last word";
    EXPECT_EQ(bus, 0x30000FFCu);
}

TEST(Descriptor, BusAddressOfRefusesCrossingAndOutside) {
    const DmaBuffer b = MakeBuffer({{0x10000000, 0x3000}, {0x20000000, 0x2000}});
    uint64_t bus = 0xABCD;
    EXPECT_FALSE(BusAddressOf(b, 0x2800, 0x1000, &bus)) << "range 0x2800..0x37FF crosses the segment 0/1 boundary";
    EXPECT_FALSE(BusAddressOf(b, 0x3000, 0x2001, &bus)) << "one byte past segment 1";
    EXPECT_FALSE(BusAddressOf(b, 0x5000, 4, &bus)) << "offset at the end of the buffer";
    EXPECT_FALSE(BusAddressOf(b, ~0ull - 3, 4, &bus)) << "offset near 2^64";
    EXPECT_EQ(bus, 0xABCDu) << "output untouched on refusal";
    DmaBuffer none;
    EXPECT_FALSE(BusAddressOf(none, 0, 4, &bus)) << "no segments";
}

TEST(Descriptor, BusAddressOfCapsSegmentCount) {
    DmaBuffer b = MakeBuffer({{0x1000, 0x1000}});
    b.segmentCount = LPC_MAX_SEGMENTS + 100; // a corrupt count must not read past segments[]
    uint64_t bus = 0;
    EXPECT_TRUE(BusAddressOf(b, 0, 0x1000, &bus));
    EXPECT_FALSE(BusAddressOf(b, 0x1000, 4, &bus));
}

// ---- CheckRing ---------------------------------------------------------------------------------

TEST(Descriptor, CheckRingNoSegments) {
    DmaBuffer b;
    b.length = 256 * 8192;
    EXPECT_EQ(Ring(CheckRing(b, 256, 8192, 32)), "the DMA preparation returned no (or too many) segments");
    b = MakeBuffer({{0x10000000, 256 * 8192}});
    b.segmentCount = LPC_MAX_SEGMENTS + 1;
    EXPECT_EQ(Ring(CheckRing(b, 256, 8192, 32)), "the DMA preparation returned no (or too many) segments") << "33 segments";
}

TEST(Descriptor, CheckRingShort) {
    DmaBuffer b = MakeBuffer({{0x10000000, 256 * 8192 - 4}});
    EXPECT_EQ(Ring(CheckRing(b, 256, 8192, 32)), "the DMA preparation covers fewer bytes than the ring") << "segments 4 bytes short";
    b = MakeBuffer({{0x10000000, 256 * 8192}});
    b.length = 256 * 8192 - 8192;
    EXPECT_EQ(Ring(CheckRing(b, 256, 8192, 32)), "the DMA preparation covers fewer bytes than the ring") << "buffer length short";
}

TEST(Descriptor, CheckRingBufferCrossingSegmentBoundary) {
    // Two segments split half a buffer past buffer 127: buffer 128 straddles them.
    const DmaBuffer b = MakeBuffer({{0x10000000, 128 * 8192 + 4096}, {0x30000000, 128 * 8192 - 4096}});
    EXPECT_EQ(Ring(CheckRing(b, 256, 8192, 32)), "a ring buffer crosses a DMA segment boundary");
}

TEST(Descriptor, CheckRingAddressBeyond32Bits) {
    DmaBuffer b = MakeBuffer({{0x100000000ull, 256 * 8192}});
    EXPECT_EQ(Ring(CheckRing(b, 256, 8192, 32)), "a ring buffer's bus address exceeds the device's DMA address width")
        << "ring at 4 GiB for a 32-bit design";
    EXPECT_EQ(Ring(CheckRing(b, 256, 8192, 64)), "(usable)") << "the same ring for a 64-bit design";
    // The last buffer's last byte at 2^32 exactly.
    b = MakeBuffer({{0x100000000ull - 256 * 8192 + 1, 256 * 8192}});
    EXPECT_EQ(Ring(CheckRing(b, 256, 8192, 32)), "a ring buffer's bus address exceeds the device's DMA address width")
        << "buffer 255 ends at 0x100000000";
    b = MakeBuffer({{0x100000000ull - 256 * 8192, 256 * 8192}});
    EXPECT_EQ(Ring(CheckRing(b, 256, 8192, 32)), "(usable)") << "buffer 255 ends exactly at 0xFFFFFFFF";
}

TEST(Descriptor, CheckRingMultiSegmentBufferAligned) {
    DmaBuffer b;
    for (uint32_t s = 0; s < 8; ++s) {
        b.segments[b.segmentCount++] = DmaSegment{0x10000000ull + s * 0x01000000ull, 32 * 8192};
    }
    b.length = 256 * 8192;
    ASSERT_EQ(Ring(CheckRing(b, 256, 8192, 32)), "(usable)") << "8 segments of 32 buffers each";
    for (uint32_t i = 0; i < 256; ++i) {
        uint64_t bus = 0;
        ASSERT_TRUE(BusAddressOf(b, uint64_t{i} * 8192, 8192, &bus)) << "buffer index " << i;
        EXPECT_EQ(bus, 0x10000000ull + (i / 32) * 0x01000000ull + (i % 32) * 8192ull) << "buffer index " << i << " bus address";
    }
}

TEST(Descriptor, CheckRingLongerThanNeededIsFine) {
    const DmaBuffer b = MakeBuffer({{0x10000000, 4 * 8192}, {0x20000000, 0x10000}});
    EXPECT_EQ(Ring(CheckRing(b, 4, 8192, 32)), "(usable)");
}

} // namespace
