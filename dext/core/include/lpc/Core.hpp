// Portable LitePCIe driver core (C++17, no exceptions, no RTTI, no DriverKit headers, no blocks).
//
// The DriverKit glue (dext/driverkit) and the software-in-the-loop host (dext/sil) each implement
// Platform and forward their entry points (Start/Stop, NewUserClient, ExternalMethod,
// CopyClientMemoryForType, InterruptOccurred, timer, SetPowerState) to Core. Everything else —
// validation, DMA ring programming, interrupt accounting, power and teardown order — lives here, so
// the logic the dext runs on macOS is the logic CI exercises on every run.
#ifndef LPC_CORE_HPP
#define LPC_CORE_HPP

#include <stddef.h>
#include <stdint.h>

#include "lpc/HwCount.hpp"
#include "lpc/LitePcieAbi.h"

namespace lpc {

/// One bus-contiguous piece of a DMA buffer, as IODMACommand::PrepareForDMA returns them.
struct DmaSegment {
    uint64_t busAddress;
    uint64_t length;
};

/// A DMA-able buffer prepared for the device.
struct DmaBuffer {
    void* cpu = nullptr;
    uint64_t length = 0;
    uint32_t segmentCount = 0;
    DmaSegment segments[LPC_MAX_SEGMENTS] = {};
    void* platformHandle = nullptr; // owned by the platform (IOBufferMemoryDescriptor + IODMACommand, ...)
};

/// Shared (client-mappable, not DMA-visible) memory.
struct SharedMemory {
    void* cpu = nullptr;
    uint64_t length = 0;
    void* platformHandle = nullptr;
};

/// What the core needs from its host. Every call is made with the core lock held unless noted.
class Platform {
public:
    /// 32-bit MMIO read of BAR `bar` at a validated offset.
    virtual uint32_t MmioRead32(uint32_t bar, uint64_t offset) = 0;
    /// 32-bit MMIO write.
    virtual void MmioWrite32(uint32_t bar, uint64_t offset, uint32_t value) = 0;
    /// Configuration space read (aligned dword).
    virtual uint32_t ConfigRead32(uint32_t offset) = 0;
    /// Configuration space write of the low 16 bits at a 2-aligned offset (command register).
    virtual void ConfigWrite16(uint32_t offset, uint16_t value) = 0;
    /// Allocates and prepares a DMA buffer whose bus addresses fit `maxAddressBits`.
    virtual int32_t AllocateDma(uint64_t bytes, uint32_t maxAddressBits, DmaBuffer* out) = 0;
    /// Completes and frees a DMA buffer (only after the engine using it is stopped).
    virtual void FreeDma(DmaBuffer* buffer) = 0;
    /// Allocates zeroed client-mappable memory (the status page).
    virtual int32_t AllocateShared(uint64_t bytes, SharedMemory* out) = 0;
    virtual void FreeShared(SharedMemory* memory) = 0;
    /// The core lock (IOLock in the dext, a mutex in the SIL host). Not recursive.
    virtual void Lock() = 0;
    virtual void Unlock() = 0;
    virtual void DelayMicroseconds(uint32_t microseconds) = 0;
    /// Monotonic nanoseconds.
    virtual uint64_t NowNanoseconds() = 0;
    /// Arms one-shot timer `slot` (channel * 2 + dir) to call Core::TimerFired at `deadlineNs`.
    virtual void ArmTimer(uint32_t slot, uint64_t deadlineNs) = 0;
    virtual void CancelTimer(uint32_t slot) = 0;
    /// Delivers an async completion and releases the token (OSAction). Called WITHOUT the core lock.
    virtual void CompleteAsync(uint64_t token, int32_t status, const uint64_t* args, uint32_t count) = 0;
    /// Function-level or hot reset through the PCI family; kLpcResetSoc never reaches here.
    virtual int32_t ResetFunction(uint32_t type) = 0;
    /// Diagnostics (os_log in the dext). Called with or without the lock.
    virtual void Log(const char* message) = 0;

protected:
    ~Platform() = default;
};

/// Arguments of one external method call (IOUserClientMethodArguments, reduced to plain data).
struct MethodArgs {
    const uint64_t* scalarInput = nullptr;
    uint32_t scalarInputCount = 0;
    const void* structInput = nullptr;
    uint64_t structInputSize = 0;
    uint64_t* scalarOutput = nullptr;
    uint32_t scalarOutputCount = 0; // capacity the client gave; the dispatch table requires an exact match
    void* structOutput = nullptr;
    uint64_t structOutputCapacity = 0; // exact size required
    uint64_t structOutputSize = 0;     // set by the core
    uint32_t hasCompletion = 0;        // an async reference (OSAction) came with the call
    uint64_t asyncToken = 0;           // opaque platform token for it; never a client pointer
    uint32_t asyncTokenTaken = 0;      // set by the core when it will complete the token exactly once;
                                       // otherwise the platform releases it after the call returns
};

/// Resource accounting (the SIL resource probe reads it; the dext logs it).
struct Stats {
    uint64_t liveDmaBuffers;
    uint64_t liveDmaBytes;
    uint64_t liveSharedBytes;
    uint64_t pendingWaits;
    uint64_t clientsOpened;
    uint64_t interrupts;
};

class Core {
public:
    explicit Core(Platform& platform);
    Core(const Core&) = delete;
    Core& operator=(const Core&) = delete;

