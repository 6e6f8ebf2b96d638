// Driver Start/Stop, client open/close (docs/dext-design.md#start and
// #stop-client-death-and-power; docs/linux-driver.md#matching-and-probe).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "FakeDevice.hpp"

namespace {

using namespace lpc_test;

constexpr uint16_t kMemorySpace = 0x2;
constexpr uint16_t kBusMaster = 0x4;

class Lifecycle : public ::testing::Test {
protected:
    Rig& Make(const LayoutOptions& o = LayoutOptions()) {
        rig_.reset(new Rig(o));
        return *rig_;
    }
    Rig& Make(const LpcBoardLayout& l) {
        rig_.reset(new Rig(l));
        return *rig_;
    }
    void TearDown() override {
        if (rig_) {
            EXPECT_EQ(rig_->Finish(), "");
        }
    }
    std::unique_ptr<Rig> rig_;
};

using Pred = std::function<bool(const PlatformCall&)>;

long IndexOf(const std::vector<PlatformCall>& calls, const Pred& p, size_t from = 0) {
    for (size_t i = from; i < calls.size(); ++i) {
        if (p(calls[i])) {
            return static_cast<long>(i);
        }
    }
    return -1;
}

long LastIndexOf(const std::vector<PlatformCall>& calls, const Pred& p) {
    for (size_t i = calls.size(); i-- > 0;) {
        if (p(calls[i])) {
            return static_cast<long>(i);
        }
    }
    return -1;
}

Pred Is(CallKind k) {
    return [k](const PlatformCall& c) { return c.kind == k; };
}
Pred Writes(uint64_t offset, uint64_t value) {
    return [=](const PlatformCall& c) { return c.kind == CallKind::MmioWrite && c.bar == 0 && c.offset == offset && c.value == value; };
}
Pred WritesAny(uint64_t offset) {
    return [=](const PlatformCall& c) { return c.kind == CallKind::MmioWrite && c.bar == 0 && c.offset == offset; };
}
Pred CommandWrite() {
    return [](const PlatformCall& c) { return c.kind == CallKind::ConfigWrite && c.offset == 4; };
}
Pred BusMasterOn() {
    return [](const PlatformCall& c) { return c.kind == CallKind::ConfigWrite && c.offset == 4 && (c.value & kBusMaster) != 0; };
}

// ---- Start --------------------------------------------------------------------------------------

TEST_F(Lifecycle, StartPulsesSocResetThenWaits10ms) {
    Rig& r = Make();
    ASSERT_EQ(r.Start(), LPC_RETURN_SUCCESS);
    const auto calls = r.dev.Calls();
    const long reset = IndexOf(calls, Writes(kCtrlReset, 1));
    ASSERT_GE(reset, 0) << "Start must write ctrl_reset (0x0) <- 1\n" << r.dev.DescribeSince(0);
    ASSERT_LT(static_cast<size_t>(reset + 1), calls.size());
    EXPECT_EQ(calls[reset + 1].kind, CallKind::Delay) << "ctrl_reset must be followed by the 10 ms delay";
    EXPECT_EQ(calls[reset + 1].value, 10000u) << "delay after ctrl_reset in µs";
    EXPECT_EQ(r.dev.SocResets(), 1u);
    const long firstIdent = IndexOf(calls, [](const PlatformCall& c) { return c.kind == CallKind::MmioRead && c.offset == kIdentifierBase; });
    EXPECT_GT(firstIdent, reset) << "identifier_mem must be read after the SoC reset";
}

TEST_F(Lifecycle, StartWithoutCtrlResetSkipsResetAndDelay) {
    LayoutOptions o;
    o.ctrlReset = false;
    Rig& r = Make(o);
    ASSERT_EQ(r.Start(), LPC_RETURN_SUCCESS);
    EXPECT_EQ(IndexOf(r.dev.Calls(), WritesAny(kCtrlReset)), -1) << "no ctrl_reset in the layout: offset 0 must not be written";
    EXPECT_EQ(r.dev.CountSince(0, CallKind::Delay), 0u);
}

TEST_F(Lifecycle, StartReadsIdentifierFromRom) {
    Rig& r = Make();
    ASSERT_TRUE(r.Up());
    const std::string ident = kDefaultIdentifier;
    const auto calls = r.dev.Calls();
    // One word per character, then the NUL word, at identifier_mem + 4 * i.
    for (size_t i = 0; i <= ident.size(); ++i) {
        EXPECT_GE(IndexOf(calls, [&](const PlatformCall& c) { return c.kind == CallKind::MmioRead && c.offset == kIdentifierBase + 4 * i; }), 0)
            << "identifier_mem[" << i << "] (" << Hex(kIdentifierBase + 4 * i) << ") not read";
    }
    EXPECT_EQ(IndexOf(calls, [&](const PlatformCall& c) { return c.kind == CallKind::MmioRead && c.offset == kIdentifierBase + 4 * (ident.size() + 1); }), -1)
        << "reading must stop at the NUL";
    const LpcInfo info = r.Info();
    EXPECT_STREQ(reinterpret_cast<const char*>(info.identifier), kDefaultIdentifier);
    EXPECT_EQ(info.flags & LPC_FLAG_IDENT_MISMATCH, 0u);
}

TEST_F(Lifecycle, IdentifierMismatchIsFlaggedInInfoAndStatusPage) {
    Rig& r = Make();
    r.dev.SetIdentifierRom("LitePCIe standalone core 2027-01-01 00:00:00");
    ASSERT_TRUE(r.Up()) << "a stale csr.json is reported, not refused";
    const LpcInfo info = r.Info();
    EXPECT_NE(info.flags & LPC_FLAG_IDENT_MISMATCH, 0u) << "LpcInfo.flags must carry LPC_FLAG_IDENT_MISMATCH";
    EXPECT_STREQ(reinterpret_cast<const char*>(info.identifier), "LitePCIe standalone core 2027-01-01 00:00:00")
        << "GetInfo reports what the ROM holds";
    ASSERT_NE(r.Header(), nullptr);
    EXPECT_NE(r.Header()->flags & LPC_FLAG_IDENT_MISMATCH, 0u) << "status page flags must carry LPC_FLAG_IDENT_MISMATCH";
    bool logged = false;
    for (const std::string& l : r.dev.Logs()) {
        logged |= l.find("identifier") != std::string::npos;
    }
    EXPECT_TRUE(logged) << "the mismatch is logged";
}

TEST_F(Lifecycle, IdentifierPrefixIsAMismatch) {
    Rig& r = Make();
    r.dev.SetIdentifierRom("LitePCIe standalone core");
    ASSERT_TRUE(r.Up());
    EXPECT_NE(r.Info().flags & LPC_FLAG_IDENT_MISMATCH, 0u) << "a truncated ROM string must not match";
}

TEST_F(Lifecycle, ConfigAllOnesAtStartIsOffline) {
    Rig& r = Make();
    r.dev.SetGone(true);
    EXPECT_EQ(r.Start(), LPC_RETURN_OFFLINE);
    EXPECT_EQ(r.dev.CountSince(0, CallKind::AllocateDma) + r.dev.CountSince(0, CallKind::AllocateShared), 0u) << "nothing allocated";
    EXPECT_EQ(r.dev.MmioSince(0).size(), 0u) << "no MMIO to an absent device:\n" << r.dev.DescribeSince(0);
    EXPECT_EQ(r.dev.CommandWrites().size(), 0u) << "no command register write to an absent device";
    uint32_t id = 0;
    EXPECT_EQ(r.core.OpenClient(0, &id), LPC_RETURN_NOT_READY) << "no client on a driver that did not start";
}

TEST_F(Lifecycle, BadLayoutIsRefusedBeforeTouchingTheDevice) {
    LpcBoardLayout l = MakeLayout();
    l.bufferCount = 100;
    Rig& r = Make(l);
    EXPECT_EQ(r.Start(), LPC_RETURN_BAD_ARGUMENT);
    for (const PlatformCall& c : r.dev.Calls()) {
        EXPECT_EQ(c.kind, CallKind::Log) << "unexpected platform call before the layout was accepted: " << r.dev.Describe(c);
    }
    ASSERT_FALSE(r.dev.Logs().empty());
    EXPECT_NE(r.dev.Logs()[0].find("bufferCount"), std::string::npos) << r.dev.Logs()[0];
}

struct RingRefusal {
    const char* name;
    std::function<void(DmaPlan&)> apply;
};

TEST_F(Lifecycle, RingRefusedIsNoMemoryWithNothingLeaked) {
    const RingRefusal cases[] = {
        {"no segments", [](DmaPlan& p) { p.segments = 0; }},
        {"short by one buffer", [](DmaPlan& p) { p.shortenBy = 8192; }},
        {"buffer across a segment boundary", [](DmaPlan& p) { p.segments = 2; p.crossBoundary = true; }},
        {"ring above 4 GiB on a 32-bit design", [](DmaPlan& p) { p.busBase = 0x100000000ull; }},
        {"third AllocateDma fails", [](DmaPlan& p) { p.failAtAllocation = 2; }},
        {"first AllocateDma fails", [](DmaPlan& p) { p.failAtAllocation = 0; }},
    };
    for (const RingRefusal& rc : cases) {
        Rig& r = Make();
        rc.apply(r.dev.Plan());
        EXPECT_EQ(r.Start(), LPC_RETURN_NO_MEMORY) << rc.name;
        EXPECT_EQ(r.dev.LiveDmaBuffers(), 0u) << rc.name << ": DMA rings leaked";
        EXPECT_EQ(r.dev.LiveSharedBuffers(), 0u) << rc.name << ": status page leaked";
        EXPECT_EQ(r.core.GetStats().liveDmaBuffers, 0u) << rc.name;
        EXPECT_EQ(IndexOf(r.dev.Calls(), BusMasterOn()), -1) << rc.name << ": bus mastering enabled without usable rings";
        EXPECT_TRUE(r.dev.Violations().empty()) << rc.name << ": " << (r.dev.Violations().empty() ? "" : r.dev.Violations()[0]);
        uint32_t id = 0;
        EXPECT_EQ(r.core.OpenClient(0, &id), LPC_RETURN_NOT_READY) << rc.name;
        // The driver can start once the platform behaves.
        r.dev.Plan() = DmaPlan();
        EXPECT_EQ(r.Start(), LPC_RETURN_SUCCESS) << rc.name << ": Start after a refused ring";
        EXPECT_EQ(r.Finish(), "") << rc.name;
    }
    rig_.reset();
}

TEST_F(Lifecycle, StatusPageRefusedIsNoMemory) {
    Rig& r = Make();
    r.dev.SetSharedFails(true);
    EXPECT_EQ(r.Start(), LPC_RETURN_NO_MEMORY);
    EXPECT_EQ(r.dev.CountSince(0, CallKind::AllocateDma), 0u) << "rings are allocated after the status page";
    EXPECT_EQ(r.dev.LiveSharedBuffers(), 0u);
}

// Regression (was a bug in Core.cpp, Start, the AllocateShared check): when AllocateShared succeeds but returns a page
// shorter than LPC_STATUS_PAGE_BYTES (or a null cpu pointer), the core overwrites status_ with
// SharedMemory{} without calling FreeShared, leaking the platform's page. Fixed: Start
// frees a successful-but-unusable allocation before clearing it.
TEST_F(Lifecycle, ShortStatusPageIsFreed) {
    Rig& r = Make();
    r.dev.SetSharedShortBy(4096);
    EXPECT_EQ(r.Start(), LPC_RETURN_NO_MEMORY);
    EXPECT_EQ(r.dev.LiveSharedBuffers(), 0u) << "a 12 KiB status page was refused but never freed";
}

TEST_F(Lifecycle, BusMasterEnabledOnlyAfterEveryRingIsAllocated) {
    Rig& r = Make();
    ASSERT_EQ(r.Start(), LPC_RETURN_SUCCESS);
    const auto calls = r.dev.Calls();
    const long firstCommand = IndexOf(calls, CommandWrite());
    ASSERT_GE(firstCommand, 0);
    EXPECT_NE(calls[firstCommand].value & kMemorySpace, 0u) << "first command write enables memory space";
    EXPECT_EQ(calls[firstCommand].value & kBusMaster, 0u) << "first command write keeps bus mastering off";
    const long busMaster = IndexOf(calls, BusMasterOn());
    ASSERT_GE(busMaster, 0) << "bus mastering never enabled";
    EXPECT_EQ(IndexOf(calls, BusMasterOn(), static_cast<size_t>(busMaster) + 1), -1) << "bus master enabled twice";
    const long lastAlloc = LastIndexOf(calls, Is(CallKind::AllocateDma));
    EXPECT_EQ(r.dev.CountSince(0, CallKind::AllocateDma), 4u) << "2 channels x 2 directions";
    EXPECT_GT(busMaster, lastAlloc) << "bus master must be set after the last AllocateDma";
    EXPECT_GT(busMaster, IndexOf(calls, Is(CallKind::AllocateShared)));
    EXPECT_EQ(r.dev.Config(4) & 0x6u, 0x6u) << "command register ends with memory space + bus master";
    for (const PlatformCall& c : calls) {
        if (c.kind == CallKind::AllocateDma) {
            EXPECT_EQ(c.bar, 32u) << "rings must be allocated for the design's 32-bit DMA addresses";
            EXPECT_EQ(c.offset, 256u * 8192u) << "ring bytes = bufferCount * bufferSize";
        }
    }
    // Nothing is written to the DMA tables at Start.
    for (const PlatformCall& c : calls) {
        if (c.kind == CallKind::MmioWrite) {
            EXPECT_LT(c.offset, uint64_t{kDmaBase}) << "Start wrote a DMA register: " << r.dev.Describe(c);
        }
    }
}

TEST_F(Lifecycle, StartTwiceIsBusy) {
    Rig& r = Make();
    ASSERT_TRUE(r.Up());
    const size_t mark = r.dev.Mark();
    EXPECT_EQ(r.Start(), LPC_RETURN_BUSY);
    EXPECT_EQ(r.dev.CallsSince(mark).size(), 0u) << "a refused second Start must not touch the device:\n" << r.dev.DescribeSince(mark);
    EXPECT_EQ(r.Info().generation, 1u);
}

TEST_F(Lifecycle, StartPublishesStatusPageHeader) {
    Rig& r = Make();
    ASSERT_TRUE(r.Up());
    const LpcStatusHeader* h = r.Header();
    ASSERT_NE(h, nullptr);
    EXPECT_EQ(h->magic, LPC_STATUS_MAGIC);
    EXPECT_EQ(h->abiMajor, LPC_ABI_MAJOR);
    EXPECT_EQ(h->channelCount, 2u);
    EXPECT_EQ(h->bufferCount, 256u);
    EXPECT_EQ(h->bufferSize, 8192u);
    EXPECT_EQ(h->generation, 1u);
    EXPECT_EQ(h->flags, 0u);
    EXPECT_EQ(r.dev.Reg(kMsiEnable), 0u) << "pcie_msi_enable cleared at Start";
}

// ---- clients ------------------------------------------------------------------------------------

TEST_F(Lifecycle, OpenClientBeforeStartIsNotReady) {
    Rig& r = Make();
    uint32_t id = 0;
    EXPECT_EQ(r.core.OpenClient(0, &id), LPC_RETURN_NOT_READY);
}

TEST_F(Lifecycle, OpenClientTypeMustBeZero) {
    Rig& r = Make();
    ASSERT_EQ(r.Start(), LPC_RETURN_SUCCESS);
    uint32_t id = 1234;
    EXPECT_EQ(r.core.OpenClient(1, &id), LPC_RETURN_BAD_ARGUMENT);
    EXPECT_EQ(r.core.OpenClient(0xFFFFFFFFu, &id), LPC_RETURN_BAD_ARGUMENT);
    EXPECT_EQ(id, 1234u) << "id untouched on refusal";
    EXPECT_EQ(r.Open(), LPC_RETURN_SUCCESS) << "a refused type does not take the slot";
}

TEST_F(Lifecycle, OneClientPerDeviceAndReopenAfterClose) {
    Rig& r = Make();
    ASSERT_TRUE(r.Up());
    const uint32_t first = r.client;
    EXPECT_NE(first, 0u);
    uint32_t second = 0;
    EXPECT_EQ(r.core.OpenClient(0, &second), LPC_RETURN_EXCLUSIVE_ACCESS) << "second client while one is attached";
    r.core.CloseClient(first);
    ASSERT_EQ(r.core.OpenClient(0, &second), LPC_RETURN_SUCCESS) << "reopen after close";
    EXPECT_NE(second, first) << "a new client gets a new id";
    EXPECT_EQ(Invoke(r.core, first, kLpcGetInfo, {}).status, LPC_RETURN_NOT_OPEN) << "the closed client's id is stale";
    EXPECT_EQ(Invoke(r.core, second, kLpcGetInfo, {}).status, LPC_RETURN_SUCCESS);
    r.core.CloseClient(first); // stale close: no effect on the new client
    EXPECT_EQ(Invoke(r.core, second, kLpcGetInfo, {}).status, LPC_RETURN_SUCCESS) << "closing a stale id must not detach the new client";
    EXPECT_EQ(r.core.GetStats().clientsOpened, 2u);
}

TEST_F(Lifecycle, CloseClientStopsItsChannelsAndAbortsItsWait) {
    Rig& r = Make();
    ASSERT_TRUE(r.Up());
    ASSERT_EQ(r.DmaStart(1, kLpcDirWriter, 32), LPC_RETURN_SUCCESS);
    const CallResult wait = r.Call(kLpcWaitBuffers, {1, kLpcDirWriter, 100, 1000});
    ASSERT_EQ(wait.status, LPC_RETURN_SUCCESS);
    ASSERT_EQ(wait.tokenTaken, 1u);
    ASSERT_EQ(r.dev.CompletionCount(), 0u) << "the wait is pending";
    const size_t mark = r.dev.Mark();
    r.core.CloseClient(r.client);

    // The stop sequence of pcie_dma1 writer (docs/linux-driver.md#start-and-stop-sequences).
    const auto writes = r.dev.MmioWritesSince(mark);
    const std::vector<std::pair<uint32_t, uint32_t>> expected = {
        {kMsiEnable, 0},
        {EngineReg(1, kLpcDirWriter, kRegLoopProgN), 0},
        {EngineReg(1, kLpcDirWriter, kRegTableReset), 1},
        {EngineReg(1, kLpcDirWriter, kRegEnable), 0},
        {EngineReg(1, kLpcDirWriter, kRegTableReset), 1},
    };
    ASSERT_EQ(writes.size(), expected.size()) << r.dev.DescribeSince(mark);
    for (size_t i = 0; i < expected.size(); ++i) {
        EXPECT_EQ(writes[i].offset, expected[i].first) << "stop write " << i << ": got " << r.dev.Describe(writes[i]) << ", expected "
                                                        << RegisterName(r.layout, expected[i].first);
        EXPECT_EQ(writes[i].value, expected[i].second) << "stop write " << i << " to " << RegisterName(r.layout, expected[i].first);
    }
    const auto done = r.dev.Completions();
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].token, wait.token);
    EXPECT_EQ(done[0].status, LPC_RETURN_ABORTED) << "the closing client's wait completes with LPC_RETURN_ABORTED";
    EXPECT_EQ(r.core.GetStats().pendingWaits, 0u);

    // The next client finds the channel stopped and can start it again.
    ASSERT_EQ(r.Open(), LPC_RETURN_SUCCESS);
    EXPECT_EQ(r.DirStatus(1, kLpcDirWriter).running, 0u) << "pcie_dma1 writer still marked running after its client closed";
    EXPECT_EQ(r.DmaStart(1, kLpcDirWriter, 32), LPC_RETURN_SUCCESS);
}

