// DMA start/stop sequences, the interrupt path, waits, software counts, loss accounting, device
// removal and power (docs/gateware.md#dma-engines,
// docs/linux-driver.md#start-and-stop-sequences and #hardware-and-software-counts, docs/dext-design.md).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "FakeDevice.hpp"
#include "lpc/Descriptor.hpp"

namespace {

using namespace lpc_test;

constexpr uint32_t W = kLpcDirWriter;
constexpr uint32_t R = kLpcDirReader;

class Dma : public ::testing::Test {
protected:
    Rig& Make(const LayoutOptions& o = LayoutOptions()) {
        rig_.reset(new Rig(o));
        return *rig_;
    }
    Rig& Up(const LayoutOptions& o = LayoutOptions()) {
        Rig& r = Make(o);
        EXPECT_TRUE(r.Up());
        return r;
    }
    void TearDown() override {
        if (rig_) {
            EXPECT_EQ(rig_->Finish(), "");
        }
    }
    std::unique_ptr<Rig> rig_;
};

std::string Message(const LpcErrorInfo& e) { return std::string(e.message, strnlen(e.message, sizeof e.message)); }

const char* DirName(uint32_t d) { return d == W ? "writer" : "reader"; }

/// Bus address of byte `offset` of a ring, walking its segments (independently of the core).
uint64_t BusOf(const lpc::DmaBuffer& ring, uint64_t offset) {
    uint64_t start = 0;
    for (uint32_t s = 0; s < ring.segmentCount; ++s) {
        if (offset < start + ring.segments[s].length) {
            return ring.segments[s].busAddress + (offset - start);
        }
        start += ring.segments[s].length;
    }
    return UINT64_MAX;
}

/// AllocateDma order at Start: channel 0 writer, channel 0 reader, channel 1 writer, ...
uint64_t RingIndex(uint32_t channel, uint32_t dir) { return channel * 2u + dir; }

using Write = std::pair<uint32_t, uint32_t>;

/// The start sequence (docs/linux-driver.md#start-and-stop-sequences) of (channel, dir), descriptor by descriptor.
std::vector<Write> StartSequence(Rig& r, uint32_t c, uint32_t d, uint32_t irqEvery, bool msi) {
    const LpcBoardLayout& l = r.layout;
    auto reg = [c, d](uint32_t x) { return EngineReg(c, d, x); };
    std::vector<Write> w = {{reg(kRegEnable), 0}, {reg(kRegTableReset), 1}, {reg(kRegLoopProgN), 0}};
    const lpc::DmaBuffer ring = r.dev.AllocatedBuffer(RingIndex(c, d));
    for (uint32_t i = 0; i < l.bufferCount; ++i) {
        const uint64_t bus = BusOf(ring, uint64_t{i} * l.bufferSize);
        const uint32_t control = l.bufferSize | (1u << 25) | (i % irqEvery != 0 ? (1u << 24) : 0u);
        w.push_back({reg(kRegTableValue), control});
        w.push_back({reg(kRegTableValue) + 4, static_cast<uint32_t>(bus)});
        w.push_back({reg(kRegTableWe), static_cast<uint32_t>(bus >> 32)});
    }
    w.push_back({reg(kRegLoopProgN), 1});
    // The source's MSI enable before the engine: an engine that completes at once must not raise its first
    // interrupts into a masked source (the gateware drops them).
    if (msi) {
        w.push_back({kMsiEnable, 1u << IrqOf(c, d)});
    }
    w.push_back({reg(kRegEnable), 1});
    return w;
}

std::string Where(size_t k) {
    if (k < 3) {
        return "setup write " + std::to_string(k);
    }
    const size_t i = (k - 3) / 3;
    static const char* word[] = {"table_value high word", "table_value low word", "table_we"};
    return "buffer index " + std::to_string(i) + " " + word[(k - 3) % 3];
}

void ExpectWrites(Rig& r, size_t mark, const std::vector<Write>& expected, bool descriptorNames = true) {
    const auto mmio = r.dev.MmioSince(mark);
    ASSERT_EQ(mmio.size(), expected.size()) << "MMIO count differs; first calls:\n" << r.dev.DescribeSince(mark).substr(0, 2000);
    for (size_t k = 0; k < expected.size(); ++k) {
        const std::string where = descriptorNames && k < expected.size() - 3 ? Where(k) : "write " + std::to_string(k);
        ASSERT_EQ(mmio[k].kind, CallKind::MmioWrite) << where << ": " << r.dev.Describe(mmio[k]);
        ASSERT_EQ(mmio[k].offset, expected[k].first)
            << where << ": wrote " << r.dev.Describe(mmio[k]) << ", expected " << RegisterName(r.layout, expected[k].first);
        ASSERT_EQ(mmio[k].value, expected[k].second) << where << ": " << RegisterName(r.layout, expected[k].first) << " <- "
                                                     << Hex(mmio[k].value) << ", expected " << Hex(expected[k].second);
    }
}

// ---- DmaStart -----------------------------------------------------------------------------------

TEST_F(Dma, StartChannel1WriterWritesExactlyTheSection63Sequence) {
    Rig& r = Up();
    const uint64_t gen = r.Info().generation;
    const size_t mark = r.dev.Mark();
    const CallResult res = r.Call(kLpcDmaStart, {1, W, 32, 0});
    ASSERT_EQ(res.status, LPC_RETURN_SUCCESS);
    EXPECT_EQ(res.Out(), gen + 1) << "DmaStart returns the new generation";
    ExpectWrites(r, mark, StartSequence(r, 1, W, 32, true));
    for (const PlatformCall& c : r.dev.MmioSince(mark)) {
        EXPECT_FALSE(c.offset >= DmaBlock(0) && c.offset < DmaBlock(1)) << "channel 1 start touched pcie_dma0: " << r.dev.Describe(c);
    }
    // The fake's table holds the ring, in loop mode, enabled.
    const auto table = r.dev.Table(1, W);
    ASSERT_EQ(table.size(), 256u) << "pcie_dma1_writer_table_level";
    EXPECT_EQ(r.dev.Reg(EngineReg(1, W, kRegLevel)), 256u);
    EXPECT_EQ(r.dev.Reg(EngineReg(1, W, kRegLoopProgN)), 1u);
    EXPECT_EQ(r.dev.Reg(EngineReg(1, W, kRegEnable)), 1u);
    EXPECT_EQ(r.dev.Table(0, W).size(), 0u) << "pcie_dma0 writer table must stay empty";
    const LpcDirStatus s = r.DirStatus(1, W);
    EXPECT_EQ(s.running, 1u);
    EXPECT_EQ(s.irqEvery, 32u);
    EXPECT_EQ(s.generation, gen + 1);
    EXPECT_EQ(r.Header()->generation, gen + 1);
}

TEST_F(Dma, WriterStartPoisonsItsRingAndReaderStartLeavesItsRingAlone) {
    Rig& r = Up();
    // What a previous stream left in both rings of channel 0.
    const lpc::DmaBuffer writerRing = r.dev.AllocatedBuffer(RingIndex(0, W));
    const lpc::DmaBuffer readerRing = r.dev.AllocatedBuffer(RingIndex(0, R));
    std::memset(writerRing.cpu, 0x5A, static_cast<size_t>(writerRing.length));
    std::memset(readerRing.cpu, 0x5A, static_cast<size_t>(readerRing.length));
    ASSERT_EQ(r.DmaStart(0, W, 32), LPC_RETURN_SUCCESS);
    ASSERT_EQ(r.DmaStart(0, R, 32), LPC_RETURN_SUCCESS);
    const auto* w = static_cast<const uint8_t*>(writerRing.cpu);
    for (uint64_t i = 0; i < writerRing.length; ++i) {
        ASSERT_EQ(w[i], 0xFF) << "writer ring byte " << i << " (buffer " << i / r.layout.bufferSize
                              << "): an earlier stream's data must never be readable as this stream's";
    }
    const auto* rd = static_cast<const uint8_t*>(readerRing.cpu);
    for (uint64_t i = 0; i < readerRing.length; ++i) {
        ASSERT_EQ(rd[i], 0x5A) << "reader ring byte " << i << ": the client's TX data is not the driver's to touch";
    }
}

TEST_F(Dma, StartChannel0ReaderUsesReaderRegistersAndBit0) {
    Rig& r = Up();
    const size_t mark = r.dev.Mark();
    ASSERT_EQ(r.DmaStart(0, R, 32), LPC_RETURN_SUCCESS);
    ExpectWrites(r, mark, StartSequence(r, 0, R, 32, true));
    EXPECT_EQ(r.dev.Reg(kMsiEnable), 1u) << "pcie_dma0_reader_interrupt is bit 0";
}

TEST_F(Dma, BothChannelsBothDirectionsAccumulateMsiBits) {
    Rig& r = Up();
    for (uint32_t c = 0; c < 2; ++c) {
        for (uint32_t d = 0; d < 2; ++d) {
            ASSERT_EQ(r.DmaStart(c, d, 32), LPC_RETURN_SUCCESS) << "pcie_dma" << c << " " << DirName(d);
        }
    }
    EXPECT_EQ(r.dev.Reg(kMsiEnable), 0xFu) << "bits 0..3 enabled";
    for (uint32_t c = 0; c < 2; ++c) {
        for (uint32_t d = 0; d < 2; ++d) {
            EXPECT_EQ(r.dev.Table(c, d).size(), 256u) << "pcie_dma" << c << " " << DirName(d) << " table level";
        }
    }
}

TEST_F(Dma, DescriptorsFollowAMultiSegmentRing) {
    Rig& r = Make();
    r.dev.Plan().segments = 4; // 4 x 512 KiB, buffer-aligned, not bus-contiguous
    ASSERT_TRUE(r.Up());
    ASSERT_EQ(r.DmaStart(0, W, 32), LPC_RETURN_SUCCESS);
    const lpc::DmaBuffer ring = r.dev.AllocatedBuffer(RingIndex(0, W));
    ASSERT_EQ(ring.segmentCount, 4u);
    const auto table = r.dev.Table(0, W);
    ASSERT_EQ(table.size(), 256u);
    for (uint32_t i = 0; i < 256; ++i) {
        const uint64_t bus = BusOf(ring, uint64_t{i} * 8192);
        EXPECT_EQ(table[i].lsb, static_cast<uint32_t>(bus)) << "buffer index " << i << " address lsb";
        EXPECT_EQ(table[i].msb, 0u) << "buffer index " << i << " address msb";
    }
    EXPECT_EQ(table[64].lsb, static_cast<uint32_t>(ring.segments[1].busAddress)) << "buffer 64 starts segment 1";
    EXPECT_NE(table[64].lsb, table[63].lsb + 8192) << "segments are not bus-contiguous in this test";
}

TEST_F(Dma, SixtyFourBitLayoutProgramsTheMsb) {
    Rig& r = Make(Dma64Options());
    r.dev.Plan().busBase = 0x340000000ull; // above 4 GiB
    ASSERT_TRUE(r.Up());
    for (const PlatformCall& c : r.dev.Calls()) {
        if (c.kind == CallKind::AllocateDma) {
            EXPECT_EQ(c.bar, 64u) << "rings allocated for 64-bit DMA addresses";
        }
    }
    const size_t mark = r.dev.Mark();
    ASSERT_EQ(r.DmaStart(1, R, 32), LPC_RETURN_SUCCESS);
    ExpectWrites(r, mark, StartSequence(r, 1, R, 32, true));
    const auto table = r.dev.Table(1, R);
    ASSERT_EQ(table.size(), 256u);
    const lpc::DmaBuffer ring = r.dev.AllocatedBuffer(RingIndex(1, R));
    for (uint32_t i = 0; i < 256; ++i) {
        const uint64_t bus = BusOf(ring, uint64_t{i} * 8192);
        ASSERT_EQ(table[i].msb, static_cast<uint32_t>(bus >> 32)) << "buffer index " << i << ": table_we must carry address bits 63:32";
        ASSERT_EQ(table[i].lsb, static_cast<uint32_t>(bus)) << "buffer index " << i;
    }
    EXPECT_EQ(table[0].msb, 3u);
}

TEST_F(Dma, OtherGeometry) {
    LayoutOptions o;
    o.bufferCount = 16;
    o.bufferSize = 4096;
    Rig& r = Up(o);
    const size_t mark = r.dev.Mark();
    ASSERT_EQ(r.DmaStart(0, W, 8), LPC_RETURN_SUCCESS);
    ExpectWrites(r, mark, StartSequence(r, 0, W, 8, true));
    EXPECT_EQ(r.DmaStart(1, W, 9), LPC_RETURN_BAD_ARGUMENT) << "irqEvery 9 > 16 / 2";
    EXPECT_NE(Message(r.LastError()).find("1..8"), std::string::npos) << Message(r.LastError());
}

TEST_F(Dma, IrqEveryBounds) {
    Rig& r = Up();
    for (uint64_t every : {uint64_t{0}, uint64_t{129}, uint64_t{256}, uint64_t{1} << 32, UINT64_MAX}) {
        const size_t mark = r.dev.Mark();
        EXPECT_EQ(r.DmaStart(0, W, every), LPC_RETURN_BAD_ARGUMENT) << "irqEvery " << every;
        EXPECT_EQ(r.dev.MmioSince(mark).size(), 0u) << "irqEvery " << every << " reached the device";
        const LpcErrorInfo e = r.LastError();
        EXPECT_EQ(e.argument, 2u);
        EXPECT_NE(Message(e).find("irqEvery"), std::string::npos) << Message(e);
        EXPECT_NE(Message(e).find("1..128"), std::string::npos) << Message(e);
    }
    for (uint32_t every : {1u, 128u}) {
        ASSERT_EQ(r.DmaStart(0, W, every), LPC_RETURN_SUCCESS) << "irqEvery " << every;
        const auto table = r.dev.Table(0, W);
        ASSERT_EQ(table.size(), 256u);
        for (uint32_t i = 0; i < 256; ++i) {
            const bool irq = (table[i].control & lpc::kDescIrqDisable) == 0;
            EXPECT_EQ(irq, i % every == 0) << "irqEvery " << every << ", buffer index " << i << " irq_disable";
            EXPECT_NE(table[i].control & lpc::kDescLastDisable, 0u) << "buffer index " << i << " last_disable";
            EXPECT_EQ(table[i].control & lpc::kDescLengthMask, 8192u) << "buffer index " << i << " length";
        }
        ASSERT_EQ(r.DmaStop(0, W), LPC_RETURN_SUCCESS);
    }
}

TEST_F(Dma, StartArgumentsValidated) {
    Rig& r = Up();
    struct Bad {
        std::vector<uint64_t> in;
        uint32_t argument;
        const char* what;
    };
    const Bad bad[] = {
        {{2, W, 32, 0}, 0, "channel 2 of 2"},
        {{1ull << 32, W, 32, 0}, 0, "channel 2^32"},
        {{0, 2, 32, 0}, 1, "direction 2"},
        {{0, W, 32, 4}, 3, "flags bit 2"},
        {{0, W, 32, 1ull << 40}, 3, "flags bit 40"},
    };
    for (const Bad& b : bad) {
        const size_t mark = r.dev.Mark();
        EXPECT_EQ(r.Call(kLpcDmaStart, b.in).status, LPC_RETURN_BAD_ARGUMENT) << b.what;
        EXPECT_EQ(r.LastError().argument, b.argument) << b.what;
        EXPECT_EQ(r.dev.MmioSince(mark).size(), 0u) << b.what;
    }
}

TEST_F(Dma, IrqMaskedLeavesMsiBitClear) {
    Rig& r = Up();
    const size_t mark = r.dev.Mark();
    ASSERT_EQ(r.DmaStart(0, W, 32, LPC_START_IRQ_MASKED), LPC_RETURN_SUCCESS);
    ExpectWrites(r, mark, StartSequence(r, 0, W, 32, false));
    EXPECT_FALSE(r.dev.WroteSince(mark, kMsiEnable)) << "pcie_msi_enable written for a masked start";
    EXPECT_EQ(r.dev.Reg(kMsiEnable), 0u);
    EXPECT_EQ(r.DirStatus(0, W).running, 1u);
    // A raised vector bit of a masked source is not serviced.
    r.dev.SetLoopStatus(0, W, 0x40);
    r.dev.RaiseVector(1u << IrqOf(0, W));
    r.core.Interrupt(0, 5);
    EXPECT_EQ(r.Header()->spuriousCount, 1u);
    EXPECT_EQ(r.DirStatus(0, W).hwCount, 0u) << "masked source counted from an interrupt";
    // Stopping a masked direction still clears its (already clear) bit first.
    const size_t stop = r.dev.Mark();
    ASSERT_EQ(r.DmaStop(0, W), LPC_RETURN_SUCCESS);
    EXPECT_EQ(r.dev.MmioWritesSince(stop).at(0).offset, kMsiEnable);
}

TEST_F(Dma, LoopbackFlagWritesLoopbackEnableFirst) {
    Rig& r = Up();
    const size_t mark = r.dev.Mark();
    ASSERT_EQ(r.DmaStart(1, R, 32, LPC_START_LOOPBACK), LPC_RETURN_SUCCESS);
    std::vector<Write> expected = {{DmaBlock(1) + kLoopbackOffset, 1}};
    for (const Write& w : StartSequence(r, 1, R, 32, true)) {
        expected.push_back(w);
    }
    ExpectWrites(r, mark, expected, false);
    EXPECT_EQ(r.dev.Reg(DmaBlock(1) + kLoopbackOffset), 1u) << "pcie_dma1_loopback_enable";
    EXPECT_EQ(r.dev.Reg(DmaBlock(0) + kLoopbackOffset), 0u) << "pcie_dma0_loopback_enable untouched";
}

TEST_F(Dma, LoopbackFlagWithoutLoopbackIsUnsupportedAndWritesNothing) {
    Rig& r = Up(NoLoopbackOptions());
    const size_t mark = r.dev.Mark();
    EXPECT_EQ(r.DmaStart(0, W, 32, LPC_START_LOOPBACK), LPC_RETURN_UNSUPPORTED);
    EXPECT_EQ(r.DmaStart(1, R, 32, LPC_START_LOOPBACK | LPC_START_IRQ_MASKED), LPC_RETURN_UNSUPPORTED);
    EXPECT_EQ(r.dev.MmioSince(mark).size(), 0u) << "a refused loopback start wrote:\n" << r.dev.DescribeSince(mark);
    EXPECT_FALSE(r.dev.WroteSince(mark, DmaBlock(0) + kLoopbackOffset)) << "block+0x40 is buffering_reader_fifo_control here";
    EXPECT_FALSE(r.dev.WroteSince(mark, DmaBlock(1) + kLoopbackOffset));
    const LpcErrorInfo e = r.LastError();
    EXPECT_EQ(e.argument, 3u);
    EXPECT_NE(Message(e).find("loopback"), std::string::npos) << Message(e);
    EXPECT_EQ(r.DirStatus(0, W).running, 0u);
    EXPECT_EQ(r.DmaStart(0, W, 32, 0), LPC_RETURN_SUCCESS) << "a plain start works";
    EXPECT_FALSE(r.dev.WroteSince(mark, DmaBlock(0) + kLoopbackOffset));
}

TEST_F(Dma, SetLoopback) {
    Rig& r = Up();
    size_t mark = r.dev.Mark();
    ASSERT_EQ(r.Call(kLpcSetLoopback, {1, 1}).status, LPC_RETURN_SUCCESS);
    auto w = r.dev.MmioWritesSince(mark);
    ASSERT_EQ(w.size(), 1u);
    EXPECT_EQ(w[0].offset, DmaBlock(1) + kLoopbackOffset) << "pcie_dma1_loopback_enable (0x4840)";
    EXPECT_EQ(w[0].value, 1u);
    ASSERT_EQ(r.Call(kLpcSetLoopback, {1, 0}).status, LPC_RETURN_SUCCESS);
    EXPECT_EQ(r.dev.Reg(DmaBlock(1) + kLoopbackOffset), 0u);
    mark = r.dev.Mark();
    EXPECT_EQ(r.Call(kLpcSetLoopback, {1, 2}).status, LPC_RETURN_BAD_ARGUMENT) << "enable 2";
    EXPECT_EQ(r.LastError().argument, 1u);
    EXPECT_EQ(r.Call(kLpcSetLoopback, {2, 1}).status, LPC_RETURN_BAD_ARGUMENT) << "channel 2 of 2";
    EXPECT_EQ(r.LastError().argument, 0u);
    EXPECT_EQ(r.dev.MmioSince(mark).size(), 0u);
}

TEST_F(Dma, SetLoopbackWithoutLoopbackIsUnsupported) {
    Rig& r = Up(NoLoopbackOptions());
    const size_t mark = r.dev.Mark();
    EXPECT_EQ(r.Call(kLpcSetLoopback, {0, 1}).status, LPC_RETURN_UNSUPPORTED);
    EXPECT_EQ(r.Call(kLpcSetLoopback, {1, 0}).status, LPC_RETURN_UNSUPPORTED);
    EXPECT_EQ(r.dev.MmioSince(mark).size(), 0u) << "nothing may be written at block+0x40:\n" << r.dev.DescribeSince(mark);
}

TEST_F(Dma, StartingARunningDirectionIsBusy) {
    Rig& r = Up();
    ASSERT_EQ(r.DmaStart(0, W, 32), LPC_RETURN_SUCCESS);
    const size_t mark = r.dev.Mark();
    EXPECT_EQ(r.DmaStart(0, W, 32), LPC_RETURN_BUSY);
    EXPECT_EQ(r.dev.MmioSince(mark).size(), 0u) << "a refused start reprogrammed a running engine";
    EXPECT_NE(Message(r.LastError()).find("already running"), std::string::npos) << Message(r.LastError());
    EXPECT_EQ(r.DmaStart(0, R, 32), LPC_RETURN_SUCCESS) << "the other direction is independent";
}

// ---- DmaStop ------------------------------------------------------------------------------------

TEST_F(Dma, StopSequenceClearsMsiBitFirst) {
    Rig& r = Up();
    ASSERT_EQ(r.DmaStart(1, W, 32), LPC_RETURN_SUCCESS);
    ASSERT_EQ(r.DmaStart(1, R, 32), LPC_RETURN_SUCCESS);
    const size_t mark = r.dev.Mark();
    ASSERT_EQ(r.DmaStop(1, W), LPC_RETURN_SUCCESS);
    const auto calls = r.dev.CallsSince(mark);
    const std::string trace = r.dev.DescribeSince(mark);
    ASSERT_EQ(calls.size(), 6u) << trace;
    auto expectWrite = [&](size_t i, uint32_t off, uint32_t v) {
        EXPECT_EQ(calls[i].kind, CallKind::MmioWrite) << "stop step " << i << "\n" << trace;
        EXPECT_EQ(calls[i].offset, off) << "stop step " << i << ": expected " << RegisterName(r.layout, off) << "\n" << trace;
        EXPECT_EQ(calls[i].value, v) << "stop step " << i << " " << RegisterName(r.layout, off);
    };
    expectWrite(0, kMsiEnable, 1u << IrqOf(1, R)); // writer bit 3 cleared, reader bit 2 kept
    expectWrite(1, EngineReg(1, W, kRegLoopProgN), 0);
    expectWrite(2, EngineReg(1, W, kRegTableReset), 1);
    EXPECT_EQ(calls[3].kind, CallKind::Delay) << "1 ms between flush and disable\n" << trace;
    EXPECT_EQ(calls[3].value, 1000u);
    expectWrite(4, EngineReg(1, W, kRegEnable), 0);
    expectWrite(5, EngineReg(1, W, kRegTableReset), 1);
    EXPECT_EQ(r.dev.Table(1, W).size(), 0u) << "pcie_dma1_writer table flushed";
    EXPECT_EQ(r.dev.Table(1, R).size(), 256u) << "pcie_dma1_reader untouched";
    EXPECT_EQ(r.DirStatus(1, W).running, 0u);
    EXPECT_EQ(r.StatusOf(1, W)->running, 0u);
    // Already stopped: nothing to do.
    const size_t again = r.dev.Mark();
    EXPECT_EQ(r.DmaStop(1, W), LPC_RETURN_SUCCESS);
    EXPECT_EQ(r.dev.CallsSince(again).size(), 0u);
    EXPECT_EQ(r.Call(kLpcDmaStop, {2, W}).status, LPC_RETURN_BAD_ARGUMENT) << "channel 2 of 2";
    EXPECT_EQ(r.Call(kLpcDmaStop, {0, 5}).status, LPC_RETURN_BAD_ARGUMENT) << "direction 5";
}

TEST_F(Dma, RestartResetsCountersAndBumpsGeneration) {
    Rig& r = Up();
    ASSERT_EQ(r.DmaStart(0, W, 32), LPC_RETURN_SUCCESS);
    r.InterruptWithCount(0, W, 100);
    ASSERT_EQ(r.Call(kLpcUpdateSwCount, {0, W, 90}).status, LPC_RETURN_SUCCESS);
    ASSERT_EQ(r.DmaStop(0, W), LPC_RETURN_SUCCESS);
    const uint64_t gen = r.Info().generation;
    ASSERT_EQ(r.DmaStart(0, W, 16), LPC_RETURN_SUCCESS);
    const LpcDirStatus s = r.DirStatus(0, W);
    EXPECT_EQ(s.hwCount, 0u);
    EXPECT_EQ(s.clientAck, 0u);
    EXPECT_EQ(s.lostCount, 0u);
    EXPECT_EQ(s.irqCount, 0u);
    EXPECT_EQ(s.irqEvery, 16u);
    EXPECT_EQ(s.generation, gen + 1);
    r.InterruptWithCount(0, W, 5);
    EXPECT_EQ(r.DirStatus(0, W).hwCount, 5u) << "the counter restarted with the engine";
}

// ---- Interrupt path (single MSI) ---------------------------------------------------------------------

TEST_F(Dma, InterruptReadsVectorAndPendingSourcesThenClearsHandledBits) {
    Rig& r = Up();
    ASSERT_EQ(r.DmaStart(0, W, 32), LPC_RETURN_SUCCESS);
    ASSERT_EQ(r.DmaStart(1, R, 32), LPC_RETURN_SUCCESS);
    r.dev.SetLoopStatus(0, W, 0x00000020);  // hw 32
    r.dev.SetLoopStatus(1, R, 0x00010000);  // hw 256
    r.dev.SetLoopStatus(0, R, 0x00000010);  // not running, not enabled
    r.dev.RaiseVector((1u << IrqOf(0, W)) | (1u << IrqOf(1, R)) | (1u << IrqOf(0, R)));
    r.dev.SetNow(777000);
    const size_t mark = r.dev.Mark();
    r.core.Interrupt(0, 777000);
    const auto mmio = r.dev.MmioSince(mark);
    const std::string trace = r.dev.DescribeSince(mark);
    ASSERT_EQ(mmio.size(), 4u) << trace;
    EXPECT_EQ(mmio[0].kind, CallKind::MmioRead);
    EXPECT_EQ(mmio[0].offset, kMsiVector) << "first: read pcie_msi_vector\n" << trace;
    EXPECT_EQ(mmio[1].kind, CallKind::MmioRead);
    EXPECT_EQ(mmio[1].offset, EngineReg(0, W, kRegLoopStatus)) << "pcie_dma0_writer_table_loop_status\n" << trace;
    EXPECT_EQ(mmio[2].kind, CallKind::MmioRead);
    EXPECT_EQ(mmio[2].offset, EngineReg(1, R, kRegLoopStatus)) << "pcie_dma1_reader_table_loop_status\n" << trace;
    EXPECT_EQ(mmio[3].kind, CallKind::MmioWrite);
    EXPECT_EQ(mmio[3].offset, kMsiClear) << "last: pcie_msi_clear\n" << trace;
    EXPECT_EQ(mmio[3].value, (1u << IrqOf(0, W)) | (1u << IrqOf(1, R))) << "exactly the handled bits are cleared";
    EXPECT_EQ(r.dev.Vector(), 1u << IrqOf(0, R)) << "the not-enabled source's bit is left alone";

    const LpcDirStatus* w0 = r.StatusOf(0, W);
    const LpcDirStatus* r1 = r.StatusOf(1, R);
    EXPECT_EQ(w0->hwCount, 32u) << "pcie_dma0 writer hwCount from loop_status 0x00000020";
    EXPECT_EQ(r1->hwCount, 256u) << "pcie_dma1 reader hwCount from loop_status 0x00010000";
    EXPECT_EQ(w0->irqCount, 1u);
    EXPECT_EQ(w0->lastIrqTime, 777000u);
    EXPECT_EQ(r.StatusOf(0, R)->hwCount, 0u);
    EXPECT_EQ(r.Header()->msiCount, 1u);
    EXPECT_EQ(r.Header()->spuriousCount, 0u);
    EXPECT_EQ(r.core.GetStats().interrupts, 1u);
}

TEST_F(Dma, CoalescedDeliveriesCountEveryMessage) {
    Rig& r = Up();
    ASSERT_EQ(r.DmaStart(0, W, 1), LPC_RETURN_SUCCESS);
    ASSERT_EQ(r.DmaStart(0, R, 1), LPC_RETURN_SUCCESS);
    // One source pending: the platform delivered three messages in one call (DriverKit's count): all three were its own.
    r.dev.SetLoopStatus(0, W, 0x00000002);
    r.dev.RaiseVector(1u << IrqOf(0, W));
    r.core.Interrupt(0, 1000, 3);
    EXPECT_EQ(r.Header()->msiCount, 3u) << "every message of a coalesced delivery is counted";
    EXPECT_EQ(r.StatusOf(0, W)->irqCount, 3u) << "the only source pending gets all of them";
    // Both pending: the messages cannot be told apart, each source is credited once.
    r.dev.SetLoopStatus(0, W, 0x00000004);
    r.dev.SetLoopStatus(0, R, 0x00000004);
    r.dev.RaiseVector((1u << IrqOf(0, W)) | (1u << IrqOf(0, R)));
    r.core.Interrupt(0, 2000, 2);
    EXPECT_EQ(r.Header()->msiCount, 5u);
    EXPECT_EQ(r.StatusOf(0, W)->irqCount, 4u);
    EXPECT_EQ(r.StatusOf(0, R)->irqCount, 1u);
}

TEST_F(Dma, HwCountWrapsAtTwoToThe24ThroughRepeatedInterrupts) {
    Rig& r = Up();
    ASSERT_EQ(r.DmaStart(0, W, 32), LPC_RETURN_SUCCESS);
    struct Step {
        uint32_t loopStatus;
        uint64_t hw;
    };
    const Step steps[] = {{0x00000000u, 0}, {0x00000020u, 32}, {0x00010000u, 256}, {0xFFFF00E0u, 16777184ull}, {0x00000000u, 16777216ull}, {0x00000020u, 16777248ull}};
    uint64_t n = 0;
    for (const Step& s : steps) {
        r.dev.SetLoopStatus(0, W, s.loopStatus);
        r.dev.RaiseVector(1u << IrqOf(0, W));
        r.core.Interrupt(0, ++n);
        EXPECT_EQ(r.StatusOf(0, W)->hwCount, s.hw) << "pcie_dma0_writer_table_loop_status " << Hex(s.loopStatus);
    }
    EXPECT_EQ(r.StatusOf(0, W)->irqCount, n);
    EXPECT_EQ(r.Header()->msiCount, n);
}

TEST_F(Dma, InterruptWithNothingEnabledPendingIsSpurious) {
    Rig& r = Up();
    ASSERT_EQ(r.DmaStart(0, W, 32), LPC_RETURN_SUCCESS);
    size_t mark = r.dev.Mark();
    r.core.Interrupt(0, 1);
    EXPECT_EQ(r.Header()->spuriousCount, 1u) << "pcie_msi_vector 0";
    EXPECT_EQ(r.Header()->msiCount, 1u);
    EXPECT_EQ(r.dev.MmioWritesSince(mark).size(), 0u) << "nothing to clear";
    r.dev.RaiseVector(1u << 7); // a source the driver never enabled
    mark = r.dev.Mark();
    r.core.Interrupt(0, 2);
    EXPECT_EQ(r.Header()->spuriousCount, 2u) << "only a not-enabled bit pending";
    EXPECT_EQ(r.dev.MmioSince(mark).size(), 1u) << "only pcie_msi_vector is read:\n" << r.dev.DescribeSince(mark);
}

// ---- MSI-X and multi-vector --------------------------------------------------------------------------

TEST_F(Dma, MsixAndMultiVectorTheVectorSelectsTheSource) {
    for (const LayoutOptions& o : {MsiXOptions(32), MultiVectorOptions()}) {
        Rig& r = Up(o);
        const char* flavour = o.msiFlavour == kLpcMsiX ? "MSI-X" : "multi-vector MSI";
        ASSERT_EQ(r.DmaStart(1, W, 32), LPC_RETURN_SUCCESS) << flavour;
        ASSERT_EQ(r.DmaStart(0, R, 32), LPC_RETURN_SUCCESS) << flavour;
        r.dev.SetLoopStatus(1, W, 0x40);
        r.dev.SetLoopStatus(0, R, 0x41);
        size_t mark = r.dev.Mark();
        r.core.Interrupt(IrqOf(1, W), 10);
        auto mmio = r.dev.MmioSince(mark);
        ASSERT_EQ(mmio.size(), 1u) << flavour << ": one loop_status read, no vector read, no clear\n" << r.dev.DescribeSince(mark);
        EXPECT_EQ(mmio[0].kind, CallKind::MmioRead);
        EXPECT_EQ(mmio[0].offset, EngineReg(1, W, kRegLoopStatus)) << flavour;
        EXPECT_EQ(r.StatusOf(1, W)->hwCount, 64u) << flavour;
        EXPECT_EQ(r.StatusOf(0, R)->hwCount, 0u) << flavour << ": the other source is not read";
        // A vector whose source is not running / not enabled, and vectors out of range.
        for (uint32_t v : {IrqOf(0, W), IrqOf(1, R), 31u, 32u, 64u, 0xFFFFFFFFu}) {
            mark = r.dev.Mark();
            const uint64_t spurious = r.Header()->spuriousCount;
            r.core.Interrupt(v, 11);
            EXPECT_EQ(r.dev.MmioSince(mark).size(), 0u) << flavour << ", vector " << v;
            EXPECT_EQ(r.Header()->spuriousCount, spurious + 1) << flavour << ", vector " << v;
        }
        r.core.Interrupt(IrqOf(0, R), 12);
        EXPECT_EQ(r.StatusOf(0, R)->hwCount, 0x41u) << flavour;
        EXPECT_EQ(r.Finish(), "") << flavour;
    }
    rig_.reset();
}

TEST_F(Dma, MsixWithTwoEnableWordsUsesBigWordOrdering) {
    Rig& r = Up(MsiXOptions(64));
    const size_t mark = r.dev.Mark();
    ASSERT_EQ(r.DmaStart(1, W, 32), LPC_RETURN_SUCCESS);
    const auto w = r.dev.MmioWritesSince(mark);
    ASSERT_GE(w.size(), 3u);
    // ... both enable words, then the engine's enable last.
    EXPECT_EQ(w[w.size() - 3].offset, kMsiEnable) << "pcie_msi_enable[63:32] at 0x1800";
    EXPECT_EQ(w[w.size() - 3].value, 0u);
    EXPECT_EQ(w[w.size() - 2].offset, kMsiEnable + 4) << "pcie_msi_enable[31:0] at 0x1804";
    EXPECT_EQ(w[w.size() - 2].value, 1u << IrqOf(1, W));
    EXPECT_EQ(w[w.size() - 1].offset, EngineReg(1, W, kRegEnable)) << "the engine is enabled after its MSI source";
}

// ---- WaitBuffers ------------------------------------------------------------------------------------

TEST_F(Dma, WaitCompletesImmediatelyWhenReached) {
    Rig& r = Up();
    ASSERT_EQ(r.DmaStart(0, W, 32), LPC_RETURN_SUCCESS);
    r.InterruptWithCount(0, W, 64);
    const size_t mark = r.dev.Mark();
    const CallResult res = r.Call(kLpcWaitBuffers, {0, W, 64, 1000});
    EXPECT_EQ(res.status, LPC_RETURN_SUCCESS);
    EXPECT_EQ(res.tokenTaken, 1u);
    const auto done = r.dev.Completions();
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].token, res.token);
    EXPECT_EQ(done[0].status, LPC_RETURN_SUCCESS);
    ASSERT_EQ(done[0].args.size(), 2u);
    EXPECT_EQ(done[0].args[0], 64u) << "hwCount";
    EXPECT_EQ(done[0].args[1], 0u) << "lost";
    EXPECT_EQ(r.dev.CountSince(mark, CallKind::ArmTimer), 0u) << "no timer for a satisfied wait";
    EXPECT_EQ(r.Call(kLpcWaitBuffers, {0, W, 0, 1}).status, LPC_RETURN_SUCCESS) << "target 0 is always reached";
}

