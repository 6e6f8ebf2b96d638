// Interrupt vectors: the DriverKit glue's negotiation with the PCI family (lpc::NegotiateInterrupts,
// through the same lpc::InterruptController seam the glue implements with IOPCIDevice and
// IOInterruptDispatchSource), and the core's mapping of a granted vector to the interrupt bits it
// stands for (Core::SetInterruptVectors).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "FakeDevice.hpp"
#include "lpc/Interrupts.hpp"

namespace {

using namespace lpc_test;

constexpr uint32_t W = kLpcDirWriter;
constexpr uint32_t R = kLpcDirReader;
constexpr uint32_t kMsi = lpc::kInterruptTypePciMessaged;
constexpr uint32_t kMsiX = lpc::kInterruptTypePciMessagedX;
constexpr uint64_t kEdge = 0; // kIOInterruptTypeEdge

/// The kernel's side of IOPCIDevice::ConfigureInterrupts (IOPCIFamily IOPCIDevice.cpp,
/// configureInterrupts) and of GetInterruptType, for a function with an MSI capability of
/// `msiCapable` vectors and an MSI-X table of `msixTable` entries:
///  * required == 0, requested == 0 or required > requested: kIOReturnBadArgument;
///  * the first request resolves the vectors (MSI: requested rounded up to a power of two, at most
///    what the capability allows; MSI-X: at most the table size; fewer than required fails);
///  * once resolved, a request succeeds only for the same kind with required <= the vectors that
///    exist, and never changes them; anything else is kIOReturnUnsupported;
///  * a level (INTx) interrupt may sit at index 0, messaged vectors follow it.
class FakeKernel final : public lpc::InterruptController {
public:
    FakeKernel(uint32_t msiCapable, uint32_t msixTable, bool legacyAtIndexZero = false)
        : msiCapable_(msiCapable), msixTable_(msixTable), legacy_(legacyAtIndexZero) {}

    /// Something else resolved the interrupts first (the kernel saving state at sleep, the dext's
    /// previous instance): `count` vectors of `type`.
    void Resolve(uint32_t type, uint32_t count) {
        resolvedType_ = type;
        resolved_ = count;
    }

    int32_t ConfigureInterrupts(uint32_t type, uint32_t required, uint32_t requested) override {
        calls.push_back({type, required, requested});
        if (required == 0 || requested == 0 || required > requested) {
            return LPC_RETURN_BAD_ARGUMENT;
        }
        if (resolved_ != 0) {
            return type == resolvedType_ && resolved_ >= required ? LPC_RETURN_SUCCESS : LPC_RETURN_UNSUPPORTED;
        }
        uint32_t grant = 0;
        if (type == kMsi && msiCapable_ != 0) {
            uint32_t pow2 = 1;
            while (pow2 < requested) {
                pow2 <<= 1;
            }
            grant = pow2 < msiCapable_ ? pow2 : msiCapable_;
        } else if (type == kMsiX && msixTable_ != 0) {
            grant = requested < msixTable_ ? requested : msixTable_;
        }
        if (grant < required) {
            return LPC_RETURN_UNSUPPORTED;
        }
        Resolve(type, grant);
        return LPC_RETURN_SUCCESS;
    }

    int32_t GetInterruptType(uint32_t index, uint64_t* type) override {
        const uint32_t first = legacy_ ? 1u : 0u;
        if (legacy_ && index == 0) {
            *type = 1; // kIOInterruptTypeLevel
            return LPC_RETURN_SUCCESS;
        }
        if (resolved_ == 0 || index < first || index - first >= resolved_) {
            return LPC_RETURN_BAD_ARGUMENT; // kIOReturnNoInterrupt in the kernel; any failure
        }
        *type = kEdge | resolvedType_;
        return LPC_RETURN_SUCCESS;
    }