TEST_F(Lifecycle, CopyClientMemory) {
    Rig& r = Make();
    ASSERT_TRUE(r.Up());
    void* cpu = nullptr;
    uint64_t length = 0;
    uint32_t readOnly = 7;
    void* handle = nullptr;
    ASSERT_EQ(r.core.CopyClientMemory(r.client, LPC_MEMORY_TYPE(kLpcMemStatus, 0), &cpu, &length, &readOnly, &handle), LPC_RETURN_SUCCESS);
    EXPECT_NE(cpu, nullptr);
    EXPECT_EQ(length, uint64_t{LPC_STATUS_PAGE_BYTES});
    EXPECT_EQ(readOnly, 1u) << "the status page is read-only to the client";
    ASSERT_EQ(r.core.CopyClientMemory(r.client, LPC_MEMORY_TYPE(kLpcMemWriterRing, 1), &cpu, &length, &readOnly, &handle), LPC_RETURN_SUCCESS);
    EXPECT_EQ(length, 256u * 8192u);
    EXPECT_EQ(readOnly, 1u) << "the writer (device->host) ring is read-only to the client";
    EXPECT_EQ(cpu, r.dev.AllocatedBuffer(2).cpu) << "pcie_dma1 writer ring is the third allocation";
    ASSERT_EQ(r.core.CopyClientMemory(r.client, LPC_MEMORY_TYPE(kLpcMemReaderRing, 0), &cpu, &length, &readOnly, &handle), LPC_RETURN_SUCCESS);
    EXPECT_EQ(readOnly, 0u) << "the reader (host->device) ring is writable";
    EXPECT_EQ(cpu, r.dev.AllocatedBuffer(1).cpu);
    EXPECT_EQ(r.core.CopyClientMemory(r.client, LPC_MEMORY_TYPE(kLpcMemReaderRing, 2), &cpu, &length, &readOnly, &handle), LPC_RETURN_BAD_ARGUMENT)
        << "channel 2 of 2";
    EXPECT_EQ(r.core.CopyClientMemory(r.client, LPC_MEMORY_TYPE(kLpcMemStatus, 1), &cpu, &length, &readOnly, &handle), LPC_RETURN_BAD_ARGUMENT);
    EXPECT_EQ(r.core.CopyClientMemory(r.client, 1ull << 40, &cpu, &length, &readOnly, &handle), LPC_RETURN_BAD_ARGUMENT);
    EXPECT_EQ(r.core.CopyClientMemory(r.client + 1, LPC_MEMORY_TYPE(kLpcMemStatus, 0), &cpu, &length, &readOnly, &handle), LPC_RETURN_NOT_OPEN);
}

