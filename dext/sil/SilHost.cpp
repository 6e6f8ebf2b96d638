#include "lpc_sil.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <thread>

#include "lpc/Core.hpp"

#include <malloc.h>

namespace {

std::atomic<uint64_t> g_liveDevices{0};

// Native heap of this library (the SIL host and the dext core linked into it): every allocation through operator
// new/delete below (hidden: only this library's code binds to them) and the status pages, counted live so a driver-side
// native leak shows as an exact per-cycle slope instead of hiding in the process's private bytes.
std::atomic<uint64_t> g_nativeAllocations{0};
std::atomic<uint64_t> g_nativeBytes{0};

void* CountedAlloc(size_t bytes, size_t alignment) {
    void* p = alignment > alignof(std::max_align_t) ? std::aligned_alloc(alignment, (bytes + alignment - 1) / alignment * alignment)
                                                    : std::malloc(bytes == 0 ? 1 : bytes);
    if (p != nullptr) {
        g_nativeAllocations.fetch_add(1);
        g_nativeBytes.fetch_add(malloc_usable_size(p));
    }
    return p;
}

void CountedFree(void* p) {
    if (p != nullptr) {
        g_nativeAllocations.fetch_sub(1);
        g_nativeBytes.fetch_sub(malloc_usable_size(p));
        std::free(p);
    }
}

uint64_t Now() {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

/// The SIL platform: a mutex, a timer thread, native shared memory, and callbacks into C#.
class SilPlatform final : public lpc::Platform {
public:
    explicit SilPlatform(const LpcSilCallbacks& cb) : cb_(cb), core_(*this), timerThread_([this] { TimerLoop(); }) {}

    ~SilPlatform() {
        {
            std::lock_guard<std::mutex> g(timerMutex_);
            quit_ = true;
        }
        timerCv_.notify_all();
        timerThread_.join();
    }

    lpc::Core& Core() { return core_; }

    uint32_t MmioRead32(uint32_t bar, uint64_t offset) override { return cb_.mmioRead32(cb_.context, bar, offset); }

    void MmioWrite32(uint32_t bar, uint64_t offset, uint32_t value) override { cb_.mmioWrite32(cb_.context, bar, offset, value); }

    uint32_t ConfigRead32(uint32_t offset) override { return cb_.configRead32(cb_.context, offset); }

    void ConfigWrite16(uint32_t offset, uint16_t value) override { cb_.configWrite16(cb_.context, offset, value); }

    int32_t AllocateDma(uint64_t bytes, uint32_t maxAddressBits, lpc::DmaBuffer* out) override {
        LpcSilDmaBuffer b{};
        const int32_t st = cb_.allocateDma(cb_.context, bytes, maxAddressBits, &b);
        if (st != LPC_RETURN_SUCCESS) {
            return st;
        }
        out->cpu = reinterpret_cast<void*>(static_cast<uintptr_t>(b.cpuAddress));
        out->length = b.length;
        out->segmentCount = b.segmentCount > LPC_MAX_SEGMENTS ? LPC_MAX_SEGMENTS : b.segmentCount;
        for (uint32_t i = 0; i < out->segmentCount; ++i) {
            out->segments[i] = lpc::DmaSegment{b.segments[i].busAddress, b.segments[i].length};
        }
        out->platformHandle = reinterpret_cast<void*>(static_cast<uintptr_t>(b.handle));
        return LPC_RETURN_SUCCESS;
    }

    void FreeDma(lpc::DmaBuffer* buffer) override {
        cb_.freeDma(cb_.context, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(buffer->platformHandle)));
    }

    int32_t AllocateShared(uint64_t bytes, lpc::SharedMemory* out) override {
        void* p = CountedAlloc(static_cast<size_t>(bytes), 4096);
        if (p == nullptr) {
            return LPC_RETURN_NO_MEMORY;
        }
        std::memset(p, 0, static_cast<size_t>(bytes));
        out->cpu = p;
        out->length = bytes;
        out->platformHandle = p;
        return LPC_RETURN_SUCCESS;
    }

    void FreeShared(lpc::SharedMemory* memory) override { CountedFree(memory->cpu); }

    void Lock() override { lock_.lock(); }

    void Unlock() override { lock_.unlock(); }

    void DelayMicroseconds(uint32_t microseconds) override {
        std::this_thread::sleep_for(std::chrono::microseconds(microseconds));
    }

    uint64_t NowNanoseconds() override { return Now(); }

    void ArmTimer(uint32_t slot, uint64_t deadlineNs) override {
        if (slot >= kSlots) {
            return;
        }
        {
            std::lock_guard<std::mutex> g(timerMutex_);
            deadlines_[slot] = deadlineNs;
        }
        timerCv_.notify_all();
    }

    void CancelTimer(uint32_t slot) override {
        if (slot >= kSlots) {
            return;
        }
        std::lock_guard<std::mutex> g(timerMutex_);
        deadlines_[slot] = 0;
    }

    void CompleteAsync(uint64_t token, int32_t status, const uint64_t* args, uint32_t count) override {
        cb_.completeAsync(cb_.context, token, status, args, count);
    }

    int32_t ResetFunction(uint32_t type) override { return cb_.resetFunction(cb_.context, type); }

    void Log(const char* message) override {
        if (cb_.log != nullptr) {
            cb_.log(cb_.context, message);
        }
    }

    uint64_t ArmedTimers() {
        std::lock_guard<std::mutex> g(timerMutex_);
        uint64_t n = 0;
        for (uint64_t d : deadlines_) {
            n += d != 0 ? 1u : 0u;
        }
        return n;
    }

private:
    static constexpr uint32_t kSlots = LPC_MAX_CHANNELS * 2;

    void TimerLoop() {
        std::unique_lock<std::mutex> g(timerMutex_);
        while (!quit_) {
            uint64_t next = 0;
            const uint64_t now = Now();
            for (uint32_t s = 0; s < kSlots; ++s) {
                const uint64_t d = deadlines_[s];
                if (d == 0) {
                    continue;
                }
                if (d <= now) {
                    deadlines_[s] = 0;
                    g.unlock();
                    core_.TimerFired(s); // takes the core lock; never called with the timer mutex held
                    g.lock();
                    next = 1; // rescan: deadlines may have changed meanwhile
                    break;
                }
                if (next == 0 || d < next) {
                    next = d;
                }
            }
            if (next == 1) {
                continue;
            }
            if (next == 0) {
                timerCv_.wait(g);
            } else {
                timerCv_.wait_for(g, std::chrono::nanoseconds(next - now));
            }
        }
    }

    LpcSilCallbacks cb_;
    lpc::Core core_;
    std::mutex lock_;
    std::mutex timerMutex_;
    std::condition_variable timerCv_;
    uint64_t deadlines_[kSlots] = {};
    bool quit_ = false;
    std::thread timerThread_; // last: started after everything it touches exists
};

} // namespace