TEST_F(Dma, WaitCompletedByTheInterruptThatReachesTarget) {
    Rig& r = Up();
    ASSERT_EQ(r.DmaStart(1, R, 32), LPC_RETURN_SUCCESS);
    r.dev.SetNow(5000000000ull);
    const CallResult res = r.Call(kLpcWaitBuffers, {1, R, 100, 250});
    ASSERT_EQ(res.status, LPC_RETURN_SUCCESS);
    ASSERT_EQ(res.tokenTaken, 1u);
    EXPECT_EQ(r.dev.CompletionCount(), 0u);
    auto armed = r.dev.ArmedTimers();
    ASSERT_EQ(armed.count(3u), 1u) << "timer slot channel*2+dir = 3";
    EXPECT_EQ(armed[3], 5000000000ull + 250ull * 1000000ull) << "deadline = now + timeoutMs";
    EXPECT_EQ(r.core.GetStats().pendingWaits, 1u);
    ASSERT_EQ(r.Call(kLpcUpdateSwCount, {1, R, 256}).status, LPC_RETURN_SUCCESS); // keep the reader fed
    r.InterruptWithCount(1, R, 64);
    EXPECT_EQ(r.dev.CompletionCount(), 0u) << "hw 64 < target 100";
    r.InterruptWithCount(1, R, 128);
    const auto done = r.dev.Completions();
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].token, res.token);
    EXPECT_EQ(done[0].status, LPC_RETURN_SUCCESS);
    EXPECT_EQ(done[0].args, (std::vector<uint64_t>{128, 0}));
    EXPECT_EQ(r.dev.ArmedTimers().count(3u), 0u) << "timer cancelled";
    r.core.TimerFired(3);
    EXPECT_EQ(r.dev.CompletionCount(), 1u) << "a late timer completes nothing";
}