// ---- Stop ---------------------------------------------------------------------------------------

TEST_F(Lifecycle, StopOrder) {
    Rig& r = Make();
    ASSERT_TRUE(r.Up());
    ASSERT_EQ(r.DmaStart(0, kLpcDirReader, 32), LPC_RETURN_SUCCESS);
    ASSERT_EQ(r.DmaStart(1, kLpcDirWriter, 32), LPC_RETURN_SUCCESS);
    const CallResult wait = r.Call(kLpcWaitBuffers, {1, kLpcDirWriter, 1000, 60000});
    ASSERT_EQ(wait.tokenTaken, 1u);
    const size_t mark = r.dev.Mark();
    r.core.Stop();
    const auto calls = r.dev.CallsSince(mark);
    const std::string trace = r.dev.DescribeSince(mark);

    // 1. Every running direction stopped: MSI bit first, then the engine (docs/linux-driver.md#start-and-stop-sequences).
    const long stop0 = IndexOf(calls, Writes(EngineReg(0, kLpcDirReader, kRegLoopProgN), 0));
    const long stop1 = IndexOf(calls, Writes(EngineReg(1, kLpcDirWriter, kRegLoopProgN), 0));
    ASSERT_GE(stop0, 0) << "pcie_dma0 reader not stopped\n" << trace;
    ASSERT_GE(stop1, 0) << "pcie_dma1 writer not stopped\n" << trace;
    const long msiBit0 = IndexOf(calls, WritesAny(kMsiEnable));
    EXPECT_LT(msiBit0, stop0) << "pcie_msi_enable must lose the reader bit before the engine stops\n" << trace;
    for (uint32_t c : {0u, 1u}) {
        const uint32_t d = c == 0 ? kLpcDirReader : kLpcDirWriter;
        const long a = IndexOf(calls, Writes(EngineReg(c, d, kRegLoopProgN), 0));
        const long b = IndexOf(calls, Writes(EngineReg(c, d, kRegEnable), 0), static_cast<size_t>(a));
        EXPECT_GT(b, a) << "pcie_dma" << c << " enable <- 0 after loop_prog_n <- 0\n" << trace;
    }
    // 2. MSI enable 0 after the engines.
    const long msiZero = LastIndexOf(calls, Writes(kMsiEnable, 0));
    EXPECT_GT(msiZero, stop1) << "pcie_msi_enable <- 0 after every engine stopped\n" << trace;
    // 3. Bus master cleared after that, before any buffer is freed.
    const long cmd = IndexOf(calls, CommandWrite());
    ASSERT_GE(cmd, 0) << "bus mastering never cleared\n" << trace;
    EXPECT_EQ(calls[cmd].value & kBusMaster, 0u) << "command register write at Stop must clear bus master";
    EXPECT_GT(cmd, msiZero) << trace;
    const long firstFree = IndexOf(calls, [](const PlatformCall& c) { return c.kind == CallKind::FreeDma || c.kind == CallKind::FreeShared; });
    EXPECT_GT(firstFree, cmd) << "buffers freed while the device could still master the bus\n" << trace;
    EXPECT_EQ(r.dev.CountSince(mark, CallKind::FreeDma), 4u);
    EXPECT_EQ(r.dev.CountSince(mark, CallKind::FreeShared), 1u);
    // 4. The wait is aborted, delivered last (after the lock is released).
    const long completion = IndexOf(calls, Is(CallKind::CompleteAsync));
    ASSERT_GE(completion, 0) << "pending wait not completed at Stop\n" << trace;
    EXPECT_GT(completion, LastIndexOf(calls, Is(CallKind::FreeShared)));
    const auto done = r.dev.Completions();
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].token, wait.token);
    EXPECT_EQ(done[0].status, LPC_RETURN_ABORTED);
    // Live allocations back to zero.
    EXPECT_EQ(r.dev.LiveDmaBuffers(), 0u);
    EXPECT_EQ(r.dev.LiveSharedBuffers(), 0u);
    const lpc::Stats st = r.core.GetStats();
    EXPECT_EQ(st.liveDmaBuffers, 0u);
    EXPECT_EQ(st.liveDmaBytes, 0u);
    EXPECT_EQ(st.liveSharedBytes, 0u);
    EXPECT_EQ(st.pendingWaits, 0u);
    // After Stop nothing reaches the device.
    const size_t after = r.dev.Mark();
    EXPECT_EQ(r.Call(kLpcGetInfo, {}).status, LPC_RETURN_NOT_OPEN);
    r.core.Interrupt(0, 1);
    r.core.TimerFired(2);
    r.core.SetPowerState(false);
    r.core.DeviceRemoved();
    r.core.Stop();
    EXPECT_EQ(r.dev.CallsSince(after).size(), 0u) << r.dev.DescribeSince(after);
}

TEST_F(Lifecycle, RestartAfterStop) {
    Rig& r = Make();
    ASSERT_TRUE(r.Up());
    ASSERT_EQ(r.DmaStart(0, kLpcDirWriter, 32), LPC_RETURN_SUCCESS);
    r.core.Stop();
    ASSERT_TRUE(r.Up()) << "Start/Open after Stop";
    EXPECT_EQ(r.dev.LiveDmaBuffers(), 4u);
    EXPECT_EQ(r.Info().generation, 1u) << "generation restarts with the driver";
    EXPECT_EQ(r.DirStatus(0, kLpcDirWriter).running, 0u);
    EXPECT_EQ(r.DmaStart(0, kLpcDirWriter, 32), LPC_RETURN_SUCCESS);
}

} // namespace