    /// Driver Start: validate the layout, reset the SoC, read the identifier, allocate the status page and
    /// rings, then enable bus mastering (only after the buffers are mapped). Nothing is written to the DMA
    /// tables until a client starts a channel.
    int32_t Start(const LpcBoardLayout& layout);

    /// Driver Stop, in the order of docs/dext-design.md#stop-client-death-and-power: stopping flag, every channel stopped, MSI enables
    /// cleared, waits aborted, bus mastering cleared, then buffers freed. A configuration space that
    /// reads all-ones first (surprise removal: DriverKit calls Stop without any other notice) takes the
    /// DeviceRemoved path instead, so the stop sequence never touches a device that is gone.
    void Stop();

    /// NewUserClient: one client per device; type must be 0.
    int32_t OpenClient(uint32_t type, uint32_t* clientId);

    /// User-client Stop / client death: stops what the client owned, aborts its waits.
    void CloseClient(uint32_t clientId);

    /// ExternalMethod: selector bound, exact counts and sizes, then per-method validation.
    int32_t ExternalMethod(uint32_t clientId, uint64_t selector, MethodArgs& args);

    /// CopyClientMemoryForType: type = (kind << 8) | channel, decoded strictly.
    int32_t CopyClientMemory(uint32_t clientId, uint64_t type, void** cpu, uint64_t* length, uint32_t* readOnly, void** platformHandle);

    /// InterruptOccurred: `vector` is the message's vector (0 for single MSI); `timeNs` the platform time.
    /// `count` is how many messages the platform delivered in this one call (DriverKit coalesces: InterruptOccurred's
    /// count); the status page counts messages, and a source that was the only one pending is credited with all of them.
    void Interrupt(uint32_t vector, uint64_t timeNs, uint64_t count = 1);

    /// How many interrupt vectors the platform granted and delivers (0 = every vector the layout needs,
    /// the default). With fewer, a multi-vector MSI message stands for every bit that aliases onto it,
    /// and an MSI-X bit without a vector cannot be started with interrupts (lpc/Interrupts.hpp).
    void SetInterruptVectors(uint32_t vectors);

    /// A wait timer armed through Platform::ArmTimer expired.
    void TimerFired(uint32_t slot);

    /// SetPowerState: off stops DMA and MSI, bumps the generation, aborts waits; on leaves channels stopped.
    void SetPowerState(bool on);

    /// The platform learned the device is gone (terminate notification, all-ones reads).
    void DeviceRemoved();

    Stats GetStats();

    /// Last error of a client (also the kLpcGetLastError method).
    LpcErrorInfo LastError(uint32_t clientId);

private:
    struct Wait {
        uint32_t pending = 0;
        uint64_t token = 0;
        uint64_t target = 0;
        uint64_t deadline = 0; // a timer firing before it is stale (armed for an earlier wait)
    };

    struct Direction {
        DmaBuffer ring;
        uint32_t allocated = 0;
        uint32_t running = 0;
        uint32_t irqEvery = 0;
        uint32_t irqMasked = 0;
        uint32_t owner = 0;
        HwCount counter;
        uint64_t lostMark = 0;
        Wait wait;
    };

    struct Completion {
        uint64_t token;
        int32_t status;
        uint64_t args[2];
    };