TEST_F(Dma, WaitTimesOutThroughTimerFired) {
    Rig& r = Up();
    ASSERT_EQ(r.DmaStart(0, W, 32), LPC_RETURN_SUCCESS);
    r.InterruptWithCount(0, W, 10);
    const CallResult res = r.Call(kLpcWaitBuffers, {0, W, 1000, 5});
    ASSERT_EQ(res.tokenTaken, 1u);
    r.core.TimerFired(1); // another slot: nothing
    r.core.TimerFired(999);
    EXPECT_EQ(r.dev.CompletionCount(), 0u);
    r.dev.AdvanceNow(5000000);
    r.core.TimerFired(0);
    const auto done = r.dev.Completions();
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].token, res.token);
    EXPECT_EQ(done[0].status, LPC_RETURN_TIMEOUT);
    EXPECT_EQ(done[0].args, (std::vector<uint64_t>{10, 0}));
    r.core.TimerFired(0);
    EXPECT_EQ(r.dev.CompletionCount(), 1u) << "the token completes once";
    EXPECT_EQ(r.Call(kLpcWaitBuffers, {0, W, 1000, 5}).tokenTaken, 1u) << "a new wait after the timeout";
}

// Regression (was a robustness bug in Core.cpp, Core::TimerFired): the handler completes whatever wait is pending on the
// slot, without checking that this wait's deadline has passed. A timer callback already dispatched
// when CancelTimer ran (wait A satisfied by an interrupt) then times out the next wait B on the same
// direction immediately. Fixed: Wait records its deadline and
// TimerFired re-arms a firing earlier than it.
TEST_F(Dma, StaleTimerDoesNotTimeOutANewerWait) {
    Rig& r = Up();
    ASSERT_EQ(r.DmaStart(0, W, 32), LPC_RETURN_SUCCESS);
    const CallResult a = r.Call(kLpcWaitBuffers, {0, W, 10, 5});
    ASSERT_EQ(a.tokenTaken, 1u);
    r.InterruptWithCount(0, W, 10); // satisfies A, cancels slot 0
    ASSERT_EQ(r.dev.TimesCompleted(a.token), 1u);
    const CallResult b = r.Call(kLpcWaitBuffers, {0, W, 20, 60000});
    ASSERT_EQ(b.tokenTaken, 1u);
    r.core.TimerFired(0); // A's 5 ms timer, in flight when it was cancelled; B's deadline is 60 s away
    EXPECT_EQ(r.dev.TimesCompleted(b.token), 0u) << "wait B (timeoutMs 60000) timed out by wait A's stale timer";
}