struct LpcSilDevice {
    explicit LpcSilDevice(const LpcSilCallbacks& cb) : platform(cb) {}
    SilPlatform platform;
};

// The library's own operator new/delete (hidden visibility: only code linked into liblpc_sil binds to them).
void* operator new(size_t bytes) {
    void* p = CountedAlloc(bytes, 0);
    if (p == nullptr) {
        std::abort(); // built without exceptions: out of memory is fatal, as in the dext
    }
    return p;
}
void* operator new[](size_t bytes) { return operator new(bytes); }
void* operator new(size_t bytes, const std::nothrow_t&) noexcept { return CountedAlloc(bytes, 0); }
void* operator new[](size_t bytes, const std::nothrow_t&) noexcept { return CountedAlloc(bytes, 0); }
void operator delete(void* p) noexcept { CountedFree(p); }
void operator delete[](void* p) noexcept { CountedFree(p); }
void operator delete(void* p, size_t) noexcept { CountedFree(p); }
void operator delete[](void* p, size_t) noexcept { CountedFree(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { CountedFree(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { CountedFree(p); }

extern "C" {

uint32_t lpc_sil_abi_version(void) { return (LPC_ABI_MAJOR << 16) | LPC_ABI_MINOR; }

uint64_t lpc_sil_now_ns(void) { return Now(); }

LpcSilDevice* lpc_sil_create(const LpcSilCallbacks* callbacks) {
    if (callbacks == nullptr || callbacks->mmioRead32 == nullptr || callbacks->mmioWrite32 == nullptr ||
        callbacks->configRead32 == nullptr || callbacks->configWrite16 == nullptr || callbacks->allocateDma == nullptr ||
        callbacks->freeDma == nullptr || callbacks->completeAsync == nullptr || callbacks->resetFunction == nullptr) {
        return nullptr;
    }
    auto* d = new (std::nothrow) LpcSilDevice(*callbacks);
    if (d != nullptr) {
        g_liveDevices.fetch_add(1);
    }
    return d;
}

int32_t lpc_sil_start(LpcSilDevice* device, const LpcBoardLayout* layout) {
    if (device == nullptr || layout == nullptr) {
        return LPC_RETURN_BAD_ARGUMENT;
    }
    return device->platform.Core().Start(*layout);
}

void lpc_sil_stop(LpcSilDevice* device) {
    if (device != nullptr) {
        device->platform.Core().Stop();
    }
}

void lpc_sil_destroy(LpcSilDevice* device) {
    if (device == nullptr) {
        return;
    }
    device->platform.Core().Stop();
    delete device;
    g_liveDevices.fetch_sub(1);
}

int32_t lpc_sil_open(LpcSilDevice* device, uint32_t type, uint32_t* client) {
    if (device == nullptr || client == nullptr) {
        return LPC_RETURN_BAD_ARGUMENT;
    }
    return device->platform.Core().OpenClient(type, client);
}

void lpc_sil_close(LpcSilDevice* device, uint32_t client) {
    if (device != nullptr) {
        device->platform.Core().CloseClient(client);
    }
}

int32_t lpc_sil_call(LpcSilDevice* device, uint32_t client, uint64_t selector, const uint64_t* scalarInput,
                     uint32_t scalarInputCount, const void* structInput, uint64_t structInputSize, uint64_t* scalarOutput,
                     uint32_t scalarOutputCount, void* structOutput, uint64_t structOutputCapacity, uint64_t* structOutputSize,
                     uint32_t hasCompletion, uint64_t asyncToken, uint32_t* asyncTokenTaken) {
    if (device == nullptr) {
        return LPC_RETURN_BAD_ARGUMENT;
    }
    lpc::MethodArgs a;
    a.scalarInput = scalarInput;
    a.scalarInputCount = scalarInputCount;
    a.structInput = structInput;
    a.structInputSize = structInputSize;
    a.scalarOutput = scalarOutput;
    a.scalarOutputCount = scalarOutputCount;
    a.structOutput = structOutput;
    a.structOutputCapacity = structOutputCapacity;
    a.hasCompletion = hasCompletion;
    a.asyncToken = asyncToken;
    const int32_t st = device->platform.Core().ExternalMethod(client, selector, a);
    if (structOutputSize != nullptr) {
        *structOutputSize = a.structOutputSize;
    }
    if (asyncTokenTaken != nullptr) {
        *asyncTokenTaken = a.asyncTokenTaken;
    }
    return st;
}

int32_t lpc_sil_map(LpcSilDevice* device, uint32_t client, uint64_t type, uint64_t* address, uint64_t* length, uint32_t* readOnly) {
    if (device == nullptr || address == nullptr || length == nullptr || readOnly == nullptr) {
        return LPC_RETURN_BAD_ARGUMENT;
    }
    void* cpu = nullptr;
    void* handle = nullptr;
    const int32_t st = device->platform.Core().CopyClientMemory(client, type, &cpu, length, readOnly, &handle);
    *address = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(cpu));
    return st;
}

void lpc_sil_interrupt(LpcSilDevice* device, uint32_t vector, uint64_t timeNs) {
    if (device != nullptr) {
        device->platform.Core().Interrupt(vector, timeNs);
    }
}

void lpc_sil_set_power(LpcSilDevice* device, uint32_t on) {
    if (device != nullptr) {
        device->platform.Core().SetPowerState(on != 0);
    }
}

void lpc_sil_device_removed(LpcSilDevice* device) {
    if (device != nullptr) {
        device->platform.Core().DeviceRemoved();
    }
}

void lpc_sil_stats(LpcSilDevice* device, LpcSilStats* out) {
    if (out == nullptr) {
        return;
    }
    *out = LpcSilStats{};
    out->liveDevices = g_liveDevices.load();
    out->nativeAllocations = g_nativeAllocations.load();
    out->nativeBytes = g_nativeBytes.load();
    if (device == nullptr) {
        return;
    }
    const lpc::Stats s = device->platform.Core().GetStats();
    out->liveDmaBuffers = s.liveDmaBuffers;
    out->liveDmaBytes = s.liveDmaBytes;
    out->liveSharedBytes = s.liveSharedBytes;
    out->pendingWaits = s.pendingWaits;
    out->clientsOpened = s.clientsOpened;
    out->interrupts = s.interrupts;
    out->liveTimers = device->platform.ArmedTimers();
}

void lpc_sil_debug_leak(uint64_t bytes) {
    // The driver-native-leak fault: an allocation nobody frees, as a leaking driver path would make.
    static_cast<void>(new (std::nothrow) uint8_t[static_cast<size_t>(bytes == 0 ? 1 : bytes)]);
}

} // extern "C"