    struct Call {
        uint32_t type, required, requested;
    };
    std::vector<Call> calls;

private:
    uint32_t msiCapable_;
    uint32_t msixTable_;
    bool legacy_;
    uint32_t resolvedType_ = 0;
    uint32_t resolved_ = 0;
};

LpcBoardLayout Layout(const LayoutOptions& o) { return MakeLayout(o); }

// ---- the negotiation ---------------------------------------------------------------------------------

TEST(InterruptNegotiation, SingleMsiAsksForOneVector) {
    FakeKernel k(32, 0);
    const lpc::InterruptGrant g = lpc::NegotiateInterrupts(Layout(StandaloneOptions()), k);
    EXPECT_EQ(g.status, LPC_RETURN_SUCCESS);
    EXPECT_EQ(g.type, kMsi);
    EXPECT_EQ(g.needed, 1u);
    EXPECT_EQ(g.granted, 1u);
    EXPECT_EQ(g.first, 0u);
    ASSERT_EQ(k.calls.size(), 1u);
    EXPECT_EQ(k.calls[0].required, 1u);
    EXPECT_EQ(k.calls[0].requested, 1u);
}

TEST(InterruptNegotiation, MsixOnAFreshDeviceGetsEveryVectorItNeeds) {
    FakeKernel k(0, 32);
    const LpcBoardLayout l = Layout(MsiXOptions(32));
    const lpc::InterruptGrant g = lpc::NegotiateInterrupts(l, k);
    EXPECT_EQ(g.status, LPC_RETURN_SUCCESS);
    EXPECT_EQ(g.type, kMsiX);
    EXPECT_EQ(g.needed, 4u) << "2 channels: interrupt bits 0..3";
    EXPECT_EQ(g.granted, 4u);
    ASSERT_EQ(k.calls.size(), 1u);
    EXPECT_EQ(k.calls[0].required, 1u) << "at least one vector, never 'all or nothing'";
    EXPECT_EQ(k.calls[0].requested, 4u);
}

TEST(InterruptNegotiation, DemandingEveryVectorFailsOnceFewerWereResolved) {
    // The review's finding 1 against the kernel model: ConfigureInterrupts(type, n, n) after something
    // resolved one vector is kIOReturnUnsupported, which failed Start.
    FakeKernel k(32, 0);
    k.Resolve(kMsi, 1);
    EXPECT_EQ(k.ConfigureInterrupts(kMsi, 4, 4), LPC_RETURN_UNSUPPORTED);
    EXPECT_EQ(k.ConfigureInterrupts(kMsi, 1, 4), LPC_RETURN_SUCCESS);
}

TEST(InterruptNegotiation, MultiVectorMsiUsesTheVectorsAlreadyResolved) {
    for (uint32_t already : {1u, 2u}) {
        FakeKernel k(32, 0);
        k.Resolve(kMsi, already); // e.g. the kernel saved the device state at sleep
        const lpc::InterruptGrant g = lpc::NegotiateInterrupts(Layout(MultiVectorOptions()), k);
        EXPECT_EQ(g.status, LPC_RETURN_SUCCESS) << already << " vector(s) resolved before";
        EXPECT_EQ(g.needed, 4u);
        EXPECT_EQ(g.requested, 4u);
        EXPECT_EQ(g.granted, already) << "what exists is what the driver gets";
    }
}

TEST(InterruptNegotiation, MultiVectorMsiRequestIsAPowerOfTwo) {
    LayoutOptions o = MultiVectorOptions();
    o.channelCount = 3; // bits 0..5: 6 vectors wanted, MSI grants powers of two
    FakeKernel k(32, 0);
    const lpc::InterruptGrant g = lpc::NegotiateInterrupts(Layout(o), k);
    EXPECT_EQ(g.needed, 6u);
    EXPECT_EQ(g.requested, 8u);
    EXPECT_EQ(g.granted, 8u);
}

TEST(InterruptNegotiation, MsiCapabilitySmallerThanTheNeedStillStarts) {
    FakeKernel k(2, 0); // Multiple Message Capable = 2
    const lpc::InterruptGrant g = lpc::NegotiateInterrupts(Layout(MultiVectorOptions()), k);
    EXPECT_EQ(g.status, LPC_RETURN_SUCCESS);
    EXPECT_EQ(g.granted, 2u);
}

TEST(InterruptNegotiation, LegacyPinAtIndexZeroMovesTheFirstVector) {
    FakeKernel k(0, 32, /*legacyAtIndexZero=*/true);
    const lpc::InterruptGrant g = lpc::NegotiateInterrupts(Layout(MsiXOptions(32)), k);
    EXPECT_EQ(g.status, LPC_RETURN_SUCCESS);
    EXPECT_EQ(g.first, 1u);
    EXPECT_EQ(g.firstType, 1u);
    EXPECT_EQ(g.granted, 4u);
}

TEST(InterruptNegotiation, TheOtherKindResolvedFirstIsRefusedWithTheReason) {
    FakeKernel k(32, 32);
    k.Resolve(kMsi, 1); // MSI resolved, the gateware is MSI-X
    const lpc::InterruptGrant g = lpc::NegotiateInterrupts(Layout(MsiXOptions(32)), k);
    EXPECT_EQ(g.status, LPC_RETURN_UNSUPPORTED);
    EXPECT_EQ(g.problem, lpc::InterruptProblem::ConfigureFailed);
    EXPECT_EQ(g.granted, 0u);
    EXPECT_STREQ(lpc::InterruptProblemName(g.problem), "ConfigureInterrupts refused even one vector");
}

TEST(InterruptNegotiation, NoMessagedIndexAfterASuccessfulConfigureIsAnError) {
    class NoMessaged final : public lpc::InterruptController {
    public:
        int32_t ConfigureInterrupts(uint32_t, uint32_t, uint32_t) override { return LPC_RETURN_SUCCESS; }
        int32_t GetInterruptType(uint32_t index, uint64_t* type) override {
            if (index > 1) {
                return LPC_RETURN_BAD_ARGUMENT;
            }
            *type = 1; // level only
            return LPC_RETURN_SUCCESS;
        }
    } k;
    const lpc::InterruptGrant g = lpc::NegotiateInterrupts(Layout(StandaloneOptions()), k);
    EXPECT_EQ(g.status, LPC_RETURN_UNSUPPORTED);
    EXPECT_EQ(g.problem, lpc::InterruptProblem::NoMessagedVector);
}

TEST(InterruptNegotiation, RequestsAtMostThirtyTwoVectors) {
    LpcBoardLayout l = Layout(MsiXOptions(64));
    l.channels[1].readerIrq = 40; // a bit in the second enable word
    FakeKernel k(0, 64);
    const lpc::InterruptGrant g = lpc::NegotiateInterrupts(l, k);
    EXPECT_EQ(g.needed, 41u);
    EXPECT_EQ(g.requested, lpc::kMaxInterruptVectors);
    EXPECT_EQ(g.granted, 32u);
    EXPECT_FALSE(lpc::InterruptBitReachable(l, g.granted, 40));
    EXPECT_TRUE(lpc::InterruptBitReachable(l, g.granted, 31));
}

// ---- vector → interrupt bits -------------------------------------------------------------------------

TEST(InterruptSources, AllVectorsGrantedIsOneBitPerVector) {
    for (const LayoutOptions& o : {MsiXOptions(32), MultiVectorOptions()}) {
        const LpcBoardLayout l = Layout(o);
        for (uint32_t granted : {0u, 4u, 8u}) {
            for (uint32_t v = 0; v < 4; ++v) {
                EXPECT_EQ(lpc::InterruptSourcesOf(l, granted, v), uint64_t{1} << v) << "granted " << granted << ", vector " << v;
            }
            EXPECT_EQ(lpc::InterruptSourcesOf(l, granted, 32), 0u);
        }
    }
}

TEST(InterruptSources, FewerMsiVectorsAliasByTheLowBits) {
    const LpcBoardLayout l = Layout(MultiVectorOptions());
    EXPECT_EQ(lpc::InterruptSourcesOf(l, 1, 0), 0xFFFFFFFFull) << "one vector stands for every bit";
    EXPECT_EQ(lpc::InterruptSourcesOf(l, 2, 0), 0x55555555ull);
    EXPECT_EQ(lpc::InterruptSourcesOf(l, 2, 1), 0xAAAAAAAAull);
    EXPECT_EQ(lpc::InterruptSourcesOf(l, 2, 2), 0u) << "no such vector";
    for (uint32_t bit = 0; bit < 32; ++bit) {
        EXPECT_TRUE(lpc::InterruptBitReachable(l, 1, bit));
    }
}

TEST(InterruptSources, FewerMsixVectorsLeaveTheHigherBitsWithout) {
    const LpcBoardLayout l = Layout(MsiXOptions(32));
    EXPECT_EQ(lpc::InterruptSourcesOf(l, 2, 1), 0x2ull);
    EXPECT_EQ(lpc::InterruptSourcesOf(l, 2, 3), 0u);
    EXPECT_TRUE(lpc::InterruptBitReachable(l, 2, 1));
    EXPECT_FALSE(lpc::InterruptBitReachable(l, 2, 2));
    EXPECT_FALSE(lpc::InterruptBitReachable(l, 2, 3));
}

// ---- the core with fewer vectors ---------------------------------------------------------------------

class FewerVectors : public ::testing::Test {
protected:
    Rig& Up(const LayoutOptions& o, uint32_t vectors) {
        rig_.reset(new Rig(o));
        EXPECT_TRUE(rig_->Up());
        rig_->core.SetInterruptVectors(vectors);
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

TEST_F(FewerVectors, OneMsiVectorServesEveryRunningDirection) {
    Rig& r = Up(MultiVectorOptions(), 1);
    ASSERT_EQ(r.DmaStart(0, R, 32), LPC_RETURN_SUCCESS); // bit 0
    ASSERT_EQ(r.DmaStart(1, W, 32), LPC_RETURN_SUCCESS); // bit 3
    const CallResult wait = r.Call(kLpcWaitBuffers, {1, W, 64, 1000});
    ASSERT_EQ(wait.tokenTaken, 1u);
    r.dev.SetLoopStatus(1, W, 0x40);
    r.dev.SetLoopStatus(0, R, 0x05);
    const size_t mark = r.dev.Mark();
    r.core.Interrupt(0, 10);
    EXPECT_EQ(r.StatusOf(1, W)->hwCount, 64u) << "bit 3 arrives on vector 0 when one vector was granted";
    EXPECT_EQ(r.StatusOf(0, R)->hwCount, 5u);
    EXPECT_EQ(r.dev.MmioSince(mark).size(), 2u) << "one loop_status read per running direction:\n" << r.dev.DescribeSince(mark);
    const auto done = r.dev.Completions();
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].token, wait.token);
    EXPECT_EQ(done[0].status, LPC_RETURN_SUCCESS);
    bool logged = false;
    for (const std::string& line : r.dev.Logs()) {
        logged = logged || line.find("1 of 4 MSI vectors granted") != std::string::npos;
    }
    EXPECT_TRUE(logged) << "the grant is logged";
}

TEST_F(FewerVectors, AnAliasedDirectionThatDidNotMoveGetsNoInterruptCredit) {
    Rig& r = Up(MultiVectorOptions(), 2);
    ASSERT_EQ(r.DmaStart(0, W, 32), LPC_RETURN_SUCCESS); // bit 1
    ASSERT_EQ(r.DmaStart(1, W, 32), LPC_RETURN_SUCCESS); // bit 3, aliases onto vector 1
    ASSERT_EQ(r.DmaStart(0, R, 32), LPC_RETURN_SUCCESS); // bit 0, vector 0
    r.dev.SetLoopStatus(0, W, 0x20);
    r.dev.SetLoopStatus(0, R, 0x07);
    r.core.Interrupt(1, 10);
    EXPECT_EQ(r.StatusOf(0, W)->hwCount, 32u);
    EXPECT_EQ(r.StatusOf(0, W)->irqCount, 1u);
    EXPECT_EQ(r.StatusOf(1, W)->irqCount, 0u) << "bit 3 shares vector 1 but its count did not move";
    EXPECT_EQ(r.StatusOf(0, R)->hwCount, 0u) << "vector 1 does not stand for bit 0";
}

TEST_F(FewerVectors, AnMsixDirectionWithoutAVectorIsRefusedWithTheReason) {
    Rig& r = Up(MsiXOptions(32), 2);
    EXPECT_EQ(r.DmaStart(0, R, 32), LPC_RETURN_SUCCESS) << "bit 0 has a vector";
    EXPECT_EQ(r.DmaStart(0, W, 32), LPC_RETURN_SUCCESS) << "bit 1 has a vector";
    const size_t mark = r.dev.Mark();
    EXPECT_EQ(r.DmaStart(1, W, 32), LPC_RETURN_UNSUPPORTED) << "bit 3 has none";
    EXPECT_EQ(r.dev.MmioSince(mark).size(), 0u) << "nothing programmed for a refused start";
    const LpcErrorInfo e = r.LastError();
    EXPECT_EQ(e.status, LPC_RETURN_UNSUPPORTED);
    EXPECT_EQ(e.argument, 0u);
    EXPECT_EQ(Message(e), "channel = 1: bit 3 has no MSI-X vector (2 of 4 granted): start with flags bit 1 (interrupts masked)");
    EXPECT_EQ(r.DmaStart(1, W, 32, LPC_START_IRQ_MASKED), LPC_RETURN_SUCCESS) << "a polled direction needs no vector";
    const uint64_t spurious = r.Header()->spuriousCount;
    r.core.Interrupt(3, 11);
    EXPECT_EQ(r.Header()->spuriousCount, spurious + 1) << "no granted vector 3";
}

TEST_F(FewerVectors, StopForgetsTheGrant) {
    Rig& r = Up(MsiXOptions(32), 1);
    EXPECT_EQ(r.DmaStart(1, W, 32), LPC_RETURN_UNSUPPORTED);
    r.core.Stop();
    ASSERT_TRUE(r.Up());
    EXPECT_EQ(r.DmaStart(1, W, 32), LPC_RETURN_SUCCESS) << "a new Start assumes every vector until told otherwise";
}

} // namespace
