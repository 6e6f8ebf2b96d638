// Every validation rule of the method table at its boundaries (docs/dext-design.md#method-table).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "FakeDevice.hpp"
#include "lpc/Validation.hpp"

namespace {

using namespace lpc::validation;
using namespace lpc_test;

constexpr uint64_t kMax = UINT64_MAX;

// ---- RegisterOffsetValid ----------------------------------------------------------------------

TEST(Validation, RegisterOffsetValidAcceptsFirstAndLastWord) {
    EXPECT_TRUE(RegisterOffsetValid(0, 4)) << "offset 0 of a 4-byte region";
    EXPECT_TRUE(RegisterOffsetValid(0, kMiB)) << "offset 0 of a 1 MiB BAR0";
    EXPECT_TRUE(RegisterOffsetValid(kMiB - 4, kMiB)) << "offset BAR0size-4 (0xFFFFC)";
    EXPECT_TRUE(RegisterOffsetValid(0xFFC, LPC_CONFIG_SPACE_BYTES)) << "last config dword 0xFFC";
}

TEST(Validation, RegisterOffsetValidRefusesPastTheEndAndMisaligned) {
    EXPECT_FALSE(RegisterOffsetValid(kMiB - 3, kMiB)) << "offset BAR0size-3 (misaligned and past the last word)";
    EXPECT_FALSE(RegisterOffsetValid(kMiB - 2, kMiB));
    EXPECT_FALSE(RegisterOffsetValid(kMiB, kMiB)) << "offset BAR0size";
    EXPECT_FALSE(RegisterOffsetValid(kMiB + 4, kMiB));
    EXPECT_FALSE(RegisterOffsetValid(2, kMiB)) << "offset 2 is not 4-aligned";
    EXPECT_FALSE(RegisterOffsetValid(1, kMiB));
    EXPECT_FALSE(RegisterOffsetValid(0x1000, LPC_CONFIG_SPACE_BYTES)) << "config offset 0x1000";
}

TEST(Validation, RegisterOffsetValidRegionsSmallerThanOneWord) {
    for (uint64_t size = 0; size < 4; ++size) {
        EXPECT_FALSE(RegisterOffsetValid(0, size)) << "a region of " << size << " bytes holds no 32-bit register";
    }
    EXPECT_TRUE(RegisterOffsetValid(0, 4));
    EXPECT_FALSE(RegisterOffsetValid(4, 4));
    EXPECT_TRUE(RegisterOffsetValid(4, 8));
}

TEST(Validation, RegisterOffsetValidNearUint64MaxDoesNotOverflow) {
    EXPECT_FALSE(RegisterOffsetValid(kMax - 3, kMiB)) << "2^64-4: offset + 4 would wrap to 0";
    EXPECT_FALSE(RegisterOffsetValid(kMax - 3, 0)) << "2^64-4 with an empty region";
    EXPECT_FALSE(RegisterOffsetValid(kMax - 3, 3));
    EXPECT_FALSE(RegisterOffsetValid(kMax - 3, kMax)) << "2^64-4 in a 2^64-1 region: last word starts at 2^64-5";
    EXPECT_TRUE(RegisterOffsetValid(kMax - 7, kMax)) << "2^64-8 in a 2^64-1 region";
}

// ---- FitsU32, channel, direction --------------------------------------------------------------

TEST(Validation, FitsU32) {
    EXPECT_TRUE(FitsU32(0));
    EXPECT_TRUE(FitsU32(0xFFFFFFFFull));
    EXPECT_FALSE(FitsU32(0x100000000ull));
    EXPECT_FALSE(FitsU32(kMax));
}

TEST(Validation, ChannelValid) {
    EXPECT_TRUE(ChannelValid(0, 2));
    EXPECT_TRUE(ChannelValid(1, 2));
    EXPECT_FALSE(ChannelValid(2, 2)) << "channel == dma_channels";
    EXPECT_FALSE(ChannelValid(0, 0)) << "no channels at all";
    EXPECT_TRUE(ChannelValid(15, 16));
    EXPECT_FALSE(ChannelValid(16, 16));
    EXPECT_FALSE(ChannelValid(0x100000000ull, 2)) << "2^32 must not be truncated to channel 0";
    EXPECT_FALSE(ChannelValid(kMax, 2));
}

TEST(Validation, DirectionValid) {
    EXPECT_TRUE(DirectionValid(kLpcDirWriter));
    EXPECT_TRUE(DirectionValid(kLpcDirReader));
    EXPECT_FALSE(DirectionValid(2));
    EXPECT_FALSE(DirectionValid(0x100000000ull)) << "2^32 must not be truncated to writer";
    EXPECT_FALSE(DirectionValid(kMax));
}

// ---- IrqEvery, flags, timeout -----------------------------------------------------------------

TEST(Validation, IrqEveryBounds) {
    const uint32_t n = 256;
    EXPECT_FALSE(IrqEveryValid(0, n)) << "irqEvery 0 (would divide by zero in DescriptorControl)";
    EXPECT_TRUE(IrqEveryValid(1, n));
    EXPECT_TRUE(IrqEveryValid(n / 2, n)) << "irqEvery N/2 = 128";
    EXPECT_FALSE(IrqEveryValid(n / 2 + 1, n)) << "irqEvery N/2+1 = 129";
    EXPECT_FALSE(IrqEveryValid(0x100000001ull, n)) << "2^32+1 must not be truncated to 1";
    EXPECT_FALSE(IrqEveryValid(kMax, n));
    EXPECT_TRUE(IrqEveryValid(1, 2)) << "smallest ring: irqEvery 1 only";
    EXPECT_FALSE(IrqEveryValid(2, 2));
    EXPECT_TRUE(IrqEveryValid(2048, 4096));
    EXPECT_FALSE(IrqEveryValid(2049, 4096));
}

TEST(Validation, StartFlags) {
    EXPECT_TRUE(StartFlagsValid(0));
    EXPECT_TRUE(StartFlagsValid(LPC_START_LOOPBACK));
    EXPECT_TRUE(StartFlagsValid(LPC_START_IRQ_MASKED));
    EXPECT_TRUE(StartFlagsValid(LPC_START_LOOPBACK | LPC_START_IRQ_MASKED));
    EXPECT_FALSE(StartFlagsValid(4));
    EXPECT_FALSE(StartFlagsValid(0x100000000ull | LPC_START_LOOPBACK)) << "stray bit 32";
    EXPECT_FALSE(StartFlagsValid(1ull << 63));
}

TEST(Validation, TimeoutBounds) {
    EXPECT_FALSE(TimeoutValid(0)) << "timeoutMs 0";
    EXPECT_TRUE(TimeoutValid(1));
    EXPECT_TRUE(TimeoutValid(60000)) << "timeoutMs 60000 (LPC_MAX_WAIT_MS)";
    EXPECT_FALSE(TimeoutValid(60001));
    EXPECT_FALSE(TimeoutValid(kMax));
}

// ---- CheckSwCount -----------------------------------------------------------------------------

TEST(Validation, CheckSwCountWriter) {
    const uint32_t n = 256;
    EXPECT_EQ(CheckSwCount(kLpcDirWriter, 99, 100, 500, n), SwCountProblem::Backwards) << "writer swCount below previous ack";
    EXPECT_EQ(CheckSwCount(kLpcDirWriter, 501, 100, 500, n), SwCountProblem::AheadOfHardware) << "writer consumed past hw";
    EXPECT_EQ(CheckSwCount(kLpcDirWriter, 500 + n + 1, 100, 500, n), SwCountProblem::AheadOfHardware)
        << "a writer far ahead is AheadOfHardware, never TooFarAhead";
    EXPECT_EQ(CheckSwCount(kLpcDirWriter, 500, 100, 500, n), SwCountProblem::None) << "writer sw == hw";
    EXPECT_EQ(CheckSwCount(kLpcDirWriter, 100, 100, 500, n), SwCountProblem::None) << "writer sw == previous";
    EXPECT_EQ(CheckSwCount(kLpcDirWriter, 0, 0, 0, n), SwCountProblem::None);
}

TEST(Validation, CheckSwCountReader) {
    const uint32_t n = 256;
    EXPECT_EQ(CheckSwCount(kLpcDirReader, 99, 100, 500, n), SwCountProblem::Backwards) << "reader swCount below previous ack";
    EXPECT_EQ(CheckSwCount(kLpcDirReader, 500 + n + 1, 100, 500, n), SwCountProblem::TooFarAhead) << "reader > hw + bufferCount";
    EXPECT_EQ(CheckSwCount(kLpcDirReader, 500 + n, 100, 500, n), SwCountProblem::None) << "reader == hw + bufferCount";
    EXPECT_EQ(CheckSwCount(kLpcDirReader, 501, 100, 500, n), SwCountProblem::None)
        << "a reader ahead of hw is normal (it produces), never AheadOfHardware";
    EXPECT_EQ(CheckSwCount(kLpcDirReader, n, 0, 0, n), SwCountProblem::None) << "reader may fill the whole ring before start";
    EXPECT_EQ(CheckSwCount(kLpcDirReader, n + 1, 0, 0, n), SwCountProblem::TooFarAhead);
}

// ---- IsDriverOwned ----------------------------------------------------------------------------

TEST(Validation, IsDriverOwnedEveryEngineRegister) {
    const LpcBoardLayout l = MakeLayout();
    for (uint32_t c = 0; c < 2; ++c) {
        for (uint32_t d = 0; d < 2; ++d) {
            for (uint32_t reg : {kRegEnable, kRegTableValue, kRegTableValue + 4, kRegTableWe, kRegLoopProgN, kRegLoopStatus, kRegLevel,
                                 kRegTableReset}) {
                const uint32_t off = EngineReg(c, d, reg);
                EXPECT_TRUE(IsDriverOwned(l, off)) << RegisterName(l, off) << " must be driver-owned";
            }
        }
        EXPECT_TRUE(IsDriverOwned(l, DmaBlock(c) + kLoopbackOffset)) << RegisterName(l, DmaBlock(c) + kLoopbackOffset);
    }
}

TEST(Validation, IsDriverOwnedMsiAndCtrlReset) {
    const LpcBoardLayout l = MakeLayout();
    EXPECT_TRUE(IsDriverOwned(l, kMsiEnable)) << "pcie_msi_enable";
    EXPECT_TRUE(IsDriverOwned(l, kMsiClear)) << "pcie_msi_clear";
    EXPECT_TRUE(IsDriverOwned(l, kCtrlReset)) << "ctrl_reset";
}

TEST(Validation, IsDriverOwnedBothMsiEnableWordsAndMsixTableEnds) {
    const LpcBoardLayout l = MakeLayout(MsiXOptions(64));
    ASSERT_EQ(l.msiEnableWords, 2u);
    EXPECT_TRUE(IsDriverOwned(l, kMsiEnable)) << "pcie_msi_enable[63:32] (0x1800)";
    EXPECT_TRUE(IsDriverOwned(l, kMsiEnable + 4)) << "pcie_msi_enable[31:0] (0x1804)";
    EXPECT_TRUE(IsDriverOwned(l, kMsixTable)) << "first word of pcie_msi_table (0x2000)";
    EXPECT_TRUE(IsDriverOwned(l, kMsixTable + 64 * 16 - 4)) << "last word of pcie_msi_table (0x23FC)";
    EXPECT_FALSE(IsDriverOwned(l, kMsixTable + 64 * 16)) << "0x2400, just past the MSI-X table";
    EXPECT_FALSE(IsDriverOwned(l, kMsixTable - 4)) << "0x1FFC, just before the MSI-X table";
    EXPECT_FALSE(IsDriverOwned(l, kMsiPba)) << "pcie_msi_pba is read-only, not a driver-owned write target";

    const LpcBoardLayout l32 = MakeLayout(MsiXOptions(32));
    ASSERT_EQ(l32.msiEnableWords, 1u);
    EXPECT_TRUE(IsDriverOwned(l32, kMsiEnable));
    EXPECT_FALSE(IsDriverOwned(l32, kMsiEnable + 4)) << "reserved0 after a single MSI-X enable word";
    EXPECT_TRUE(IsDriverOwned(l32, kMsixTable + 32 * 16 - 4)) << "last word of a 32-entry MSI-X table (0x21FC)";
    EXPECT_FALSE(IsDriverOwned(l32, kMsixTable + 32 * 16)) << "0x2200, past a 32-entry MSI-X table";
}

TEST(Validation, IsDriverOwnedNotForScratchSynchronizerOrIdentifier) {
    const LpcBoardLayout l = MakeLayout();
    EXPECT_FALSE(IsDriverOwned(l, kCtrlScratch)) << "ctrl_scratch is the client's";
    EXPECT_FALSE(IsDriverOwned(l, kCtrlBusErrors));
    EXPECT_FALSE(IsDriverOwned(l, DmaBlock(0) + kSynchronizerBypassOffset)) << "pcie_dma0_synchronizer_bypass";
    EXPECT_FALSE(IsDriverOwned(l, DmaBlock(1) + kSynchronizerBypassOffset + 4)) << "pcie_dma1_synchronizer_enable";
    EXPECT_FALSE(IsDriverOwned(l, kIdentifierBase));
    EXPECT_FALSE(IsDriverOwned(l, kMsiVector)) << "pcie_msi_vector is read-only";
    EXPECT_FALSE(IsDriverOwned(l, DmaBlock(2))) << "no third channel in a 2-channel design";
}

TEST(Validation, IsDriverOwnedWithoutLoopbackOrCtrlReset) {
    LayoutOptions o = NoLoopbackOptions();
    o.ctrlReset = false;
    const LpcBoardLayout l = MakeLayout(o);
    EXPECT_FALSE(IsDriverOwned(l, DmaBlock(0) + kLoopbackOffset)) << "+0x40 is buffering_reader_fifo_control without loopback";
    EXPECT_FALSE(IsDriverOwned(l, kCtrlReset)) << "no ctrl_reset in this layout";
}

TEST(Validation, IsDriverOwnedMatchesTheRegisterListOfEveryVariant) {
    LayoutOptions sixteen;
    sixteen.channelCount = 16;
    LayoutOptions bare = NoLoopbackOptions();
    bare.ctrlReset = false;
    for (const LayoutOptions& o : {StandaloneOptions(), NoLoopbackOptions(), MsiXOptions(32), MsiXOptions(64), MultiVectorOptions(), sixteen, bare}) {
        const LpcBoardLayout l = MakeLayout(o);
        size_t owned = 0;
        for (uint64_t off = 0; off < 0x10000; off += 4) { // CsrWrite32 refuses misaligned offsets first
            const bool expected = DriverOwnedRegister(l, off);
            ASSERT_EQ(IsDriverOwned(l, off), expected) << RegisterName(l, off) << " (flavour " << o.msiFlavour << ", " << o.channelCount << " channels)";
            owned += expected ? 1u : 0u;
        }
        EXPECT_GT(owned, 16u * o.channelCount);
        EXPECT_FALSE(IsDriverOwned(l, 0x100000000ull + kCtrlReset)) << "an offset above 4 GiB must not alias ctrl_reset";
        EXPECT_FALSE(IsDriverOwned(l, 0x100000000ull + kMsiEnable)) << "an offset above 4 GiB must not alias pcie_msi_enable";
    }
}

// ---- DecodeMemoryType -------------------------------------------------------------------------

TEST(Validation, DecodeMemoryType) {
    uint32_t kind = 99, channel = 99;
    EXPECT_TRUE(DecodeMemoryType(LPC_MEMORY_TYPE(kLpcMemStatus, 0), 2, &kind, &channel));
    EXPECT_EQ(kind, uint32_t{kLpcMemStatus});
    EXPECT_EQ(channel, 0u);
    EXPECT_TRUE(DecodeMemoryType(LPC_MEMORY_TYPE(kLpcMemWriterRing, 1), 2, &kind, &channel));
    EXPECT_EQ(kind, uint32_t{kLpcMemWriterRing});
    EXPECT_EQ(channel, 1u);
    EXPECT_TRUE(DecodeMemoryType(LPC_MEMORY_TYPE(kLpcMemReaderRing, 0), 2, &kind, &channel));
    EXPECT_EQ(kind, uint32_t{kLpcMemReaderRing});

    kind = channel = 77;
    EXPECT_FALSE(DecodeMemoryType(LPC_MEMORY_TYPE(kLpcMemStatus, 1), 2, &kind, &channel)) << "status page with channel 1";
    EXPECT_FALSE(DecodeMemoryType(LPC_MEMORY_TYPE(kLpcMemWriterRing, 2), 2, &kind, &channel)) << "writer ring of channel 2 of 2";
    EXPECT_FALSE(DecodeMemoryType(LPC_MEMORY_TYPE(kLpcMemReaderRing, 0xFF), 2, &kind, &channel));
    EXPECT_FALSE(DecodeMemoryType(LPC_MEMORY_TYPE(0, 0), 2, &kind, &channel)) << "kind 0";
    EXPECT_FALSE(DecodeMemoryType(LPC_MEMORY_TYPE(4, 0), 2, &kind, &channel)) << "unknown kind 4";
    EXPECT_FALSE(DecodeMemoryType(LPC_MEMORY_TYPE(0xFF, 0), 2, &kind, &channel));
    EXPECT_FALSE(DecodeMemoryType(LPC_MEMORY_TYPE(kLpcMemStatus, 0) | (1ull << 16), 2, &kind, &channel)) << "stray bit 16";
    EXPECT_FALSE(DecodeMemoryType(LPC_MEMORY_TYPE(kLpcMemWriterRing, 0) | (1ull << 63), 2, &kind, &channel)) << "stray bit 63";
    EXPECT_FALSE(DecodeMemoryType(LPC_MEMORY_TYPE(kLpcMemWriterRing, 0), 0, &kind, &channel)) << "no channels";
    EXPECT_EQ(kind, 77u) << "outputs untouched on refusal";
    EXPECT_EQ(channel, 77u);
}

// ---- CheckLayout ------------------------------------------------------------------------------

std::string Problem(const LpcBoardLayout& l) {
    const char* p = CheckLayout(l);
    return p == nullptr ? std::string("(accepted)") : std::string(p);
}

TEST(CheckLayout, AcceptsEveryFakeVariant) {
    EXPECT_EQ(Problem(MakeLayout(StandaloneOptions())), "(accepted)");
    EXPECT_EQ(Problem(MakeLayout(NoLoopbackOptions())), "(accepted)");
    EXPECT_EQ(Problem(MakeLayout(MsiXOptions(32))), "(accepted)");
    EXPECT_EQ(Problem(MakeLayout(MsiXOptions(64))), "(accepted)");
    EXPECT_EQ(Problem(MakeLayout(MultiVectorOptions())), "(accepted)");
    EXPECT_EQ(Problem(MakeLayout(Dma64Options())), "(accepted)");
    LayoutOptions sixteen;
    sixteen.channelCount = 16;
    EXPECT_EQ(Problem(MakeLayout(sixteen)), "(accepted)") << "16 channels use MSI bits 0..31";
    LayoutOptions geometry;
    geometry.bufferCount = 2;
    geometry.bufferSize = 4;
    EXPECT_EQ(Problem(MakeLayout(geometry)), "(accepted)") << "smallest geometry 2 x 4 bytes";
    geometry.bufferCount = LPC_MAX_BUFFER_COUNT;
    geometry.bufferSize = LPC_MAX_BUFFER_SIZE;
    EXPECT_EQ(Problem(MakeLayout(geometry)), "(accepted)") << "largest geometry 4096 x 8 MiB";
    LayoutOptions smallBar;
    smallBar.bar0Size = 0x10000;
    EXPECT_EQ(Problem(MakeLayout(smallBar)), "(accepted)") << "64 KiB CSR BAR";
}

TEST(CheckLayout, Magic) {
    LpcBoardLayout l = MakeLayout();
    l.magic = 0;
    EXPECT_EQ(Problem(l), "layout magic is not 'LPCL'");
}

TEST(CheckLayout, AbiMajor) {
    LpcBoardLayout l = MakeLayout();
    l.abiMajor = LPC_ABI_MAJOR + 1;
    EXPECT_EQ(Problem(l), "layout ABI major version differs from the core's");
    l = MakeLayout();
    l.abiMinor = LPC_ABI_MINOR + 1;
    EXPECT_EQ(Problem(l), "(accepted)") << "a newer minor version is compatible";
}

TEST(CheckLayout, ChannelCount) {
    LpcBoardLayout l = MakeLayout();
    l.channelCount = LPC_MAX_CHANNELS + 1;
    EXPECT_EQ(Problem(l), "channelCount exceeds 16");
}

TEST(CheckLayout, MsiFlavour) {
    LpcBoardLayout l = MakeLayout();
    l.msiFlavour = kLpcMsiX + 1;
    EXPECT_EQ(Problem(l), "msiFlavour is not single, multi-vector or MSI-X");
}

TEST(CheckLayout, MsiEnableWords) {
    for (uint32_t words : {0u, 3u}) {
        LpcBoardLayout l = MakeLayout();
        l.msiEnableWords = words;
        EXPECT_EQ(Problem(l), "msiEnableWords is not 1 or 2") << words << " words";
    }
}

TEST(CheckLayout, DmaAddressWidth) {
    for (uint32_t width : {0u, 31u, 48u, 65u}) {
        LpcBoardLayout l = MakeLayout();
        l.dmaAddressWidth = width;
        EXPECT_EQ(Problem(l), "dmaAddressWidth is not 32 or 64") << width << " bits";
    }
}

TEST(CheckLayout, BufferCount) {
    for (uint32_t count : {0u, 1u, 3u, 255u, 8192u}) {
        LpcBoardLayout l = MakeLayout();
        l.bufferCount = count;
        EXPECT_EQ(Problem(l), "bufferCount is not a power of two in 2..4096") << "bufferCount " << count;
    }
}

TEST(CheckLayout, BufferSize) {
    for (uint32_t size : {0u, 2u, 6u, 8190u, LPC_MAX_BUFFER_SIZE + 4}) {
        LpcBoardLayout l = MakeLayout();
        l.bufferSize = size;
        EXPECT_EQ(Problem(l), "bufferSize is not a multiple of 4 in 4..8 MiB") << "bufferSize " << size;
    }
}

TEST(CheckLayout, CsrBar) {
    LpcBoardLayout l = MakeLayout();
    l.csrBar = 6;
    EXPECT_EQ(Problem(l), "csrBar is not 0..5");
}

TEST(CheckLayout, CsrBarTooSmall) {
    LpcBoardLayout l = MakeLayout();
    l.barSizes[0] = 4095;
    EXPECT_EQ(Problem(l), "the CSR BAR is smaller than 4 KiB");
    l.csrBar = 1; // an unimplemented BAR
    l.barSizes[0] = kMiB;
    EXPECT_EQ(Problem(l), "the CSR BAR is smaller than 4 KiB") << "csrBar pointing at an unimplemented BAR";
}

// Regression (was a bug in Validation.cpp, CheckLayout, the msiEnableWords check): two enable words are accepted for any
// MSI flavour. With single MSI (enable 0x1800, clear 0x1804) Core::WriteMsiEnable then writes bits
// 63:32 to pcie_msi_enable and bits 31:0 — the DMA interrupt bits — to 0x1804 = pcie_msi_clear, so
// no DMA interrupt is ever enabled. Fixed: CheckLayout
// requires msiEnableWords == 1 unless msiFlavour == kLpcMsiX.
TEST(CheckLayout, TwoEnableWordsOnlyForMsiX) {
    LpcBoardLayout l = MakeLayout();
    l.msiEnableWords = 2;
    EXPECT_NE(Problem(l), "(accepted)") << "single MSI with two enable words: pcie_msi_enable[31:0] would be pcie_msi_clear (0x1804)";
    l = MakeLayout(MultiVectorOptions());
    l.msiEnableWords = 2;
    EXPECT_NE(Problem(l), "(accepted)") << "multi-vector MSI has a 32-bit enable register";
}

TEST(CheckLayout, MsiEnableScratchOrIdentifierOutsideBar) {
    const char* expected = "MSI enable, scratch or identifier offset outside the CSR BAR";
    LpcBoardLayout l = MakeLayout();
    l.msiEnable = kMiB;
    EXPECT_EQ(Problem(l), expected) << "pcie_msi_enable at BAR0size";
    l = MakeLayout(MsiXOptions(64));
    l.msiEnable = kMiB - 4; // 2 words need 8 bytes
    EXPECT_EQ(Problem(l), expected) << "two MSI enable words starting at BAR0size-4";
    l = MakeLayout();
    l.ctrlScratch = LPC_NO_REGISTER;
    EXPECT_EQ(Problem(l), expected) << "ctrl_scratch missing";
    l = MakeLayout();
    l.ctrlScratch = 0x6;
    EXPECT_EQ(Problem(l), expected) << "ctrl_scratch misaligned";
    l = MakeLayout();
    l.identifierBase = kMiB - 4 * LPC_IDENTIFIER_BYTES + 4;
    EXPECT_EQ(Problem(l), expected) << "identifier ROM (256 words) crossing the end of BAR0";
    l.identifierBase = kMiB - 4 * LPC_IDENTIFIER_BYTES;
    EXPECT_EQ(Problem(l), "(accepted)") << "identifier ROM ending exactly at BAR0size";
}

TEST(CheckLayout, SingleMsiNeedsClearAndVector) {
    const char* expected = "single MSI needs clear and vector registers inside the CSR BAR";
    LpcBoardLayout l = MakeLayout();
    l.msiClear = LPC_NO_REGISTER;
    EXPECT_EQ(Problem(l), expected) << "no pcie_msi_clear";
    l = MakeLayout();
    l.msiVector = kMiB;
    EXPECT_EQ(Problem(l), expected) << "pcie_msi_vector at BAR0size";
    l = MakeLayout(MultiVectorOptions());
    EXPECT_EQ(Problem(l), "(accepted)") << "multi-vector MSI has no clear/vector";
}

TEST(CheckLayout, MsixTableOutsideBar) {
    LpcBoardLayout l = MakeLayout(MsiXOptions(64));
    l.msixTable = LPC_NO_REGISTER;
    EXPECT_EQ(Problem(l), "MSI-X table outside the CSR BAR");
    l = MakeLayout(MsiXOptions(64));
    l.msixTable = static_cast<uint32_t>(kMiB - 64 * 16 + 4);
    EXPECT_EQ(Problem(l), "MSI-X table outside the CSR BAR") << "table crossing the end of BAR0";
}

TEST(CheckLayout, CtrlRegisterOutsideBar) {
    LpcBoardLayout l = MakeLayout();
    l.ctrlReset = kMiB;
    EXPECT_EQ(Problem(l), "ctrl register outside the CSR BAR") << "ctrl_reset";
    l = MakeLayout();
    l.ctrlBusErrors = 0xA;
    EXPECT_EQ(Problem(l), "ctrl register outside the CSR BAR") << "ctrl_bus_errors misaligned";
    l = MakeLayout();
    l.ctrlReset = LPC_NO_REGISTER;
    l.ctrlBusErrors = LPC_NO_REGISTER;
    EXPECT_EQ(Problem(l), "(accepted)") << "both ctrl registers are optional";
}

TEST(CheckLayout, EngineRegisterOutsideBar) {
    const char* expected = "DMA engine register outside the CSR BAR";
    LpcBoardLayout l = MakeLayout();
    l.channels[1].reader.tableReset = kMiB;
    EXPECT_EQ(Problem(l), expected) << "pcie_dma1_reader_table_reset at BAR0size";
    l = MakeLayout();
    l.channels[0].writer.tableValue = kMiB - 4; // its low word would be at BAR0size
    EXPECT_EQ(Problem(l), expected) << "table_value low word past the end";
    l = MakeLayout();
    l.channels[0].writer.loopStatus = LPC_NO_REGISTER;
    EXPECT_EQ(Problem(l), expected) << "missing loop_status";
    l = MakeLayout();
    l.channels[0].writer.enable = 0x4002;
    EXPECT_EQ(Problem(l), expected) << "misaligned enable";
}

// Regression (was a bug in Validation.cpp, CheckLayout, the `e->tableValue + 4` check): the sum is computed in 32 bits,
// so tableValue = 0xFFFFFFFC wraps to 0, passes as "inside BAR0", and DmaStart then writes
// table_value at 0xFFFFFFFC, far beyond the 1 MiB BAR. Fixed: CheckLayout checks
// the 8-byte table_value as one region.
TEST(CheckLayout, TableValueNearTwoToThe32IsRefused) {
    LpcBoardLayout l = MakeLayout();
    l.channels[0].writer.tableValue = 0xFFFFFFFCu;
    EXPECT_EQ(Problem(l), "DMA engine register outside the CSR BAR")
        << "pcie_dma0_writer_table_value at 0xFFFFFFFC is outside a 1 MiB BAR0";
}

TEST(CheckLayout, LoopbackOutsideBar) {
    LpcBoardLayout l = MakeLayout();
    l.channels[1].loopbackEnable = kMiB;
    EXPECT_EQ(Problem(l), "loopback_enable outside the CSR BAR");
}

TEST(CheckLayout, LoopbackFeatureDisagrees) {
    LpcBoardLayout l = MakeLayout();
    l.channels[0].features &= ~LPC_FEATURE_LOOPBACK;
    EXPECT_EQ(Problem(l), "loopback feature flag disagrees with the loopback register") << "register without the feature";
    l = MakeLayout(NoLoopbackOptions());
    l.channels[1].features |= LPC_FEATURE_LOOPBACK;
    EXPECT_EQ(Problem(l), "loopback feature flag disagrees with the loopback register") << "feature without the register";
}

TEST(CheckLayout, InterruptBitOutsideOrShared) {
    const char* expected = "DMA interrupt bit outside the MSI enable register, or writer and reader share a bit";
    LpcBoardLayout l = MakeLayout();
    l.channels[0].writerIrq = 32;
    EXPECT_EQ(Problem(l), expected) << "writer interrupt 32 with one 32-bit enable word";
    l = MakeLayout();
    l.channels[1].readerIrq = l.channels[1].writerIrq;
    EXPECT_EQ(Problem(l), expected) << "dma1 reader and writer on the same bit";
    l = MakeLayout(MsiXOptions(64));
    l.channels[0].writerIrq = 63;
    EXPECT_EQ(Problem(l), "(accepted)") << "bit 63 with two MSI-X enable words";
    l.channels[0].writerIrq = 64;
    EXPECT_EQ(Problem(l), expected) << "bit 64 with two MSI-X enable words";
}

TEST(CheckLayout, TwoChannelsShareAnInterruptBit) {
    LpcBoardLayout l = MakeLayout();
    l.channels[1].readerIrq = l.channels[0].writerIrq;
    EXPECT_EQ(Problem(l), "two channels share a DMA interrupt bit");
}

// Regression (was a bug in Validation.cpp, CheckLayout, `if (width == 32 && (irqs & bits) != 0)`): the cross-channel
// check is skipped entirely with two MSI enable words (MSI-X, 64 vectors), so two channels can share
// a bit; the interrupt handler then reads both channels' loop_status for one message. Fixed: the
// check uses a 64-bit mask for both widths.
TEST(CheckLayout, TwoChannelsShareABitWithTwoEnableWords) {
    LpcBoardLayout l = MakeLayout(MsiXOptions(64));
    l.channels[1].writerIrq = l.channels[0].writerIrq;
    EXPECT_EQ(Problem(l), "two channels share a DMA interrupt bit");
}

// ---- the dispatch table -----------------------------------------------------------------------

TEST(Validation, ShapeOfEverySelector) {
    struct Expected {
        uint32_t selector;
        MethodShape shape;
    };
    const Expected table[] = {
        {kLpcGetInfo, {0, 0, 0, sizeof(LpcInfo), 0}},
        {kLpcCsrRead32, {1, 0, 1, 0, 0}},
        {kLpcCsrWrite32, {2, 0, 0, 0, 0}},
        {kLpcBarRead32, {2, 0, 1, 0, 0}},
        {kLpcBarWrite32, {3, 0, 0, 0, 0}},
        {kLpcConfigRead32, {1, 0, 1, 0, 0}},
        {kLpcDmaStart, {4, 0, 1, 0, 0}},
        {kLpcDmaStop, {2, 0, 0, 0, 0}},
        {kLpcUpdateSwCount, {3, 0, 1, 0, 0}},
        {kLpcWaitBuffers, {4, 0, 0, 0, 1}},
        {kLpcSetLoopback, {2, 0, 0, 0, 0}},
        {kLpcReset, {1, 0, 1, 0, 0}},
        {kLpcGetDirStatus, {2, 0, 0, sizeof(LpcDirStatus), 0}},
        {kLpcGetLastError, {0, 0, 0, sizeof(LpcErrorInfo), 0}},
    };
    static_assert(sizeof table / sizeof table[0] == kLpcMethodCount, "one row per selector");
    for (const Expected& e : table) {
        const MethodShape& s = Shape(e.selector);
        EXPECT_EQ(s.scalarIn, e.shape.scalarIn) << "selector " << e.selector << " scalar inputs";
        EXPECT_EQ(s.structIn, e.shape.structIn) << "selector " << e.selector << " struct input";
        EXPECT_EQ(s.scalarOut, e.shape.scalarOut) << "selector " << e.selector << " scalar outputs";
        EXPECT_EQ(s.structOut, e.shape.structOut) << "selector " << e.selector << " struct output";
        EXPECT_EQ(s.completion, e.shape.completion) << "selector " << e.selector << " completion";
    }
}

} // namespace