    static constexpr uint32_t kMaxCompletions = LPC_MAX_CHANNELS * 2;

    class Guard;

    // Method handlers (lock held).
    int32_t GetInfo(MethodArgs& a);
    int32_t RegisterRead(MethodArgs& a, bool csr);  // CsrRead32 (csr) / BarRead32
    int32_t RegisterWrite(MethodArgs& a, bool csr); // CsrWrite32 (csr) / BarWrite32
    int32_t CheckAccess(MethodArgs& a, bool csr, uint32_t* bar, uint64_t* offset);
    int32_t ConfigRead(MethodArgs& a);
    int32_t DmaStart(uint32_t client, MethodArgs& a);
    int32_t DmaStop(uint32_t client, MethodArgs& a, Completion* out, uint32_t* outCount);
    int32_t UpdateSwCount(uint32_t client, MethodArgs& a);
    int32_t WaitBuffers(uint32_t client, MethodArgs& a, Completion* out, uint32_t* outCount);
    int32_t SetLoopback(uint32_t client, MethodArgs& a);
    int32_t Reset(MethodArgs& a);
    int32_t GetDirStatus(MethodArgs& a);
    int32_t GetLastError(uint32_t client, MethodArgs& a);

    // Helpers (lock held).
    int32_t Fail(int32_t status, uint32_t argument, const char* what, uint64_t value, const char* accepted);
    int32_t CheckChannelDirection(MethodArgs& a, uint32_t* channel, uint32_t* dir);
    int32_t CheckOwner(uint32_t client, uint32_t channel, uint32_t dir);
    // The device usable, channel and direction in range, owned by this client and running (UpdateSwCount, WaitBuffers).
    int32_t CheckRunningOwned(uint32_t client, MethodArgs& a, uint32_t* channel, uint32_t* dir);
    int32_t CheckUsable();
    uint32_t Read(uint64_t offset);
    void Write(uint64_t offset, uint32_t value);
    bool ReadAllOnesMeansGone(uint32_t value);
    void MarkGone();
    void SetMsiBit(uint32_t bit, bool enabled);
    void WriteMsiEnable();
    void StartSequence(uint32_t channel, uint32_t dir);
    void StopSequence(uint32_t channel, uint32_t dir);
    static void PoisonRing(const DmaBuffer& ring);
    void StopDirection(uint32_t channel, uint32_t dir, int32_t waitStatus, Completion* out, uint32_t* outCount);
    void AbortAllWaits(int32_t status, Completion* out, uint32_t* outCount);
    // Driver stop and power off: every running direction stopped, every wait completed with `waitStatus`,
    // MSIs disabled (lock held).
    void QuiesceLocked(int32_t waitStatus, Completion* out, uint32_t* outCount);
    LpcDirStatus* DirStatus(uint32_t channel, uint32_t dir);
    void PublishFlags();
    void BumpGeneration();
    void SetBusMaster(bool enabled);
    void ReadIdentifier();
    void FreeResources();
    void Deliver(const Completion* completions, uint32_t count);

    Platform& platform_;
    LpcBoardLayout layout_ = {};
    Direction dirs_[LPC_MAX_CHANNELS][2];
    SharedMemory status_;
    LpcStatusHeader* header_ = nullptr;
    uint8_t identifier_[LPC_IDENTIFIER_BYTES] = {};
    uint64_t msiEnableShadow_ = 0;
    uint32_t interruptVectors_ = 0; // granted by the platform; 0 = all the layout needs
    uint64_t generation_ = 0;
    uint32_t started_ = 0;
    uint32_t stopping_ = 0;
    uint32_t sleeping_ = 0;
    uint32_t gone_ = 0;
    uint32_t identMismatch_ = 0;
    uint32_t activeClient_ = 0;
    uint32_t nextClientId_ = 1;
    uint16_t vendorId_ = 0;
    uint16_t deviceId_ = 0;
    uint8_t revision_ = 0;
    uint32_t classCode_ = 0;
    uint64_t liveDmaBuffers_ = 0;
    uint64_t liveDmaBytes_ = 0;
    uint64_t clientsOpened_ = 0;
    uint64_t interrupts_ = 0;
    LpcErrorInfo lastError_ = {};
    uint32_t lastErrorClient_ = 0;
};

} // namespace lpc

#endif // LPC_CORE_HPP