TEST_F(Dma, SecondWaitOnTheSameDirectionIsBusyAndItsTokenNotTaken) {
    Rig& r = Up();
    ASSERT_EQ(r.DmaStart(0, W, 32), LPC_RETURN_SUCCESS);
    ASSERT_EQ(r.DmaStart(0, R, 32), LPC_RETURN_SUCCESS);
    const CallResult first = r.Call(kLpcWaitBuffers, {0, W, 100, 1000});
    ASSERT_EQ(first.tokenTaken, 1u);
    const CallResult second = r.Call(kLpcWaitBuffers, {0, W, 50, 1000});
    EXPECT_EQ(second.status, LPC_RETURN_BUSY);
    EXPECT_EQ(second.tokenTaken, 0u) << "asyncTokenTaken must stay 0 for a refused wait";
    EXPECT_NE(Message(r.LastError()).find("already pending"), std::string::npos);
    EXPECT_EQ(r.Call(kLpcWaitBuffers, {0, R, 50, 1000}).tokenTaken, 1u) << "the reader of the same channel has its own slot";
    r.InterruptWithCount(0, W, 100);
    EXPECT_EQ(r.dev.TimesCompleted(first.token), 1u);
    EXPECT_EQ(r.dev.TimesCompleted(second.token), 0u) << "a token that was not taken must never be completed";
}

