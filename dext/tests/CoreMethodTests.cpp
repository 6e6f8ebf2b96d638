// The external-method table: exact shapes, per-method validation, register access rules
// (docs/dext-design.md#method-table).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "FakeDevice.hpp"
#include "lpc/Validation.hpp"

namespace {

using namespace lpc_test;
using lpc::validation::MethodShape;
using lpc::validation::Shape;

class Methods : public ::testing::Test {
protected:
    Rig& Up(const LayoutOptions& o = LayoutOptions()) {
        rig_.reset(new Rig(o));
        EXPECT_TRUE(rig_->Up());
        return *rig_;
    }
    void TearDown() override {
        if (rig_) {
            EXPECT_EQ(rig_->Finish(), "");
        }
    }
    std::unique_ptr<Rig> rig_;
};

std::string Message(const LpcErrorInfo& e) { return std::string(e.message, strnlen(e.message, sizeof e.message)); }

const char* SelectorName(uint32_t s) {
    static const char* names[] = {"GetInfo",       "CsrRead32",   "CsrWrite32",  "BarRead32", "BarWrite32",   "ConfigRead32", "DmaStart",
                                  "DmaStop",       "UpdateSwCount", "WaitBuffers", "SetLoopback", "Reset", "GetDirStatus", "GetLastError"};
    return s < kLpcMethodCount ? names[s] : "?";
}

/// Calls `selector` with an arbitrary argument shape; every buffer is exactly as large as claimed.
CallResult CallShaped(Rig& r, uint64_t selector, const MethodShape& shape, uint64_t token = 0x5151) {
    std::vector<uint64_t> in(shape.scalarIn, 0);
    std::vector<uint8_t> structIn(shape.structIn, 0);
    CallResult res;
    res.out.assign(shape.scalarOut, UINT64_MAX);
    res.structOut.assign(shape.structOut, 0xCD);
    lpc::MethodArgs a;
    a.scalarInput = in.empty() ? nullptr : in.data();
    a.scalarInputCount = shape.scalarIn;
    a.structInput = structIn.empty() ? nullptr : structIn.data();
    a.structInputSize = shape.structIn;
    a.scalarOutput = res.out.empty() ? nullptr : res.out.data();
    a.scalarOutputCount = shape.scalarOut;
    a.structOutput = res.structOut.empty() ? nullptr : res.structOut.data();
    a.structOutputCapacity = shape.structOut;
    a.hasCompletion = shape.completion;
    a.asyncToken = token;
    res.status = r.core.ExternalMethod(r.client, selector, a);
    res.structOutputSize = a.structOutputSize;
    res.tokenTaken = a.asyncTokenTaken;
    res.token = token;
    return res;
}

// ---- dispatch shape ------------------------------------------------------------------------------

TEST_F(Methods, EveryWrongShapeIsBadArgumentAndExplained) {
    Rig& r = Up();
    struct Mutation {
        const char* what;
        const char* phrase;
    };
    for (uint32_t sel = 0; sel < kLpcMethodCount; ++sel) {
        const MethodShape good = Shape(sel);
        std::vector<std::pair<MethodShape, Mutation>> bad;
        MethodShape m = good;
        m.scalarIn = good.scalarIn + 1;
        bad.push_back({m, {"one scalar input too many", "scalar input count"}});
        if (good.scalarIn > 0) {
            m = good;
            m.scalarIn = good.scalarIn - 1;
            bad.push_back({m, {"one scalar input missing", "scalar input count"}});
        }
        m = good;
        m.structIn = 16;
        bad.push_back({m, {"a 16-byte struct input", "struct input size"}});
        m = good;
        m.scalarOut = good.scalarOut + 1;
        bad.push_back({m, {"one scalar output too many", "scalar output count"}});
        if (good.scalarOut > 0) {
            m = good;
            m.scalarOut = 0;
            bad.push_back({m, {"no room for the scalar output", "scalar output count"}});
        }
        m = good;
        m.structOut = good.structOut + 8;
        bad.push_back({m, {"struct output 8 bytes too large", "struct output size"}});
        if (good.structOut > 0) {
            m = good;
            m.structOut = good.structOut - 1;
            bad.push_back({m, {"struct output 1 byte too small", "struct output size"}});
        }
        m = good;
        m.completion = good.completion ? 0 : 1;
        bad.push_back({m, {good.completion ? "completion missing" : "completion where none is accepted", "async completion"}});

        for (const auto& b : bad) {
            const size_t mark = r.dev.Mark();
            const CallResult res = CallShaped(r, sel, b.first);
            EXPECT_EQ(res.status, LPC_RETURN_BAD_ARGUMENT) << SelectorName(sel) << " with " << b.second.what;
            EXPECT_EQ(res.tokenTaken, 0u) << SelectorName(sel) << " with " << b.second.what << ": token must not be taken";
            EXPECT_EQ(res.structOutputSize, 0u);
            EXPECT_EQ(r.dev.MmioSince(mark).size(), 0u) << SelectorName(sel) << " with " << b.second.what << " reached the device";
            const LpcErrorInfo e = r.LastError();
            EXPECT_EQ(e.status, LPC_RETURN_BAD_ARGUMENT) << SelectorName(sel) << " with " << b.second.what;
            if (sel != kLpcGetLastError) {
                EXPECT_EQ(e.selector, sel) << "GetLastError names the refused selector";
            }
            EXPECT_EQ(e.argument, 0xFFFFFFFFu);
            EXPECT_NE(Message(e).find(b.second.phrase), std::string::npos)
                << SelectorName(sel) << " with " << b.second.what << ": GetLastError says \"" << Message(e) << "\"";
        }
    }
    EXPECT_EQ(r.dev.CompletionCount(), 0u);
}

TEST_F(Methods, NullBuffersWithTheRightCountsAreRefused) {
    Rig& r = Up();
    lpc::MethodArgs a;
    a.scalarInputCount = 1; // CsrRead32 with no scalar array
    uint64_t out = 0;
    a.scalarOutput = &out;
    a.scalarOutputCount = 1;
    EXPECT_EQ(r.core.ExternalMethod(r.client, kLpcCsrRead32, a), LPC_RETURN_BAD_ARGUMENT);
    lpc::MethodArgs g;
    g.structOutputCapacity = sizeof(LpcInfo); // GetInfo with no output buffer
    EXPECT_EQ(r.core.ExternalMethod(r.client, kLpcGetInfo, g), LPC_RETURN_BAD_ARGUMENT);
    lpc::MethodArgs c;
    c.scalarOutputCount = 1; // Reset with no output array
    uint64_t type = 0;
    c.scalarInput = &type;
    c.scalarInputCount = 1;
    EXPECT_EQ(r.core.ExternalMethod(r.client, kLpcReset, c), LPC_RETURN_BAD_ARGUMENT);
    EXPECT_EQ(r.dev.SocResets(), 1u) << "a refused Reset must not pulse ctrl_reset";
}

TEST_F(Methods, UnknownSelectorIsUnsupported) {
    Rig& r = Up();
    for (uint64_t sel : {uint64_t{kLpcMethodCount}, uint64_t{255}, uint64_t{1} << 32, UINT64_MAX}) {
        const size_t mark = r.dev.Mark();
        EXPECT_EQ(CallShaped(r, sel, MethodShape{0, 0, 0, 0, 0}).status, LPC_RETURN_UNSUPPORTED) << "selector " << sel;
        EXPECT_EQ(r.dev.MmioSince(mark).size(), 0u);
        const LpcErrorInfo e = r.LastError();
        EXPECT_EQ(e.status, LPC_RETURN_UNSUPPORTED);
        EXPECT_NE(Message(e).find("selector"), std::string::npos) << Message(e);
    }
}

TEST_F(Methods, StaleClientIdIsNotOpen) {
    Rig& r = Up();
    const uint32_t id = r.client;
    EXPECT_EQ(Invoke(r.core, id + 1, kLpcGetInfo, {}).status, LPC_RETURN_NOT_OPEN) << "an id that was never issued";
    EXPECT_EQ(Invoke(r.core, 0, kLpcGetInfo, {}).status, LPC_RETURN_NOT_OPEN) << "client id 0";
    r.core.CloseClient(id);
    for (uint32_t sel = 0; sel < kLpcMethodCount; ++sel) {
        const size_t mark = r.dev.Mark();
        const std::vector<uint64_t> in(Shape(sel).scalarIn, 0);
        const CallResult res = Invoke(r.core, id, sel, in);
        EXPECT_EQ(res.status, LPC_RETURN_NOT_OPEN) << SelectorName(sel) << " by a closed client";
        EXPECT_EQ(res.tokenTaken, 0u);
        EXPECT_EQ(r.dev.MmioSince(mark).size(), 0u);
    }
    EXPECT_EQ(Invoke(r.core, id, kLpcMethodCount, {}).status, LPC_RETURN_NOT_OPEN) << "the client check comes first";
}

// ---- CsrRead32 / CsrWrite32 -----------------------------------------------------------------------

TEST_F(Methods, CsrReadAcceptsFirstAndLastWordOfBar0) {
    Rig& r = Up();
    size_t mark = r.dev.Mark();
    CallResult res = r.Call(kLpcCsrRead32, {0});
    EXPECT_EQ(res.status, LPC_RETURN_SUCCESS) << "offset 0 (ctrl_reset)";
    ASSERT_EQ(r.dev.MmioSince(mark).size(), 1u);
    EXPECT_EQ(r.dev.MmioSince(mark)[0].offset, 0u);
    r.dev.PokeReg(kMiB - 4, 0xCAFEF00D);
    mark = r.dev.Mark();
    res = r.Call(kLpcCsrRead32, {kMiB - 4});
    EXPECT_EQ(res.status, LPC_RETURN_SUCCESS) << "offset BAR0size-4 (0xFFFFC)";
    EXPECT_EQ(res.Out(), 0xCAFEF00Du);
    EXPECT_EQ(r.dev.MmioSince(mark)[0].offset, kMiB - 4);
    EXPECT_EQ(r.Call(kLpcCsrRead32, {kCtrlScratch}).Out(), kScratchReset) << "ctrl_scratch reset value";
    mark = r.dev.Mark();
    EXPECT_EQ(r.Call(kLpcCsrWrite32, {kMiB - 4, 0x600DF00D}).status, LPC_RETURN_SUCCESS) << "CsrWrite32 at BAR0size-4 (0xFFFFC)";
    EXPECT_TRUE(r.dev.WroteSince(mark, kMiB - 4));
    EXPECT_EQ(r.dev.Reg(kMiB - 4), 0x600DF00Du);
}

TEST_F(Methods, CsrOffsetsOutsideBar0AreRefusedWithTheRange) {
    Rig& r = Up();
    const uint64_t bad[] = {kMiB - 3, kMiB, kMiB + 4, 2, 0x4001, UINT64_MAX - 3, UINT64_MAX};
    for (uint64_t off : bad) {
        for (uint32_t sel : {uint32_t{kLpcCsrRead32}, uint32_t{kLpcCsrWrite32}}) {
            const size_t mark = r.dev.Mark();
            const std::vector<uint64_t> in = sel == kLpcCsrRead32 ? std::vector<uint64_t>{off} : std::vector<uint64_t>{off, 0};
            const CallResult res = r.Call(sel, in);
            EXPECT_EQ(res.status, LPC_RETURN_BAD_ARGUMENT) << SelectorName(sel) << " offset " << Hex(off);
            EXPECT_EQ(r.dev.MmioSince(mark).size(), 0u) << SelectorName(sel) << " offset " << Hex(off) << " reached BAR0";
            const LpcErrorInfo e = r.LastError();
            EXPECT_EQ(e.argument, 0u) << "the offset is scalar 0";
            EXPECT_EQ(e.selector, sel);
            const std::string msg = Message(e);
            EXPECT_NE(msg.find("offset"), std::string::npos) << msg;
            EXPECT_NE(msg.find("0..0xFFFFC"), std::string::npos) << "the accepted range must be named: " << msg;
        }
    }
}

TEST_F(Methods, CsrWriteValueMustFit32Bits) {
    Rig& r = Up();
    const size_t mark = r.dev.Mark();
    EXPECT_EQ(r.Call(kLpcCsrWrite32, {kCtrlScratch, 0x100000000ull}).status, LPC_RETURN_BAD_ARGUMENT);
    EXPECT_EQ(r.dev.MmioSince(mark).size(), 0u) << "ctrl_scratch written with a truncated value";
    const LpcErrorInfo e = r.LastError();
    EXPECT_EQ(e.argument, 1u);
    EXPECT_NE(Message(e).find("value"), std::string::npos) << Message(e);
    EXPECT_EQ(r.dev.Reg(kCtrlScratch), kScratchReset);
    EXPECT_EQ(r.Call(kLpcCsrWrite32, {kCtrlScratch, 0xFFFFFFFFull}).status, LPC_RETURN_SUCCESS);
    EXPECT_EQ(r.dev.Reg(kCtrlScratch), 0xFFFFFFFFu);
}

std::vector<uint32_t> DriverOwned(const LpcBoardLayout& l) {
    std::vector<uint32_t> regs;
    for (uint32_t c = 0; c < l.channelCount; ++c) {
        for (uint32_t d = 0; d < 2; ++d) {
            for (uint32_t reg : {kRegEnable, kRegTableValue, kRegTableValue + 4, kRegTableWe, kRegLoopProgN, kRegLoopStatus, kRegLevel, kRegTableReset}) {
                regs.push_back(EngineReg(c, d, reg));
            }
        }
        if (l.channels[c].loopbackEnable != LPC_NO_REGISTER) {
            regs.push_back(l.channels[c].loopbackEnable);
        }
    }
    for (uint32_t w = 0; w < l.msiEnableWords; ++w) {
        regs.push_back(l.msiEnable + 4 * w);
    }
    if (l.msiClear != LPC_NO_REGISTER) {
        regs.push_back(l.msiClear);
    }
    if (l.msixTable != LPC_NO_REGISTER) {
        regs.push_back(l.msixTable);
        regs.push_back(l.msixTable + l.msixTableBytes - 4);
    }
    if (l.ctrlReset != LPC_NO_REGISTER) {
        regs.push_back(l.ctrlReset);
    }
    return regs;
}

void ExpectDriverOwnedRefused(Rig& r) {
    for (uint32_t off : DriverOwned(r.layout)) {
        const uint32_t before = r.dev.Reg(off);
        const uint32_t resetsBefore = r.dev.SocResets();
        const size_t mark = r.dev.Mark();
        EXPECT_EQ(r.Call(kLpcCsrWrite32, {off, 0x1}).status, LPC_RETURN_NOT_PERMITTED) << "CsrWrite32 to " << RegisterName(r.layout, off);
        EXPECT_FALSE(r.dev.WroteSince(mark, off)) << RegisterName(r.layout, off) << " was written by a refused CsrWrite32";
        EXPECT_EQ(r.dev.MmioSince(mark).size(), 0u);
        EXPECT_EQ(r.dev.Reg(off), before) << RegisterName(r.layout, off) << " changed";
        EXPECT_EQ(r.dev.SocResets(), resetsBefore);
        const LpcErrorInfo e = r.LastError();
        EXPECT_EQ(e.status, LPC_RETURN_NOT_PERMITTED);
        EXPECT_EQ(e.argument, 0u);
        EXPECT_NE(Message(e).find("driver-owned"), std::string::npos) << Message(e);
    }
}

TEST_F(Methods, CsrWriteToDriverOwnedRegistersIsNotPermitted) {
    Rig& r = Up();
    ASSERT_EQ(r.DmaStart(0, kLpcDirWriter, 32), LPC_RETURN_SUCCESS); // registers hold live values
    ExpectDriverOwnedRefused(r);
    EXPECT_EQ(r.dev.Table(0, kLpcDirWriter).size(), 256u) << "pcie_dma0 writer table disturbed";
}

TEST_F(Methods, CsrWriteToDriverOwnedRegistersIsNotPermittedMsiX) {
    Rig& r = Up(MsiXOptions(64));
    ExpectDriverOwnedRefused(r);
}

TEST_F(Methods, CsrWriteToScratchAndSynchronizerPassesThrough) {
    Rig& r = Up();
    size_t mark = r.dev.Mark();
    ASSERT_EQ(r.Call(kLpcCsrWrite32, {kCtrlScratch, 0xDEADBEEF}).status, LPC_RETURN_SUCCESS);
    auto w = r.dev.MmioWritesSince(mark);
    ASSERT_EQ(w.size(), 1u);
    EXPECT_EQ(w[0].offset, kCtrlScratch);
    EXPECT_EQ(w[0].value, 0xDEADBEEFu);
    EXPECT_EQ(r.Call(kLpcCsrRead32, {kCtrlScratch}).Out(), 0xDEADBEEFu) << "ctrl_scratch reads back";
    const uint32_t sync = DmaBlock(1) + kSynchronizerBypassOffset;
    mark = r.dev.Mark();
    ASSERT_EQ(r.Call(kLpcCsrWrite32, {sync, 1}).status, LPC_RETURN_SUCCESS) << RegisterName(r.layout, sync);
    EXPECT_TRUE(r.dev.WroteSince(mark, sync));
    EXPECT_EQ(r.dev.Reg(sync), 1u);
}

TEST_F(Methods, CsrReadAllOnesWithLiveConfigIsABusErrorNotGone) {
    Rig& r = Up();
    r.dev.PokeReg(0x9000, 0xFFFFFFFFu); // an unmapped CSR reads all-ones
    const CallResult res = r.Call(kLpcCsrRead32, {0x9000});
    EXPECT_EQ(res.status, LPC_RETURN_SUCCESS);
    EXPECT_EQ(res.Out(), 0xFFFFFFFFu);
    EXPECT_EQ(r.Info().flags & LPC_FLAG_DEVICE_GONE, 0u) << "all-ones from BAR0 with a live config space is not removal";
    EXPECT_FALSE(r.dev.CoreMarkedGone());
    EXPECT_EQ(r.Call(kLpcCsrRead32, {kCtrlScratch}).status, LPC_RETURN_SUCCESS) << "MMIO continues";
}

// ---- BarRead32 / BarWrite32 -----------------------------------------------------------------------

TEST_F(Methods, BarAccessRefusesCsrBarAndUnimplementedBars) {
    Rig& r = Up();
    for (uint64_t bar : {uint64_t{0}, uint64_t{1}, uint64_t{3}, uint64_t{5}, uint64_t{6}, uint64_t{1} << 32, UINT64_MAX}) {
        const size_t mark = r.dev.Mark();
        EXPECT_EQ(r.Call(kLpcBarRead32, {bar, 0}).status, LPC_RETURN_BAD_ARGUMENT) << "BarRead32 of BAR " << bar;
        EXPECT_EQ(r.Call(kLpcBarWrite32, {bar, 0, 1}).status, LPC_RETURN_BAD_ARGUMENT) << "BarWrite32 of BAR " << bar;
        EXPECT_EQ(r.dev.MmioSince(mark).size(), 0u) << "BAR " << bar;
        const LpcErrorInfo e = r.LastError();
        EXPECT_EQ(e.argument, 0u);
        EXPECT_NE(Message(e).find("bar"), std::string::npos) << Message(e);
    }
}

TEST_F(Methods, BarOffsetsValidatedAgainstThatBar) {
    LayoutOptions o;
    o.bar2Size = 0x10000; // 64 KiB BAR2, 1 MiB BAR0
    Rig& r = Up(o);
    size_t mark = r.dev.Mark();
    ASSERT_EQ(r.Call(kLpcBarWrite32, {2, 0, 0x11111111}).status, LPC_RETURN_SUCCESS);
    ASSERT_EQ(r.Call(kLpcBarWrite32, {2, 0xFFFC, 0x22222222}).status, LPC_RETURN_SUCCESS) << "BAR2 offset size-4";
    auto w = r.dev.MmioWritesSince(mark);
    ASSERT_EQ(w.size(), 2u);
    EXPECT_EQ(w[0].bar, 2u) << "BarWrite32 must target BAR2, not the CSR BAR";
    EXPECT_EQ(r.dev.BarWord(2, 0xFFFC), 0x22222222u);
    EXPECT_EQ(r.Call(kLpcBarRead32, {2, 0xFFFC}).Out(), 0x22222222u);
    EXPECT_EQ(r.dev.Reg(0), 0u) << "BAR0 offset 0 untouched by a BAR2 write";
    for (uint64_t off : {uint64_t{0x10000}, uint64_t{0xFFFD}, uint64_t{2}, uint64_t{0x20000}, UINT64_MAX - 3}) {
        mark = r.dev.Mark();
        EXPECT_EQ(r.Call(kLpcBarRead32, {2, off}).status, LPC_RETURN_BAD_ARGUMENT) << "BAR2 offset " << Hex(off);
        const LpcErrorInfo e = r.LastError();
        EXPECT_EQ(e.argument, 1u);
        EXPECT_NE(Message(e).find("0..0xFFFC"), std::string::npos) << Message(e);
        EXPECT_EQ(r.Call(kLpcBarWrite32, {2, off, 0}).status, LPC_RETURN_BAD_ARGUMENT) << "BAR2 offset " << Hex(off);
        EXPECT_EQ(r.dev.MmioSince(mark).size(), 0u);
    }
    mark = r.dev.Mark();
    EXPECT_EQ(r.Call(kLpcBarWrite32, {2, 0, 0x100000000ull}).status, LPC_RETURN_BAD_ARGUMENT);
    EXPECT_EQ(r.LastError().argument, 2u);
    EXPECT_EQ(r.dev.MmioSince(mark).size(), 0u);
}

// ---- ConfigRead32 -------------------------------------------------------------------------------

TEST_F(Methods, ConfigReadBounds) {
    Rig& r = Up();
    EXPECT_EQ(r.Call(kLpcConfigRead32, {0}).Out(), (uint32_t{kDeviceId} << 16) | kVendorId) << "vendor/device";
    EXPECT_EQ(r.Call(kLpcConfigRead32, {8}).Out(), (kClassCode << 8) | kRevision) << "revision/class";
    EXPECT_EQ(r.Call(kLpcConfigRead32, {0xFFC}).status, LPC_RETURN_SUCCESS) << "last dword 0xFFC";
    for (uint64_t off : {uint64_t{0x1000}, uint64_t{0xFFD}, uint64_t{2}, UINT64_MAX - 3}) {
        EXPECT_EQ(r.Call(kLpcConfigRead32, {off}).status, LPC_RETURN_BAD_ARGUMENT) << "config offset " << Hex(off);
        EXPECT_NE(Message(r.LastError()).find("0..0xFFC"), std::string::npos);
    }
}

// ---- GetInfo / GetDirStatus / GetLastError ---------------------------------------------------------

TEST_F(Methods, GetInfoFields) {
    Rig& r = Up();
    const CallResult res = r.Call(kLpcGetInfo, {});
    ASSERT_EQ(res.status, LPC_RETURN_SUCCESS);
    EXPECT_EQ(res.structOutputSize, sizeof(LpcInfo));
    const LpcInfo i = res.As<LpcInfo>();
    EXPECT_EQ(i.magic, LPC_INFO_MAGIC);
    EXPECT_EQ(i.abiMajor, LPC_ABI_MAJOR);
    EXPECT_EQ(i.abiMinor, LPC_ABI_MINOR);
    EXPECT_EQ(i.channelCount, 2u);
    EXPECT_EQ(i.bufferCount, 256u);
    EXPECT_EQ(i.bufferSize, 8192u);
    EXPECT_EQ(i.dmaAddressWidth, 32u);
    EXPECT_EQ(i.msiFlavour, uint32_t{kLpcMsiSingle});
    EXPECT_EQ(i.flags, 0u);
    EXPECT_EQ(i.vendorId, kVendorId);
    EXPECT_EQ(i.deviceId, kDeviceId);
    EXPECT_EQ(i.revision, kRevision);
    EXPECT_EQ(i.classCode, kClassCode);
    EXPECT_EQ(i.channelFeatures[0], r.layout.channels[0].features);
    EXPECT_NE(i.channelFeatures[1] & LPC_FEATURE_LOOPBACK, 0u);
    EXPECT_EQ(i.channelFeatures[2], 0u) << "no channel 2";
    EXPECT_EQ(i.generation, 1u);
    EXPECT_EQ(i.barSizes[0], kMiB);
    EXPECT_EQ(i.barSizes[1], 0u);
    EXPECT_EQ(i.barSizes[2], kMiB);
    EXPECT_STREQ(reinterpret_cast<const char*>(i.identifier), kDefaultIdentifier);
    EXPECT_EQ(i.reserved1, 0u);
}

TEST_F(Methods, GetInfoOfOtherLayouts) {
    LayoutOptions o = Dma64Options();
    o.msiFlavour = kLpcMsiX;
    o.msixVectors = 64;
    o.bufferCount = 64;
    o.bufferSize = 4096;
    o.loopback = false;
    Rig& r = Up(o);
    const LpcInfo i = r.Info();
    EXPECT_EQ(i.dmaAddressWidth, 64u);
    EXPECT_EQ(i.msiFlavour, uint32_t{kLpcMsiX});
    EXPECT_EQ(i.bufferCount, 64u);
    EXPECT_EQ(i.bufferSize, 4096u);
    EXPECT_EQ(i.channelFeatures[0] & LPC_FEATURE_LOOPBACK, 0u);
}

TEST_F(Methods, GetDirStatus) {
    Rig& r = Up();
    CallResult res = r.Call(kLpcGetDirStatus, {1, kLpcDirReader});
    ASSERT_EQ(res.status, LPC_RETURN_SUCCESS);
    EXPECT_EQ(res.structOutputSize, sizeof(LpcDirStatus));
    LpcDirStatus s = res.As<LpcDirStatus>();
    EXPECT_EQ(s.running, 0u);
    EXPECT_EQ(s.hwCount, 0u);
    ASSERT_EQ(r.DmaStart(1, kLpcDirReader, 16), LPC_RETURN_SUCCESS);
    r.InterruptWithCount(1, kLpcDirReader, 48);
    s = r.DirStatus(1, kLpcDirReader);
    EXPECT_EQ(s.running, 1u);
    EXPECT_EQ(s.irqEvery, 16u);
    EXPECT_EQ(s.generation, 2u) << "generation at which pcie_dma1 reader started";
    EXPECT_EQ(s.hwCount, 48u);
    EXPECT_EQ(s.irqCount, 1u);
    EXPECT_EQ(r.DirStatus(1, kLpcDirWriter).running, 0u) << "the writer of the same channel is independent";

    EXPECT_EQ(r.Call(kLpcGetDirStatus, {2, 0}).status, LPC_RETURN_BAD_ARGUMENT) << "channel 2 of 2";
    LpcErrorInfo e = r.LastError();
    EXPECT_EQ(e.argument, 0u);
    EXPECT_NE(Message(e).find("0..1"), std::string::npos) << Message(e);
    EXPECT_EQ(r.Call(kLpcGetDirStatus, {0, 2}).status, LPC_RETURN_BAD_ARGUMENT) << "direction 2";
    e = r.LastError();
    EXPECT_EQ(e.argument, 1u);
    EXPECT_NE(Message(e).find("direction"), std::string::npos) << Message(e);
    EXPECT_EQ(r.Call(kLpcGetDirStatus, {1ull << 32, 0}).status, LPC_RETURN_BAD_ARGUMENT) << "channel 2^32";
}

TEST_F(Methods, GetLastErrorIsClearedBySuccessAndKeptByItself) {
    Rig& r = Up();
    ASSERT_EQ(r.Call(kLpcCsrRead32, {3}).status, LPC_RETURN_BAD_ARGUMENT);
    EXPECT_EQ(r.LastError().status, LPC_RETURN_BAD_ARGUMENT);
    EXPECT_EQ(r.LastError().status, LPC_RETURN_BAD_ARGUMENT) << "reading the error does not clear it";
    ASSERT_EQ(r.Call(kLpcCsrRead32, {4}).status, LPC_RETURN_SUCCESS);
    const LpcErrorInfo e = r.LastError();
    EXPECT_EQ(e.status, 0) << "a successful call clears the last error";
    EXPECT_EQ(e.selector, uint32_t{kLpcCsrRead32});
    EXPECT_EQ(Invoke(r.core, r.client + 7, kLpcGetLastError, {}).status, LPC_RETURN_NOT_OPEN);
}

// ---- Reset --------------------------------------------------------------------------------------

TEST_F(Methods, ResetRefusedWhileAChannelRuns) {
    Rig& r = Up();
    ASSERT_EQ(r.DmaStart(1, kLpcDirReader, 32), LPC_RETURN_SUCCESS);
    const size_t mark = r.dev.Mark();
    for (uint64_t type : {0u, 1u, 2u}) {
        EXPECT_EQ(r.Call(kLpcReset, {type}).status, LPC_RETURN_BUSY) << "reset type " << type << " with pcie_dma1 reader running";
        EXPECT_NE(Message(r.LastError()).find("running"), std::string::npos);
    }
    EXPECT_FALSE(r.dev.WroteSince(mark, kCtrlReset)) << "ctrl_reset written while DMA runs";
    EXPECT_EQ(r.dev.CountSince(mark, CallKind::ResetFunction), 0u);
    EXPECT_EQ(r.dev.SocResets(), 1u);
}

TEST_F(Methods, SocResetWritesCtrlResetAndBumpsGeneration) {
    Rig& r = Up();
    ASSERT_EQ(r.DmaStart(0, kLpcDirWriter, 32), LPC_RETURN_SUCCESS);
    ASSERT_EQ(r.DmaStop(0, kLpcDirWriter), LPC_RETURN_SUCCESS);
    const uint64_t gen = r.Info().generation;
    r.dev.PokeReg(kCtrlScratch, 0x1);
    const size_t mark = r.dev.Mark();
    const CallResult res = r.Call(kLpcReset, {kLpcResetSoc});
    ASSERT_EQ(res.status, LPC_RETURN_SUCCESS);
    EXPECT_EQ(res.Out(), gen + 1) << "Reset returns the new generation";
    EXPECT_EQ(r.Info().generation, gen + 1);
    EXPECT_EQ(r.Header()->generation, gen + 1);
    const auto calls = r.dev.CallsSince(mark);
    ASSERT_GE(calls.size(), 2u);
    EXPECT_EQ(calls[0].kind, CallKind::MmioWrite);
    EXPECT_EQ(calls[0].offset, kCtrlReset) << "first: ctrl_reset <- 1\n" << r.dev.DescribeSince(mark);
    EXPECT_EQ(calls[0].value, 1u);
    EXPECT_EQ(calls[1].kind, CallKind::Delay);
    EXPECT_EQ(calls[1].value, 10000u);
    EXPECT_EQ(r.dev.SocResets(), 2u);
    EXPECT_EQ(r.dev.Reg(kCtrlScratch), kScratchReset) << "the SoC reset restored ctrl_scratch";
    EXPECT_TRUE(r.dev.WroteSince(mark, kMsiEnable)) << "pcie_msi_enable re-written after the reset";
    EXPECT_EQ(r.DmaStart(0, kLpcDirWriter, 32), LPC_RETURN_SUCCESS) << "channels can be restarted after a reset";
}

TEST_F(Methods, FunctionAndHotResetGoThroughThePlatform) {
    Rig& r = Up();
    for (uint32_t type : {uint32_t{kLpcResetFunction}, uint32_t{kLpcResetHot}}) {
        const uint64_t gen = r.Info().generation;
        const size_t mark = r.dev.Mark();
        const CallResult res = r.Call(kLpcReset, {type});
        ASSERT_EQ(res.status, LPC_RETURN_SUCCESS) << "reset type " << type;
        EXPECT_EQ(res.Out(), gen + 1);
        const auto calls = r.dev.CallsSince(mark);
        ASSERT_FALSE(calls.empty());
        EXPECT_EQ(calls[0].kind, CallKind::ResetFunction);
        EXPECT_EQ(calls[0].bar, type);
        EXPECT_FALSE(r.dev.WroteSince(mark, kCtrlReset)) << "a function/hot reset must not pulse ctrl_reset";
        bool busMaster = false;
        for (const PlatformCall& c : calls) {
            busMaster |= c.kind == CallKind::ConfigWrite && c.offset == 4 && (c.value & 0x4) != 0;
        }
        EXPECT_TRUE(busMaster) << "bus mastering restored after the platform reset";
    }
}

TEST_F(Methods, ResetTypeAndPlatformRefusal) {
    Rig& r = Up();
    EXPECT_EQ(r.Call(kLpcReset, {3}).status, LPC_RETURN_BAD_ARGUMENT);
    EXPECT_EQ(r.LastError().argument, 0u);
    EXPECT_EQ(r.Call(kLpcReset, {UINT64_MAX}).status, LPC_RETURN_BAD_ARGUMENT);
    r.dev.SetResetFunctionStatus(LPC_RETURN_UNSUPPORTED);
    const uint64_t gen = r.Info().generation;
    EXPECT_EQ(r.Call(kLpcReset, {kLpcResetFunction}).status, LPC_RETURN_UNSUPPORTED) << "the platform's status is returned";
    EXPECT_EQ(r.Info().generation, gen) << "a refused reset does not bump the generation";
}

TEST_F(Methods, SocResetWithoutCtrlResetIsUnsupported) {
    LayoutOptions o;
    o.ctrlReset = false;
    Rig& r = Up(o);
    const size_t mark = r.dev.Mark();
    EXPECT_EQ(r.Call(kLpcReset, {kLpcResetSoc}).status, LPC_RETURN_UNSUPPORTED);
    EXPECT_EQ(r.dev.MmioWritesSince(mark).size(), 0u);
}

} // namespace
