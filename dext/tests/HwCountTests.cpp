// loop_status -> hardware buffer count (docs/gateware.md#loop_status,
// docs/linux-driver.md#hardware-and-software-counts).
#include <gtest/gtest.h>

#include <cstdint>

#include "FakeDevice.hpp"
#include "lpc/HwCount.hpp"

namespace {

using lpc::HwCount;
using lpc_test::Hex;
using lpc_test::LoopStatusFor;

TEST(HwCount, LinuxDriverTestVectors) {
    // docs/linux-driver.md#hardware-and-software-counts, in order, 256-entry ring.
    HwCount hw;
    hw.Reset(256);
    struct Step {
        uint32_t loopStatus;
        uint64_t expected;
    };
    const Step steps[] = {
        {0x00000000u, 0},          {0x00000020u, 32},         {0x00010000u, 256},
        {0xFFFF00E0u, 16777184ull}, {0x00000000u, 16777216ull}, {0x00000020u, 16777248ull},
    };
    for (const Step& s : steps) {
        EXPECT_EQ(hw.Update(s.loopStatus), s.expected) << "loop_status " << Hex(s.loopStatus) << " (count " << (s.loopStatus >> 16)
                                                       << ", index " << (s.loopStatus & 0xFFFF) << ")";
        EXPECT_EQ(hw.Value(), s.expected);
    }
}

TEST(HwCount, ResetStartsAtZero) {
    HwCount hw;
    hw.Reset(256);
    EXPECT_EQ(hw.Update(0x00050010u), 5u * 256 + 16);
    hw.Reset(256);
    EXPECT_EQ(hw.Value(), 0u) << "Reset must clear the count (DmaStart restarts at 0)";
    EXPECT_EQ(hw.Update(0x00000001u), 1u) << "after Reset a small loop_status must not be taken as a wrap";
}

TEST(HwCount, FourEntryRingMatchesSimulationTrace) {
    // docs/gateware.md#loop_status: pops 1..10 of a 4-entry ring give (index, count) = (0,0) (1,0) (2,0)
    // (3,0) (0,1) (1,1) (2,1) (3,1) (0,2) (1,2); count*N + index = pops - 1.
    const uint32_t trace[][2] = {{0, 0}, {1, 0}, {2, 0}, {3, 0}, {0, 1}, {1, 1}, {2, 1}, {3, 1}, {0, 2}, {1, 2}};
    HwCount hw;
    hw.Reset(4);
    for (uint32_t k = 0; k < 10; ++k) {
        const uint32_t status = (trace[k][1] << 16) | trace[k][0];
        EXPECT_EQ(hw.Update(status), k) << "pop " << (k + 1) << ": loop_status " << Hex(status);
    }
}

TEST(HwCount, OtherRingSizesWrapAtTwoToTheSixteenLoops) {
    for (uint32_t ring : {2u, 4u, 64u, 512u, 4096u}) {
        HwCount hw;
        hw.Reset(ring);
        const uint64_t modulus = 65536ull * ring;
        // Last position before the 16-bit loop counter wraps, then the wrap.
        EXPECT_EQ(hw.Update((0xFFFFu << 16) | (ring - 1)), modulus - 1) << "ring " << ring;
        EXPECT_EQ(hw.Update(0x00000000u), modulus) << "ring " << ring << ": count wrap must add 2^16 * N";
        EXPECT_EQ(hw.Update(0x00010000u | 1u), modulus + ring + 1) << "ring " << ring;
    }
}

TEST(HwCount, ZeroRingSizeIsTreatedAsOne) {
    HwCount hw;
    hw.Reset(0);
    EXPECT_EQ(hw.Update(0x00030000u), 3u);
}

TEST(HwCount, MonotonicAcrossSeveralWraps) {
    for (uint32_t ring : {256u, 16u}) {
        HwCount hw;
        hw.Reset(ring);
        const uint64_t modulus = 65536ull * ring;
        const uint64_t step = modulus / 7 + 13; // less than one wrap period per interrupt
        uint64_t previous = 0;
        for (uint64_t k = 0; k < 4 * modulus; k += step) {
            const uint64_t got = hw.Update(LoopStatusFor(k, ring));
            ASSERT_EQ(got, k) << "ring " << ring << ", loop_status " << Hex(LoopStatusFor(k, ring));
            ASSERT_GE(got, previous) << "hw_count went backwards";
            previous = got;
        }
    }
}

TEST(HwCount, RepeatedReadingDoesNotAdvance) {
    HwCount hw;
    hw.Reset(256);
    EXPECT_EQ(hw.Update(0x00020040u), 2u * 256 + 64);
    EXPECT_EQ(hw.Update(0x00020040u), 2u * 256 + 64) << "the same loop_status twice is not a wrap";
}

TEST(HwCount, LoopStatusFormulaForFullRange) {
    // count*N + index is taken modulo 2^16*N even when index is out of range for N.
    HwCount hw;
    hw.Reset(256);
    EXPECT_EQ(hw.Update(0x0000FFFFu), 0xFFFFu);
}

} // namespace