TEST_F(Dma, WaitArgumentsValidated) {
    Rig& r = Up();
    ASSERT_EQ(r.DmaStart(0, W, 32), LPC_RETURN_SUCCESS);
    struct Bad {
        std::vector<uint64_t> in;
        uint32_t argument;
        const char* what;
    };
    const Bad bad[] = {
        {{0, W, 10, 0}, 3, "timeoutMs 0"},
        {{0, W, 10, 60001}, 3, "timeoutMs 60001"},
        {{0, W, 10, UINT64_MAX}, 3, "timeoutMs 2^64-1"},
        {{0, W, (1ull << 62) + 1, 10}, 2, "target above 2^62"},
        {{2, W, 10, 10}, 0, "channel 2 of 2"},
        {{0, 3, 10, 10}, 1, "direction 3"},
    };
    for (const Bad& b : bad) {
        const CallResult res = r.Call(kLpcWaitBuffers, b.in);
        EXPECT_EQ(res.status, LPC_RETURN_BAD_ARGUMENT) << b.what;
        EXPECT_EQ(res.tokenTaken, 0u) << b.what;
        EXPECT_EQ(r.LastError().argument, b.argument) << b.what;
    }
    EXPECT_NE(Message(r.LastError()).find("0 (writer) or 1 (reader)"), std::string::npos);
    EXPECT_EQ(r.Call(kLpcWaitBuffers, {0, W, 10, 60000}).tokenTaken, 1u) << "timeoutMs 60000 accepted";
    const CallResult notRunning = r.Call(kLpcWaitBuffers, {1, W, 10, 10});
    EXPECT_EQ(notRunning.status, LPC_RETURN_NOT_READY) << "wait on a stopped direction";
    EXPECT_EQ(notRunning.tokenTaken, 0u);
    EXPECT_EQ(r.dev.CompletionCount(), 0u);
}

