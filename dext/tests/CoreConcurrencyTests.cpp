// Concurrency smoke test: the interrupt path against external methods and timers (docs/dext-design.md#concurrency).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "FakeDevice.hpp"

namespace {

using namespace lpc_test;

/// Aborts the test binary if the body has not finished in time (a deadlock cannot be joined).
class Watchdog {
public:
    explicit Watchdog(std::chrono::seconds limit)
        : thread_([this, limit] {
              const auto end = std::chrono::steady_clock::now() + limit;
              while (!done_.load()) {
                  if (std::chrono::steady_clock::now() > end) {
                      std::fprintf(stderr, "concurrency smoke test did not finish in time: deadlock?\n");
                      std::abort();
                  }
                  std::this_thread::sleep_for(std::chrono::milliseconds(20));
              }
          }) {}
    ~Watchdog() {
        done_.store(true);
        thread_.join();
    }

private:
    std::atomic<bool> done_{false};
    std::thread thread_;
};

TEST(Concurrency, InterruptsWhileMethodsAndTimersRun) {
    Watchdog watchdog(std::chrono::seconds(60));
    Rig r;
    ASSERT_TRUE(r.Up());
    ASSERT_EQ(r.DmaStart(0, kLpcDirWriter, 1), LPC_RETURN_SUCCESS);
    ASSERT_EQ(r.DmaStart(1, kLpcDirReader, 1), LPC_RETURN_SUCCESS);

    std::atomic<bool> stop{false};
    std::atomic<uint64_t> interrupts{0};
    // Interrupt thread: both sources advance; single MSI demultiplexed through pcie_msi_vector.
    std::thread irq([&] {
        uint64_t k = 0;
        while (!stop.load()) {
            k += 3;
            r.dev.SetLoopStatus(0, kLpcDirWriter, LoopStatusFor(k, 256));
            r.dev.SetLoopStatus(1, kLpcDirReader, LoopStatusFor(k, 256));
            r.dev.RaiseVector((1u << IrqOf(0, kLpcDirWriter)) | (1u << IrqOf(1, kLpcDirReader)));
            r.core.Interrupt(0, k);
            interrupts.fetch_add(1);
            std::this_thread::yield();
        }
    });
    // Timer thread: wait timeouts racing with completions from the interrupt thread.
    std::thread timers([&] {
        while (!stop.load()) {
            r.core.TimerFired(0);
            r.core.TimerFired(3);
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
    });

    std::vector<uint64_t> taken;
    int busy = 0;
    for (int i = 0; i < 3000; ++i) {
        // No ASSERT here: a fatal failure would return with the helper threads still running.
        const CallResult rd = r.Call(kLpcCsrRead32, {kCtrlScratch});
        EXPECT_EQ(rd.status, LPC_RETURN_SUCCESS) << "iteration " << i;
        EXPECT_EQ(rd.Out(), kScratchReset);
        const uint64_t hw = r.DirStatus(0, kLpcDirWriter).hwCount;
        EXPECT_EQ(r.Call(kLpcUpdateSwCount, {0, kLpcDirWriter, hw}).status, LPC_RETURN_SUCCESS)
            << "iteration " << i << ": writer swCount " << hw << " (the hardware count only grows)";
        const uint64_t rhw = r.DirStatus(1, kLpcDirReader).hwCount;
        EXPECT_EQ(r.Call(kLpcUpdateSwCount, {1, kLpcDirReader, rhw + 256}).status, LPC_RETURN_SUCCESS) << "iteration " << i;
        if (::testing::Test::HasFailure()) {
            break;
        }
        for (uint32_t c : {0u, 1u}) {
            const uint32_t d = c == 0 ? kLpcDirWriter : kLpcDirReader;
            const CallResult w = r.Call(kLpcWaitBuffers, {c, d, hw + 30, 60000});
            if (w.tokenTaken != 0) {
                EXPECT_EQ(w.status, LPC_RETURN_SUCCESS);
                taken.push_back(w.token);
            } else {
                EXPECT_EQ(w.status, LPC_RETURN_BUSY) << "iteration " << i << ": a wait refused for another reason";
                ++busy;
            }
        }
    }
    stop.store(true);
    irq.join();
    timers.join();
    EXPECT_GT(interrupts.load(), 0u);

    // Whatever is still pending completes at Stop; every taken token exactly once, none other.
    EXPECT_EQ(r.Finish(), "");
    for (uint64_t t : taken) {
        EXPECT_EQ(r.dev.TimesCompleted(t), 1u) << "token " << t;
    }
    size_t completions = 0;
    for (const CompletionRecord& c : r.dev.Completions()) {
        ++completions;
        EXPECT_TRUE(c.status == LPC_RETURN_SUCCESS || c.status == LPC_RETURN_TIMEOUT || c.status == LPC_RETURN_ABORTED)
            << "token " << c.token << " status " << Hex(static_cast<uint32_t>(c.status));
    }
    EXPECT_EQ(completions, taken.size()) << "a completion for a token that was never taken";
    EXPECT_EQ(r.core.GetStats().pendingWaits, 0u);
    (void)busy;
}

TEST(Concurrency, CloseClientRacingInterrupts) {
    Watchdog watchdog(std::chrono::seconds(60));
    Rig r;
    ASSERT_EQ(r.Start(), LPC_RETURN_SUCCESS);
    std::atomic<bool> stop{false};
    std::thread irq([&] {
        uint64_t k = 0;
        while (!stop.load()) {
            r.dev.SetLoopStatus(0, kLpcDirWriter, LoopStatusFor(++k, 256));
            r.dev.RaiseVector(1u << IrqOf(0, kLpcDirWriter));
            r.core.Interrupt(0, k);
        }
    });
    std::vector<uint64_t> taken;
    for (int i = 0; i < 300; ++i) {
        EXPECT_EQ(r.Open(), LPC_RETURN_SUCCESS) << "iteration " << i;
        EXPECT_EQ(r.DmaStart(0, kLpcDirWriter, 1), LPC_RETURN_SUCCESS) << "iteration " << i;
        if (::testing::Test::HasFailure()) {
            break;
        }
        const CallResult w = r.Call(kLpcWaitBuffers, {0, kLpcDirWriter, 1ull << 40, 60000});
        if (w.tokenTaken != 0) {
            taken.push_back(w.token);
        }
        r.core.CloseClient(r.client);
    }
    stop.store(true);
    irq.join();
    EXPECT_EQ(r.Finish(), "");
    for (uint64_t t : taken) {
        EXPECT_EQ(r.dev.TimesCompleted(t), 1u) << "token " << t;
    }
}

} // namespace