TEST_F(Dma, DmaStopAbortsAPendingWait) {
    Rig& r = Up();
    ASSERT_EQ(r.DmaStart(1, W, 32), LPC_RETURN_SUCCESS);
    r.InterruptWithCount(1, W, 7);
    const CallResult res = r.Call(kLpcWaitBuffers, {1, W, 100, 1000});
    ASSERT_EQ(res.tokenTaken, 1u);
    const size_t mark = r.dev.Mark();
    ASSERT_EQ(r.DmaStop(1, W), LPC_RETURN_SUCCESS);
    const auto done = r.dev.Completions();
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].status, LPC_RETURN_ABORTED);
    EXPECT_EQ(done[0].args, (std::vector<uint64_t>{7, 0}));
    EXPECT_EQ(r.dev.CountSince(mark, CallKind::CancelTimer), 1u);
    EXPECT_EQ(r.dev.ArmedTimers().size(), 0u);
    const auto calls = r.dev.CallsSince(mark);
    EXPECT_EQ(calls.back().kind, CallKind::CompleteAsync) << "completion delivered after the stop sequence, outside the lock";
}

// ---- UpdateSwCount ----------------------------------------------------------------------------------

TEST_F(Dma, UpdateSwCountWriter) {
    Rig& r = Up();
    ASSERT_EQ(r.DmaStart(0, W, 32), LPC_RETURN_SUCCESS);
    r.InterruptWithCount(0, W, 64);
    CallResult res = r.Call(kLpcUpdateSwCount, {0, W, 65});
    EXPECT_EQ(res.status, LPC_RETURN_BAD_ARGUMENT) << "writer swCount 65 > hw 64";
    LpcErrorInfo e = r.LastError();
    EXPECT_EQ(e.argument, 2u);
    EXPECT_NE(Message(e).find("at most the writer's hardware count 64"), std::string::npos) << Message(e);
    res = r.Call(kLpcUpdateSwCount, {0, W, 64});
    ASSERT_EQ(res.status, LPC_RETURN_SUCCESS);
    EXPECT_EQ(res.Out(), 0u) << "lost";
    EXPECT_EQ(r.StatusOf(0, W)->clientAck, 64u) << "clientAck published in the status page";
    res = r.Call(kLpcUpdateSwCount, {0, W, 63});
    EXPECT_EQ(res.status, LPC_RETURN_BAD_ARGUMENT) << "backwards";
    EXPECT_NE(Message(r.LastError()).find("at least the previous count 64"), std::string::npos) << Message(r.LastError());
    EXPECT_EQ(r.StatusOf(0, W)->clientAck, 64u) << "a refused count leaves clientAck";
    EXPECT_EQ(r.Call(kLpcUpdateSwCount, {0, W, 64}).status, LPC_RETURN_SUCCESS) << "same count again";
}

TEST_F(Dma, UpdateSwCountReader) {
    Rig& r = Up();
    ASSERT_EQ(r.DmaStart(1, R, 32), LPC_RETURN_SUCCESS);
    EXPECT_EQ(r.Call(kLpcUpdateSwCount, {1, R, 257}).status, LPC_RETURN_BAD_ARGUMENT) << "reader 257 > hw 0 + 256";
    EXPECT_NE(Message(r.LastError()).find("at most hardware count + bufferCount = 256"), std::string::npos) << Message(r.LastError());
    EXPECT_EQ(r.Call(kLpcUpdateSwCount, {1, R, 256}).status, LPC_RETURN_SUCCESS) << "a full ring ahead";
    EXPECT_EQ(r.StatusOf(1, R)->clientAck, 256u);
    r.InterruptWithCount(1, R, 100);
    EXPECT_EQ(r.Call(kLpcUpdateSwCount, {1, R, 356}).status, LPC_RETURN_SUCCESS);
    EXPECT_EQ(r.Call(kLpcUpdateSwCount, {1, R, 357}).status, LPC_RETURN_BAD_ARGUMENT);
    EXPECT_EQ(r.Call(kLpcUpdateSwCount, {0, R, 0}).status, LPC_RETURN_NOT_READY) << "pcie_dma0 reader not running";
    EXPECT_EQ(r.Call(kLpcUpdateSwCount, {1, 2, 0}).status, LPC_RETURN_BAD_ARGUMENT);
}

// ---- loss accounting --------------------------------------------------------------------------------

TEST_F(Dma, WriterOverrunCountedOncePerBuffer) {
    Rig& r = Up();
    ASSERT_EQ(r.DmaStart(0, W, 32), LPC_RETURN_SUCCESS);
    const LpcDirStatus* s = r.StatusOf(0, W);
    r.InterruptWithCount(0, W, 256);
    EXPECT_EQ(s->lostCount, 0u) << "hw 256 = clientAck 0 + bufferCount: nothing overwritten yet";
    r.InterruptWithCount(0, W, 300);
    EXPECT_EQ(s->lostCount, 44u) << "hw 300 passed clientAck 0 + 256 by 44 buffers";
    r.InterruptWithCount(0, W, 300);
    EXPECT_EQ(s->lostCount, 44u) << "the same buffers are not lost twice";
    const CallResult ack = r.Call(kLpcUpdateSwCount, {0, W, 100});
    ASSERT_EQ(ack.status, LPC_RETURN_SUCCESS);
    EXPECT_EQ(ack.Out(), 44u) << "UpdateSwCount returns lost";
    r.InterruptWithCount(0, W, 340);
    EXPECT_EQ(s->lostCount, 44u) << "hw 340 <= clientAck 100 + 256";
    r.InterruptWithCount(0, W, 400);
    EXPECT_EQ(s->lostCount, 88u) << "hw 400 passed clientAck 100 + 256 by 44";
    r.InterruptWithCount(0, W, 400);
    EXPECT_EQ(s->lostCount, 88u);
    EXPECT_EQ(r.DirStatus(0, W).lostCount, 88u);
}

TEST_F(Dma, ReaderUnderrunCountedOncePerBuffer) {
    Rig& r = Up();
    ASSERT_EQ(r.DmaStart(1, R, 32), LPC_RETURN_SUCCESS);
    const LpcDirStatus* s = r.StatusOf(1, R);
    ASSERT_EQ(r.Call(kLpcUpdateSwCount, {1, R, 200}).status, LPC_RETURN_SUCCESS);
    r.InterruptWithCount(1, R, 100);
    EXPECT_EQ(s->lostCount, 0u) << "hw 100 <= clientAck 200";
    r.InterruptWithCount(1, R, 250);
    EXPECT_EQ(s->lostCount, 50u) << "hw 250 passed clientAck 200: 50 buffers fetched unfilled";
    r.InterruptWithCount(1, R, 250);
    EXPECT_EQ(s->lostCount, 50u) << "not again for the same buffers";
    const CallResult ack = r.Call(kLpcUpdateSwCount, {1, R, 400});
    ASSERT_EQ(ack.status, LPC_RETURN_SUCCESS);
    EXPECT_EQ(ack.Out(), 50u);
    r.InterruptWithCount(1, R, 380);
    EXPECT_EQ(s->lostCount, 50u);
    r.InterruptWithCount(1, R, 450);
    EXPECT_EQ(s->lostCount, 100u) << "hw 450 passed clientAck 400 by 50";
}

// ---- device removal -----------------------------------------------------------------------------------

void ExpectEverythingOfflineWithoutMmio(Rig& r) {
    const size_t mark = r.dev.Mark();
    struct Call {
        uint32_t sel;
        std::vector<uint64_t> in;
    };
    const Call calls[] = {
        {kLpcCsrRead32, {kCtrlScratch}},
        {kLpcCsrWrite32, {kCtrlScratch, 1}},
        {kLpcBarRead32, {2, 0}},
        {kLpcBarWrite32, {2, 0, 1}},
        {kLpcConfigRead32, {0}},
        {kLpcDmaStart, {1, W, 32, 0}},
        {kLpcUpdateSwCount, {0, W, 0}},
        {kLpcWaitBuffers, {0, W, 1, 1000}},
        {kLpcSetLoopback, {0, 1}},
        {kLpcReset, {kLpcResetSoc}},
        {kLpcReset, {kLpcResetFunction}},
    };
    for (const Call& c : calls) {
        const CallResult res = r.Call(c.sel, c.in);
        EXPECT_EQ(res.status, LPC_RETURN_OFFLINE) << "selector " << c.sel << " on a gone device";
        EXPECT_EQ(res.tokenTaken, 0u);
    }
    const LpcErrorInfo e = r.LastError();
    EXPECT_EQ(e.status, LPC_RETURN_OFFLINE);
    EXPECT_NE(Message(e).find("device gone"), std::string::npos) << Message(e);
    r.core.Interrupt(0, 1);
    r.core.Interrupt(3, 2);
    r.core.TimerFired(0);
    r.core.SetPowerState(false);
    r.core.SetPowerState(true);
    EXPECT_EQ(r.dev.MmioSince(mark).size(), 0u) << "MMIO after the device was declared gone:\n" << r.dev.DescribeSince(mark);
    EXPECT_EQ(r.dev.CountSince(mark, CallKind::ConfigWrite), 0u);
    EXPECT_EQ(r.dev.CountSince(mark, CallKind::ResetFunction), 0u);
    EXPECT_NE(r.Info().flags & LPC_FLAG_DEVICE_GONE, 0u);
}

TEST_F(Dma, AllOnesLoopStatusWithDeadConfigLatchesGone) {
    Rig& r = Up();
    ASSERT_EQ(r.DmaStart(0, W, 32), LPC_RETURN_SUCCESS);
    ASSERT_EQ(r.DmaStart(1, R, 32), LPC_RETURN_SUCCESS);
    const CallResult w0 = r.Call(kLpcWaitBuffers, {0, W, 500, 1000});
    const CallResult r1 = r.Call(kLpcWaitBuffers, {1, R, 500, 1000});
    ASSERT_EQ(w0.tokenTaken + r1.tokenTaken, 2u);
    r.dev.SetLoopStatus(0, W, 0xFFFFFFFFu);
    r.dev.SetConfigGone(true);
    r.dev.RaiseVector(1u << IrqOf(0, W));
    const size_t mark = r.dev.Mark();
    r.core.Interrupt(0, 9);
    const auto mmio = r.dev.MmioSince(mark);
    ASSERT_EQ(mmio.size(), 2u) << r.dev.DescribeSince(mark);
    EXPECT_EQ(mmio[0].offset, kMsiVector);
    EXPECT_EQ(mmio[1].offset, EngineReg(0, W, kRegLoopStatus));
    EXPECT_GE(r.dev.CountSince(mark, CallKind::ConfigRead), 1u) << "all-ones is confirmed against configuration space";
    EXPECT_TRUE(r.dev.CoreMarkedGone());
    const auto done = r.dev.Completions();
    ASSERT_EQ(done.size(), 2u);
    for (const CompletionRecord& c : done) {
        EXPECT_EQ(c.status, LPC_RETURN_OFFLINE) << "pending waits complete with LPC_RETURN_OFFLINE (token " << c.token << ")";
    }
    EXPECT_NE(r.Header()->flags & LPC_FLAG_DEVICE_GONE, 0u) << "status page flags";
    EXPECT_NE(r.Info().flags & LPC_FLAG_DEVICE_GONE, 0u);
    EXPECT_EQ(r.StatusOf(0, W)->hwCount, 0u) << "an all-ones loop_status must not be counted";
    const size_t stop = r.dev.Mark();
    EXPECT_EQ(r.DmaStop(1, R), LPC_RETURN_OFFLINE) << "stopping on a gone device is bookkeeping only";
    EXPECT_EQ(r.dev.MmioSince(stop).size(), 0u);
    EXPECT_EQ(r.StatusOf(1, R)->running, 0u);
    ExpectEverythingOfflineWithoutMmio(r);
    EXPECT_EQ(r.dev.Completions().size(), 2u);
}

TEST_F(Dma, AllOnesVectorWithDeadConfigLatchesGone) {
    Rig& r = Up();
    ASSERT_EQ(r.DmaStart(0, W, 32), LPC_RETURN_SUCCESS);
    const CallResult wait = r.Call(kLpcWaitBuffers, {0, W, 500, 1000});
    ASSERT_EQ(wait.tokenTaken, 1u);
    r.dev.SetGone(true);
    const size_t mark = r.dev.Mark();
    r.core.Interrupt(0, 1);
    const auto mmio = r.dev.MmioSince(mark);
    ASSERT_EQ(mmio.size(), 1u) << "only pcie_msi_vector read before gone:\n" << r.dev.DescribeSince(mark);
    EXPECT_EQ(mmio[0].offset, kMsiVector);
    EXPECT_EQ(r.dev.TimesCompleted(wait.token), 1u);
    EXPECT_EQ(r.dev.Completions().at(0).status, LPC_RETURN_OFFLINE);
    EXPECT_EQ(r.Header()->spuriousCount, 0u) << "removal is not a spurious interrupt";
    ExpectEverythingOfflineWithoutMmio(r);
}

TEST_F(Dma, AllOnesVectorWithLiveConfigIsNotGone) {
    Rig& r = Up();
    ASSERT_EQ(r.DmaStart(0, W, 32), LPC_RETURN_SUCCESS);
    r.dev.SetMmioGone(true); // BAR0 reads all-ones, config space alive (e.g. a bus error)
    r.core.Interrupt(0, 1);
    EXPECT_FALSE(r.dev.CoreMarkedGone());
    EXPECT_EQ(r.Info().flags & LPC_FLAG_DEVICE_GONE, 0u);
    r.dev.SetMmioGone(false);
    EXPECT_EQ(r.Call(kLpcCsrRead32, {kCtrlScratch}).status, LPC_RETURN_SUCCESS);
}

TEST_F(Dma, CsrReadAllOnesWithDeadConfigIsOffline) {
    Rig& r = Up();
    r.dev.SetGone(true);
    EXPECT_EQ(r.Call(kLpcCsrRead32, {kCtrlScratch}).status, LPC_RETURN_OFFLINE);
    EXPECT_TRUE(r.dev.CoreMarkedGone());
    ExpectEverythingOfflineWithoutMmio(r);
}

TEST_F(Dma, DeviceRemoved) {
    Rig& r = Up();
    ASSERT_EQ(r.DmaStart(0, W, 32), LPC_RETURN_SUCCESS);
    ASSERT_EQ(r.DmaStart(1, R, 32), LPC_RETURN_SUCCESS);
    const CallResult wait = r.Call(kLpcWaitBuffers, {1, R, 500, 1000});
    ASSERT_EQ(wait.tokenTaken, 1u);
    const size_t mark = r.dev.Mark();
    r.core.DeviceRemoved();
    EXPECT_EQ(r.dev.MmioSince(mark).size(), 0u) << "no MMIO to a removed device:\n" << r.dev.DescribeSince(mark);
    EXPECT_TRUE(r.dev.CoreMarkedGone());
    const auto done = r.dev.Completions();
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].token, wait.token);
    EXPECT_EQ(done[0].status, LPC_RETURN_OFFLINE);
    EXPECT_EQ(r.StatusOf(0, W)->running, 0u);
    EXPECT_EQ(r.StatusOf(1, R)->running, 0u);
    EXPECT_NE(r.Header()->flags & LPC_FLAG_DEVICE_GONE, 0u);
    ExpectEverythingOfflineWithoutMmio(r);
    uint32_t id = 0;
    r.core.CloseClient(r.client);
    EXPECT_EQ(r.core.OpenClient(0, &id), LPC_RETURN_OFFLINE) << "no new client on a gone device";
}

TEST_F(Dma, StopAfterASurpriseRemovalTouchesNothing) {
    // DriverKit reports a surprise removal (a Thunderbolt unplug) only as driver Stop: no terminate
    // notice reaches the core first. Its stop sequence must not write to a device that is gone.
    Rig& r = Up();
    ASSERT_EQ(r.DmaStart(0, W, 32), LPC_RETURN_SUCCESS);
    ASSERT_EQ(r.DmaStart(1, R, 32), LPC_RETURN_SUCCESS);
    const CallResult wait = r.Call(kLpcWaitBuffers, {1, R, 500, 1000});
    ASSERT_EQ(wait.tokenTaken, 1u);
    r.dev.SetGone(true); // config space and BARs read all-ones
    const size_t mark = r.dev.Mark();
    r.core.Stop();
    EXPECT_EQ(r.dev.MmioSince(mark).size(), 0u) << "no MMIO to a removed device at Stop:\n" << r.dev.DescribeSince(mark);
    EXPECT_EQ(r.dev.CountSince(mark, CallKind::ConfigWrite), 0u) << "no command-register write either:\n" << r.dev.DescribeSince(mark);
    EXPECT_EQ(r.dev.CountSince(mark, CallKind::ConfigRead), 1u) << "one presence check";
    EXPECT_TRUE(r.dev.CoreMarkedGone());
    const auto done = r.dev.Completions();
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].token, wait.token);
    EXPECT_EQ(done[0].status, LPC_RETURN_OFFLINE) << "the wait ends as 'device gone', not 'aborted'";
    EXPECT_EQ(r.dev.LiveDmaBuffers(), 0u) << "the rings are still freed";
    EXPECT_EQ(r.dev.LiveSharedBuffers(), 0u);
}

// ---- power ----------------------------------------------------------------------------------------

TEST_F(Dma, PowerOffStopsDmaAndSleeps) {
    Rig& r = Up();
    ASSERT_EQ(r.DmaStart(0, W, 32), LPC_RETURN_SUCCESS);
    ASSERT_EQ(r.DmaStart(1, R, 32), LPC_RETURN_SUCCESS);
    const CallResult wait = r.Call(kLpcWaitBuffers, {1, R, 500, 1000});
    ASSERT_EQ(wait.tokenTaken, 1u);
    const uint64_t gen = r.Header()->generation;
    const size_t mark = r.dev.Mark();
    r.core.SetPowerState(false);
    const auto calls = r.dev.CallsSince(mark);
    const std::string trace = r.dev.DescribeSince(mark);
    for (uint32_t c = 0; c < 2; ++c) {
        const uint32_t d = c == 0 ? W : R;
        long msi = -1, flush = -1, disable = -1;
        for (size_t i = 0; i < calls.size(); ++i) {
            if (calls[i].kind != CallKind::MmioWrite) {
                continue;
            }
            if (calls[i].offset == EngineReg(c, d, kRegLoopProgN) && flush < 0) {
                flush = static_cast<long>(i);
            }
            if (calls[i].offset == EngineReg(c, d, kRegEnable)) {
                disable = static_cast<long>(i);
            }
        }
        for (long i = flush; i-- > 0;) {
            if (calls[static_cast<size_t>(i)].kind == CallKind::MmioWrite && calls[static_cast<size_t>(i)].offset == kMsiEnable) {
                msi = i;
                break;
            }
        }
        ASSERT_GE(flush, 0) << "pcie_dma" << c << " " << DirName(d) << " not stopped\n" << trace;
        EXPECT_GE(msi, 0) << "pcie_msi_enable not cleared before pcie_dma" << c << " stopped\n" << trace;
        EXPECT_GT(disable, flush) << trace;
        EXPECT_EQ(r.dev.Reg(EngineReg(c, d, kRegEnable)), 0u);
    }
    EXPECT_EQ(r.dev.Reg(kMsiEnable), 0u) << "pcie_msi_enable 0 while asleep";
    EXPECT_EQ(r.dev.TimesCompleted(wait.token), 1u);
    EXPECT_EQ(r.dev.Completions().at(0).status, LPC_RETURN_ABORTED);
    EXPECT_NE(r.Header()->flags & LPC_FLAG_SLEEPING, 0u) << "LPC_FLAG_SLEEPING";
    EXPECT_EQ(r.Header()->generation, gen + 1) << "generation bumped at power off";
    EXPECT_EQ(r.StatusOf(0, W)->running, 0u);
    EXPECT_EQ(r.StatusOf(1, R)->running, 0u);

    // Asleep: methods that touch the device are NOT_READY and do not reach it.
    const size_t asleep = r.dev.Mark();
    EXPECT_EQ(r.Call(kLpcCsrRead32, {kCtrlScratch}).status, LPC_RETURN_NOT_READY);
    EXPECT_NE(Message(r.LastError()).find("device asleep"), std::string::npos) << Message(r.LastError());
    EXPECT_EQ(r.Call(kLpcCsrWrite32, {kCtrlScratch, 1}).status, LPC_RETURN_NOT_READY);
    EXPECT_EQ(r.Call(kLpcBarRead32, {2, 0}).status, LPC_RETURN_NOT_READY);
    EXPECT_EQ(r.DmaStart(0, W, 32), LPC_RETURN_NOT_READY);
    EXPECT_EQ(r.Call(kLpcUpdateSwCount, {0, W, 0}).status, LPC_RETURN_NOT_READY);
    const CallResult w2 = r.Call(kLpcWaitBuffers, {0, W, 1, 10});
    EXPECT_EQ(w2.status, LPC_RETURN_NOT_READY);
    EXPECT_EQ(w2.tokenTaken, 0u);
    EXPECT_EQ(r.Call(kLpcSetLoopback, {0, 1}).status, LPC_RETURN_NOT_READY);
    EXPECT_EQ(r.Call(kLpcReset, {0}).status, LPC_RETURN_NOT_READY);
    EXPECT_EQ(r.Call(kLpcGetInfo, {}).status, LPC_RETURN_SUCCESS);
    EXPECT_NE(r.Info().flags & LPC_FLAG_SLEEPING, 0u);
    r.core.Interrupt(0, 1);
    r.core.SetPowerState(false); // already asleep
    EXPECT_EQ(r.dev.MmioSince(asleep).size(), 0u) << "MMIO while asleep:\n" << r.dev.DescribeSince(asleep);
    EXPECT_EQ(r.Header()->generation, gen + 1) << "a second power-off is a no-op";
}

TEST_F(Dma, PowerOnReenablesBusMasterAndLeavesChannelsStopped) {
    Rig& r = Up();
    ASSERT_EQ(r.DmaStart(0, W, 32), LPC_RETURN_SUCCESS);
    r.core.SetPowerState(false);
    const uint64_t gen = r.Header()->generation;
    r.dev.SetConfig(4, r.dev.Config(4) & ~0x4u); // D3hot lost bus mastering
    const size_t mark = r.dev.Mark();
    r.core.SetPowerState(true);
    const auto calls = r.dev.CallsSince(mark);
    const std::string trace = r.dev.DescribeSince(mark);
    ASSERT_FALSE(calls.empty());
    EXPECT_EQ(calls[0].kind, CallKind::ConfigRead) << "first check the device came back\n" << trace;
    EXPECT_EQ(calls[0].offset, 0u);
    EXPECT_EQ(r.dev.Config(4) & 0x6u, 0x6u) << "memory space + bus master re-enabled\n" << trace;
    EXPECT_TRUE(r.dev.WroteSince(mark, kMsiEnable));
    EXPECT_EQ(r.dev.Reg(kMsiEnable), 0u);
    for (uint32_t c = 0; c < 2; ++c) {
        for (uint32_t d = 0; d < 2; ++d) {
            EXPECT_FALSE(r.dev.WroteSince(mark, EngineReg(c, d, kRegEnable))) << "pcie_dma" << c << " " << DirName(d) << " restarted by power-on";
            EXPECT_EQ(r.StatusOf(c, d)->running, 0u);
        }
    }
    EXPECT_EQ(r.Header()->flags & LPC_FLAG_SLEEPING, 0u);
    EXPECT_EQ(r.Header()->generation, gen + 1) << "generation bumped at power on";
    const size_t again = r.dev.Mark();
    r.core.SetPowerState(true);
    EXPECT_EQ(r.dev.CallsSince(again).size(), 0u) << "power-on while awake is a no-op";
    EXPECT_EQ(r.DmaStart(0, W, 32), LPC_RETURN_SUCCESS) << "the client restarts its channels";
    EXPECT_EQ(r.Header()->generation, gen + 2);
}

TEST_F(Dma, DeviceThatDoesNotComeBackFromSleepIsGone) {
    Rig& r = Up();
    ASSERT_EQ(r.DmaStart(0, W, 32), LPC_RETURN_SUCCESS);
    r.core.SetPowerState(false);
    r.dev.SetGone(true);
    const size_t mark = r.dev.Mark();
    r.core.SetPowerState(true);
    EXPECT_EQ(r.dev.MmioSince(mark).size(), 0u) << r.dev.DescribeSince(mark);
    EXPECT_EQ(r.dev.CountSince(mark, CallKind::ConfigWrite), 0u);
    EXPECT_TRUE(r.dev.CoreMarkedGone());
    EXPECT_NE(r.Header()->flags & LPC_FLAG_DEVICE_GONE, 0u);
    EXPECT_EQ(r.Header()->flags & LPC_FLAG_SLEEPING, 0u);
    ExpectEverythingOfflineWithoutMmio(r);
}

} // namespace
