// LitePCIeDriver: DriverKit glue around the portable core (docs/dext-design.md#core-and-glue).
//
// This file owns exactly what the core cannot: the IOPCIDevice session, BAR0 → memory index
// translation, IOBufferMemoryDescriptor + IODMACommand rings, the IOLock, the interrupt sources, the
// wait timer, the table of retained OSActions behind async tokens, and the DriverKit lifecycle.
// Every decision about the hardware (what to write, when, and what to refuse) is in lpc::Core, which
// CI runs on Linux through the software-in-the-loop host (dext/sil/SilHost.cpp implements the same
// Platform interface there).
//
// Threads: Start/Stop/SetPowerState/NewUserClient and the wait timer run on this service's default
// queue, InterruptOccurred on the "LpcIrq" queue, user-client calls on the user client's queue.
// Shared state is protected by two IOLocks: the core lock (lpc::Platform::Lock, taken by the core
// around all of its state) and the glue lock (timer deadlines, async tokens, attached client). Lock
// order is core → glue; the glue never calls into the core while it holds the glue lock.

#include <os/log.h>

#include <DriverKit/IOLib.h>
#include <DriverKit/IOBufferMemoryDescriptor.h>
#include <DriverKit/IODMACommand.h>
#include <DriverKit/IODispatchQueue.h>
#include <DriverKit/IOInterruptDispatchSource.h>
#include <DriverKit/IOTimerDispatchSource.h>
#include <DriverKit/IOUserClient.h>
#include <DriverKit/OSAction.h>
#include <DriverKit/OSBoolean.h>
#include <DriverKit/OSDictionary.h>
#include <DriverKit/OSNumber.h>
#include <DriverKit/OSString.h>
#include <PCIDriverKit/PCIDriverKit.h>

#include "LitePCIeDriver.h"

#include "BoardLayout.h"
#include "lpc/Core.hpp"
#include "lpc/Interrupts.hpp"
#include "lpc/LitePcieAbi.h"

namespace {

constexpr uint32_t kBarCount = 6;
constexpr uint32_t kWaitSlots = LPC_MAX_CHANNELS * 2u; // slot = channel * 2 + direction (Core.hpp)
constexpr uint32_t kTokenSlots = 64;                   // pending waits (≤ 32) + calls in flight
constexpr uint32_t kMaxVectors = lpc::kMaxInterruptVectors; // MSI allows 32; MSI-X bits above have no vector
constexpr uint64_t kTimerLeewayNs = 1000000;           // wait timeouts are milliseconds
constexpr uint32_t kAsyncArgsMax = static_cast<uint32_t>(kIOUserClientAsyncArgumentsCountMax);

/// What DmaBuffer::platformHandle / SharedMemory::platformHandle point to.
struct GlueMemory {
    IOBufferMemoryDescriptor* buffer; // what a client maps (CopyClientMemoryForType)
    IODMACommand* dma;                // prepared for the whole ring lifetime; nullptr for shared memory
};

/// One retained async reference. The core only ever sees `token`.
struct CompletionSlot {
    uint64_t token; // 0 = free; else (sequence << 8) | slot index
    OSAction* action;
    IOUserClient* client;
};

/// The interrupt negotiation's view of the PCI family (lpc/Interrupts.hpp): the seam through which the
/// negotiation logic, unit-tested on Linux, reaches IOPCIDevice and IOInterruptDispatchSource.
class PciInterruptController final : public lpc::InterruptController {
public:
    explicit PciInterruptController(IOPCIDevice* device) : pci(device) {}

    int32_t ConfigureInterrupts(uint32_t type, uint32_t required, uint32_t requested) override {
        return pci->ConfigureInterrupts(type, required, requested, 0);
    }

    int32_t GetInterruptType(uint32_t index, uint64_t* type) override {
        return IOInterruptDispatchSource::GetInterruptType(pci, index, type);
    }

private:
    IOPCIDevice* pci;
};

static_assert(lpc::kInterruptTypePciMessaged == kIOInterruptTypePCIMessaged, "interrupt type flags (lpc/Interrupts.hpp)");
static_assert(lpc::kInterruptTypePciMessagedX == kIOInterruptTypePCIMessagedX, "interrupt type flags (lpc/Interrupts.hpp)");

/// lpc::Platform on DriverKit. Owns the core and every DriverKit object the core's calls need.
class DriverKitPlatform final : public lpc::Platform {
public:
    DriverKitPlatform() : core(*this) {}

    ~DriverKitPlatform() {
        // free(): every OSAction (and so every handler) is gone by now.
        if (irqQueue != nullptr) {
            irqQueue->release();
        }
        if (timerQueue != nullptr) {
            timerQueue->release();
        }
        if (coreLock != nullptr) {
            IOLockFree(coreLock);
        }
        if (glueLock != nullptr) {
            IOLockFree(glueLock);
        }
    }

    DriverKitPlatform(const DriverKitPlatform&) = delete;
    DriverKitPlatform& operator=(const DriverKitPlatform&) = delete;

    bool Initialize() {
        coreLock = IOLockAlloc();
        glueLock = IOLockAlloc();
        if (mach_timebase_info(&timebase) != KERN_SUCCESS || timebase.numer == 0 || timebase.denom == 0) {
            timebase.numer = 1;
            timebase.denom = 1;
        }
        return coreLock != nullptr && glueLock != nullptr;
    }

    // ---- lpc::Platform --------------------------------------------------------------------

    uint32_t MmioRead32(uint32_t bar, uint64_t offset) override {
        uint32_t value = 0xFFFFFFFFu;
        if (BarAccessible(bar, offset)) {
            pci->MemoryRead32(memoryIndex[bar], offset, &value);
        }
        return value;
    }

    void MmioWrite32(uint32_t bar, uint64_t offset, uint32_t value) override {
        if (BarAccessible(bar, offset)) {
            pci->MemoryWrite32(memoryIndex[bar], offset, value);
        }
    }

    uint32_t ConfigRead32(uint32_t offset) override {
        uint32_t value = 0xFFFFFFFFu;
        if (pci != nullptr && (offset & 3u) == 0 && offset <= LPC_CONFIG_SPACE_BYTES - 4) {
            pci->ConfigurationRead32(offset, &value);
        }
        return value;
    }

    void ConfigWrite16(uint32_t offset, uint16_t value) override {
        if (pci != nullptr && (offset & 1u) == 0 && offset <= LPC_CONFIG_SPACE_BYTES - 2) {
            pci->ConfigurationWrite16(offset, value);
        }
    }

    int32_t AllocateDma(uint64_t bytes, uint32_t maxAddressBits, lpc::DmaBuffer* out) override {
        if (pci == nullptr || out == nullptr || bytes == 0) {
            return kIOReturnBadArgument;
        }
        GlueMemory* m = IONewZero(GlueMemory, 1);
        if (m == nullptr) {
            return kIOReturnNoMemory;
        }
        // One contiguous descriptor per ring (docs/dext-design.md#rings-and-shared-memory), page aligned, device reads and writes.
        kern_return_t ret = IOBufferMemoryDescriptor::Create(kIOMemoryDirectionInOut, bytes, IOVMPageSize, &m->buffer);
        if (ret == kIOReturnSuccess) {
            ret = m->buffer->SetLength(bytes);
        }
        IOAddressSegment range = {};
        if (ret == kIOReturnSuccess) {
            ret = m->buffer->GetAddressRange(&range);
        }
        if (ret == kIOReturnSuccess) {
            IODMACommandSpecification spec = {};
            spec.options = kIODMACommandSpecificationNoOptions;
            spec.maxAddressBits = maxAddressBits;
            ret = IODMACommand::Create(pci, kIODMACommandCreateNoOptions, &spec, &m->dma);
        }
        uint64_t flags = 0;
        uint32_t count = LPC_MAX_SEGMENTS;
        IOAddressSegment segments[LPC_MAX_SEGMENTS] = {};
        bool prepared = false;
        if (ret == kIOReturnSuccess) {
            ret = m->dma->PrepareForDMA(kIODMACommandPrepareForDMANoOptions, m->buffer, 0, bytes, &flags, &count, segments);
            prepared = ret == kIOReturnSuccess;
        }
        if (ret == kIOReturnSuccess && (flags & kIOMemoryDirectionInOut) != kIOMemoryDirectionInOut) {
            // An IOMMU that honours the access bits would drop the engine's writes (or reads).
            os_log(OS_LOG_DEFAULT, "litepcie: ring mapping is not read+write for the device (flags 0x%llx)",
                   static_cast<unsigned long long>(flags));
            ret = kIOReturnNotWritable;
        }
        if (ret == kIOReturnSuccess && (count == 0 || count > LPC_MAX_SEGMENTS)) {
            ret = kIOReturnNoSpace;
        }
        if (ret != kIOReturnSuccess) {
            os_log(OS_LOG_DEFAULT, "litepcie: DMA ring of %llu bytes (%u address bits) failed: 0x%08x",
                   static_cast<unsigned long long>(bytes), maxAddressBits, ret);
            if (prepared) {
                m->dma->CompleteDMA(kIODMACommandCompleteDMANoOptions);
            }
            ReleaseMemory(m);
            return ret;
        }
        out->cpu = reinterpret_cast<void*>(static_cast<uintptr_t>(range.address));
        out->length = bytes;
        out->segmentCount = count;
        for (uint32_t i = 0; i < count; ++i) {
            out->segments[i] = lpc::DmaSegment{segments[i].address, segments[i].length};
        }
        out->platformHandle = m;
        // The core checks coverage, segment boundaries and the address width (CheckRing) and refuses
        // the ring otherwise; nothing is written to the DMA tables before that.
        return kIOReturnSuccess;
    }

    void FreeDma(lpc::DmaBuffer* buffer) override {
        if (buffer == nullptr || buffer->platformHandle == nullptr) {
            return;
        }
        GlueMemory* m = static_cast<GlueMemory*>(buffer->platformHandle);
        if (m->dma != nullptr) {
            m->dma->CompleteDMA(kIODMACommandCompleteDMANoOptions); // the engine is stopped (core contract)
        }
        ReleaseMemory(m);
        buffer->platformHandle = nullptr;
    }

    int32_t AllocateShared(uint64_t bytes, lpc::SharedMemory* out) override {
        if (out == nullptr || bytes == 0) {
            return kIOReturnBadArgument;
        }
        GlueMemory* m = IONewZero(GlueMemory, 1);
        if (m == nullptr) {
            return kIOReturnNoMemory;
        }
        kern_return_t ret = IOBufferMemoryDescriptor::Create(kIOMemoryDirectionInOut, bytes, IOVMPageSize, &m->buffer);
        if (ret == kIOReturnSuccess) {
            ret = m->buffer->SetLength(bytes);
        }
        IOAddressSegment range = {};
        if (ret == kIOReturnSuccess) {
            ret = m->buffer->GetAddressRange(&range);
        }
        if (ret != kIOReturnSuccess || range.address == 0 || range.length < bytes) {
            ReleaseMemory(m);
            return ret != kIOReturnSuccess ? ret : kIOReturnNoMemory;
        }
        void* cpu = reinterpret_cast<void*>(static_cast<uintptr_t>(range.address));
        __builtin_memset(cpu, 0, static_cast<size_t>(bytes)); // the core expects zeroed memory
        out->cpu = cpu;
        out->length = bytes;
        out->platformHandle = m;
        if (bytes >= sizeof(LpcStatusHeader)) {
            statusHeader = static_cast<const LpcStatusHeader*>(cpu); // the status page (only shared allocation)
        }
        return kIOReturnSuccess;
    }

    void FreeShared(lpc::SharedMemory* memory) override {
        if (memory == nullptr || memory->platformHandle == nullptr) {
            return;
        }
        if (static_cast<const void*>(statusHeader) == memory->cpu) {
            statusHeader = nullptr;
        }
        ReleaseMemory(static_cast<GlueMemory*>(memory->platformHandle));
        memory->platformHandle = nullptr;
    }

    void Lock() override { IOLockLock(coreLock); }

    void Unlock() override { IOLockUnlock(coreLock); }

    void DelayMicroseconds(uint32_t microseconds) override {
        if (microseconds >= 1000) {
            IOSleep((static_cast<uint64_t>(microseconds) + 999) / 1000); // milliseconds; may block the thread
        } else {
            IODelay(microseconds);
        }
    }

    uint64_t NowNanoseconds() override { return TicksToNs(mach_absolute_time()); }

    void ArmTimer(uint32_t slot, uint64_t deadlineNs) override {
        if (slot >= kWaitSlots) {
            return;
        }
        IOLockLock(glueLock);
        deadlines[slot] = deadlineNs != 0 ? deadlineNs : 1;
        ProgramTimerLocked();
        IOLockUnlock(glueLock);
    }

    void CancelTimer(uint32_t slot) override {
        if (slot >= kWaitSlots) {
            return;
        }
        IOLockLock(glueLock);
        deadlines[slot] = 0; // a wake already programmed for it finds nothing expired and re-arms
        IOLockUnlock(glueLock);
    }

    void CompleteAsync(uint64_t token, int32_t status, const uint64_t* args, uint32_t count) override {
        OSAction* action = nullptr;
        IOUserClient* client = nullptr;
        if (!TakeCompletion(token, &action, &client)) {
            Log("completion for an unknown async token ignored");
            return;
        }
        IOUserClientAsyncArgumentsArray data = {};
        const uint32_t n = count < kAsyncArgsMax ? count : kAsyncArgsMax;
        for (uint32_t i = 0; i < n && args != nullptr; ++i) {
            data[i] = args[i];
        }
        client->AsyncCompletion(action, status, data, n);
        action->release();
        client->release();
    }

    int32_t ResetFunction(uint32_t type) override {
        if (pci == nullptr) {
            return kIOReturnNotReady;
        }
        IOOptionBits resetType;
        switch (type) {
        case kLpcResetFunction: resetType = kIOPCIDeviceResetTypeFunctionReset; break;
        case kLpcResetHot: resetType = kIOPCIDeviceResetTypeHotReset; break;
        default: return kIOReturnBadArgument;
        }
        const kern_return_t ret = pci->Reset(resetType, kIOPCIDeviceResetOptionNone);
        os_log(OS_LOG_DEFAULT, "litepcie: IOPCIDevice::Reset(0x%x) = 0x%08x", resetType, ret);
        return ret;
    }

    void Log(const char* message) override { os_log(OS_LOG_DEFAULT, "litepcie: %{public}s", message); }

    // ---- Glue helpers -------------------------------------------------------------------

    uint64_t TicksToNs(uint64_t ticks) const {
        // ticks * numer / denom without 128-bit arithmetic (numer/denom is 1/1 or 125/3).
        return ticks / timebase.denom * timebase.numer + ticks % timebase.denom * timebase.numer / timebase.denom;
    }

    uint64_t NsToTicks(uint64_t ns) const {
        const uint64_t rem = ns % timebase.numer * timebase.denom;
        return ns / timebase.numer * timebase.denom + rem / timebase.numer + (rem % timebase.numer != 0 ? 1 : 0);
    }

    /// Records the BAR → memory index translation for every BAR the layout uses.
    kern_return_t ReadBars(const LpcBoardLayout& layout) {
        for (uint32_t bar = 0; bar < kBarCount; ++bar) {
            if (layout.barSizes[bar] == 0) {
                continue;
            }
            uint8_t index = 0;
            uint8_t type = 0;
            uint64_t size = 0;
            const kern_return_t ret = pci->GetBARInfo(static_cast<uint8_t>(bar), &index, &size, &type);
            if (ret != kIOReturnSuccess) {
                os_log(OS_LOG_DEFAULT, "litepcie: BAR%u: GetBARInfo failed 0x%08x (the board layout expects %llu bytes)",
                       bar, ret, static_cast<unsigned long long>(layout.barSizes[bar]));
                return ret;
            }
            if (type == kPCIBARTypeIO) {
                os_log(OS_LOG_DEFAULT, "litepcie: BAR%u is an I/O BAR; the board layout expects memory", bar);
                return kIOReturnUnsupported;
            }
            if (size < layout.barSizes[bar]) {
                // MemoryRead32/Write32 do not bounds-check offsets (docs/dext-design.md#mmio-bounds): a layout larger
                // than the BAR would let validated offsets run past the mapping.
                os_log(OS_LOG_DEFAULT,
                       "litepcie: BAR%u is %llu bytes, the board layout expects %llu (stale BoardLayout.generated.cpp?)",
                       bar, static_cast<unsigned long long>(size), static_cast<unsigned long long>(layout.barSizes[bar]));
                return kIOReturnNoSpace;
            }
            memoryIndex[bar] = index;
            barSize[bar] = size;
            barMapped[bar] = 1;
            os_log(OS_LOG_DEFAULT, "litepcie: BAR%u: memory index %u, %llu bytes, type 0x%x", bar, index,
                   static_cast<unsigned long long>(size), type);
        }
        if (layout.csrBar >= kBarCount || barMapped[layout.csrBar] == 0) {
            os_log(OS_LOG_DEFAULT, "litepcie: the CSR BAR (%u) is not implemented", layout.csrBar);
            return kIOReturnNoDevice;
        }
        return kIOReturnSuccess;
    }

    /// Takes every wait slot whose deadline has passed and re-arms the timer for the rest.
    uint32_t CollectExpiredWaits(uint32_t* expired) {
        uint32_t n = 0;
        IOLockLock(glueLock);
        const uint64_t now = NowNanoseconds();
        armedDeadline = 0;
        for (uint32_t slot = 0; slot < kWaitSlots; ++slot) {
            if (deadlines[slot] != 0 && deadlines[slot] <= now) {
                deadlines[slot] = 0;
                expired[n++] = slot;
            }
        }
        ProgramTimerLocked();
        IOLockUnlock(glueLock);
        return n;
    }

    kern_return_t RegisterCompletion(IOUserClient* client, OSAction* action, uint64_t* token) {
        kern_return_t ret = kIOReturnNoResources;
        IOLockLock(glueLock);
        for (uint32_t i = 0; i < kTokenSlots; ++i) {
            if (slots[i].token == 0) {
                if (++tokenSequence == 0 || tokenSequence > (UINT64_MAX >> 8)) {
                    tokenSequence = 1;
                }
                action->retain(); // only retained for the ExternalMethod call otherwise (IOUserClient.iig)
                client->retain();
                slots[i] = CompletionSlot{(tokenSequence << 8) | i, action, client};
                *token = slots[i].token;
                ret = kIOReturnSuccess;
                break;
            }
        }
        IOLockUnlock(glueLock);
        return ret;
    }

    bool TakeCompletion(uint64_t token, OSAction** action, IOUserClient** client) {
        const uint64_t index = token & 0xFFu;
        bool found = false;
        IOLockLock(glueLock);
        if (token != 0 && index < kTokenSlots && slots[index].token == token) {
            *action = slots[index].action;
            *client = slots[index].client;
            slots[index] = CompletionSlot{};
            found = true;
        }
        IOLockUnlock(glueLock);
        return found;
    }

    /// Releases, without completing, everything `client` (or anyone, for nullptr) still has registered.
    void DropCompletions(const IOUserClient* client) {
        for (uint32_t i = 0; i < kTokenSlots; ++i) {
            OSAction* action = nullptr;
            IOUserClient* owner = nullptr;
            IOLockLock(glueLock);
            if (slots[i].token != 0 && (client == nullptr || slots[i].client == client)) {
                action = slots[i].action;
                owner = slots[i].client;
                slots[i] = CompletionSlot{};
            }
            IOLockUnlock(glueLock);
            if (action != nullptr) {
                action->release();
                owner->release();
            }
        }
    }

    lpc::Core core;

    IOPCIDevice* pci = nullptr;
    uint8_t memoryIndex[kBarCount] = {};
    uint64_t barSize[kBarCount] = {};
    uint8_t barMapped[kBarCount] = {};

    IOLock* coreLock = nullptr;
    IOLock* glueLock = nullptr;
    mach_timebase_info_data_t timebase = {1, 1};

    IODispatchQueue* irqQueue = nullptr;
    IOInterruptDispatchSource* irqSources[kMaxVectors] = {};
    OSAction* irqActions[kMaxVectors] = {};
    uint32_t irqCount = 0;

    IODispatchQueue* timerQueue = nullptr;
    IOTimerDispatchSource* timer = nullptr; // guarded by glueLock
    OSAction* timerAction = nullptr;
    uint64_t deadlines[kWaitSlots] = {}; // ns, 0 = no wait armed; guarded by glueLock
    uint64_t armedDeadline = 0;          // what the timer is programmed for, 0 = nothing

    CompletionSlot slots[kTokenSlots] = {}; // guarded by glueLock
    uint64_t tokenSequence = 0;
    IOUserClient* attachedClient = nullptr; // identity only (not retained); guarded by glueLock

    const LpcStatusHeader* statusHeader = nullptr;
    uint32_t interruptVectors = 0;

    /// Written by Start/Stop on the default queue, read by NewUserClient, SetPowerState and the user
    /// client's queue: an atomic flag, never a plain read.
    bool Started() const { return __atomic_load_n(&started, __ATOMIC_ACQUIRE) != 0; }
    void SetStarted(bool value) { __atomic_store_n(&started, value ? 1u : 0u, __ATOMIC_RELEASE); }

private:
    uint32_t started = 0; // through Started()/SetStarted() only
    bool BarAccessible(uint32_t bar, uint64_t offset) const {
        // The core validated the offset against the layout; this guards the mapping itself.
        return pci != nullptr && bar < kBarCount && barMapped[bar] != 0 && (offset & 3u) == 0 && barSize[bar] >= 4 &&
               offset <= barSize[bar] - 4;
    }

    void ProgramTimerLocked() {
        uint64_t earliest = 0;
        for (uint32_t slot = 0; slot < kWaitSlots; ++slot) {
            if (deadlines[slot] != 0 && (earliest == 0 || deadlines[slot] < earliest)) {
                earliest = deadlines[slot];
            }
        }
        if (earliest == 0 || timer == nullptr || (armedDeadline != 0 && armedDeadline <= earliest)) {
            return; // nothing to wait for, or a wake at or before it is already programmed
        }
        armedDeadline = earliest;
        timer->WakeAtTime(kIOTimerClockMachAbsoluteTime, NsToTicks(earliest), NsToTicks(kTimerLeewayNs));
    }

    static void ReleaseMemory(GlueMemory* m) {
        if (m->dma != nullptr) {
            m->dma->release();
        }
        if (m->buffer != nullptr) {
            m->buffer->release(); // a client mapping keeps its own reference to the pages
        }
        IODelete(m, GlueMemory, 1);
    }
};

void SetNumber(OSDictionary* dict, const char* key, uint64_t value, uint32_t bits) {
    OSNumber* n = OSNumber::withNumber(value, bits);
    if (n != nullptr) {
        dict->setObject(key, n);
        n->release();
    }
}

// Disables a dispatch source (interrupt or timer) and cancels it exactly once; the source and its
// action are released in the cancel handler, or at once if Cancel fails. Releasing a source without
// Cancel, or before its cancel completed, has panicked the kernel (ASFW's comments).
void CancelAndRelease(IODispatchSource* source, OSAction* action, const char* what) {
    if (source == nullptr) {
        if (action != nullptr) {
            action->release();
        }
        return;
    }
    source->SetEnableWithCompletion(false, nullptr);
    const kern_return_t ret = source->Cancel(^{
        source->release();
        if (action != nullptr) {
            action->release();
        }
    });
    if (ret != kIOReturnSuccess) {
        os_log(OS_LOG_DEFAULT, "litepcie: %{public}s cancel failed 0x%08x", what, ret);
        source->release();
        if (action != nullptr) {
            action->release();
        }
    }
}

} // namespace

struct LitePCIeDriver_IVars {
    DriverKitPlatform* platform;
};

bool LitePCIeDriver::init()
{
    if (!super::init()) {
        return false;
    }
    ivars = IONewZero(LitePCIeDriver_IVars, 1);
    return ivars != nullptr;
}

void LitePCIeDriver::free()
{
    if (ivars != nullptr) {
        // Reached only after every OSAction targeting this object was cancelled and released, so no
        // interrupt or timer handler can still be using the platform.
        delete ivars->platform;
        ivars->platform = nullptr;
        IOSafeDeleteNULL(ivars, LitePCIeDriver_IVars, 1);
    }
    super::free();
}

kern_return_t IMPL(LitePCIeDriver, Start)
{
    kern_return_t ret = Start(provider, SUPERDISPATCH);
    if (ret != kIOReturnSuccess) {
        return ret;
    }
    if (ivars == nullptr) {
        return kIOReturnNoMemory;
    }
    if (ivars->platform == nullptr) {
        ivars->platform = new DriverKitPlatform();
        if (ivars->platform == nullptr || !ivars->platform->Initialize()) {
            os_log(OS_LOG_DEFAULT, "litepcie: start: out of memory for the platform");
            return kIOReturnNoMemory;
        }
    }
    DriverKitPlatform& p = *ivars->platform;
    const LpcBoardLayout& layout = kLitePcieBoardLayout;

    // 1. The provider: cast, retain, open a session (maps the BARs into this process).
    IOPCIDevice* pci = OSDynamicCast(IOPCIDevice, provider);
    if (pci == nullptr) {
        return kIOReturnNoDevice;
    }
    pci->retain();
    ret = pci->Open(this, 0);
    if (ret != kIOReturnSuccess) {
        // Open opens the session first and maps the BARs after: a failed mapping returns an error with
        // the session open (IOPCIFamily PCIDriverKit/IOPCIDevice.cpp). Close ends it; when the session
        // never opened, Close does nothing (it only acts for the client that owns the session).
        os_log(OS_LOG_DEFAULT, "litepcie: start: IOPCIDevice::Open failed 0x%08x", ret);
        pci->Close(this, 0);
        pci->release();
        return ret;
    }
    p.pci = pci;

    enum : uint32_t { kStageOpened = 1, kStageTimer, kStageCore, kStageInterrupts };
    uint32_t stage = kStageOpened;
    do {
        // 2. BAR index → memory index (never assume 0), sizes checked against the layout.
        ret = p.ReadBars(layout);
        if (ret != kIOReturnSuccess) {
            break;
        }
        ret = SetUpWaitTimer();
        if (ret != kIOReturnSuccess) {
            break;
        }
        stage = kStageTimer;

        // 3. The core: layout check, SoC reset, identifier, status page and rings, bus mastering.
        ret = p.core.Start(layout);
        if (ret != kIOReturnSuccess) {
            break;
        }
        stage = kStageCore;

        // 4. Interrupts: ConfigureInterrupts once, one source per vector, created once.
        ret = SetUpInterrupts();
        if (ret != kIOReturnSuccess) {
            break;
        }
        stage = kStageInterrupts;

        // 5. Publish: the client matches IOServiceNameMatching("litepcie"). The generated RPC copies a
        //    char-array argument with strlcpy, up to its NUL, so the literal is passed as it is.
        ret = SetName("litepcie");
        if (ret != kIOReturnSuccess) {
            break;
        }
        PublishProperties();
        p.SetStarted(true);
        ret = RegisterService();
        if (ret != kIOReturnSuccess) {
            p.SetStarted(false);
            break;
        }
    } while (false);

    if (ret != kIOReturnSuccess) {
        // Undo in reverse order. Stop() is not called from Start (docs/dext-design.md#start).
        os_log(OS_LOG_DEFAULT, "litepcie: start failed 0x%08x (stage %u)", ret, stage);
        if (stage >= kStageInterrupts) {
            TearDownInterrupts();
        }
        if (stage >= kStageCore) {
            p.core.Stop();
        }
        if (stage >= kStageTimer) {
            TearDownWaitTimer();
        }
        p.DropCompletions(nullptr);
        pci->Close(this, 0);
        p.pci = nullptr;
        pci->release();
        return ret;
    }

    os_log(OS_LOG_DEFAULT, "litepcie: started (%u channels, %u x %u byte buffers, %u interrupt vector(s))",
           layout.channelCount, layout.bufferCount, layout.bufferSize, p.interruptVectors);
    return kIOReturnSuccess;
}

kern_return_t IMPL(LitePCIeDriver, Stop)
{
    if (ivars != nullptr && ivars->platform != nullptr) {
        DriverKitPlatform& p = *ivars->platform;
        p.SetStarted(false);
        // 0. Surprise removal (a Thunderbolt unplug) reaches a dext as this Stop and nothing else. A
        //    configuration space that reads all-ones means the device is gone: the core then stops its
        //    channels and aborts the waits (kIOReturnOffline) without any MMIO, which on a vanished
        //    device would each wait for a completion timeout.
        if (p.pci != nullptr && p.ConfigRead32(0) == 0xFFFFFFFFu) {
            os_log(OS_LOG_DEFAULT, "litepcie: stop: configuration space reads all-ones, the device is gone");
            p.core.DeviceRemoved();
        }
        // 1. The core: stopping flag, every channel stopped, MSI enables cleared, waits aborted (their
        //    completions delivered), bus mastering cleared, rings completed and freed. After it returns
        //    the core touches no register, so late handlers are harmless. (The core checks config space
        //    itself as well, for every platform that hosts it.)
        p.core.Stop();
        // 2. Interrupt sources and the wait timer: disable, then Cancel (released in the handlers).
        TearDownInterrupts();
        TearDownWaitTimer();
        p.DropCompletions(nullptr);
        // 3. Close only now: it clears Memory Space and Bus Master, which must follow the DMA stop.
        if (p.pci != nullptr) {
            IOPCIDevice* pci = p.pci;
            p.pci = nullptr;
            pci->Close(this, 0);
            pci->release();
        }
    }
    // 4. Always reach super (the public LitePCIe ports and tinygrad do not).
    return Stop(provider, SUPERDISPATCH);
}

kern_return_t IMPL(LitePCIeDriver, SetPowerState)
{
    if (ivars != nullptr && ivars->platform != nullptr && ivars->platform->Started()) {
        // Off (and Low) stop DMA and MSI and abort waits; On leaves channels stopped for the client to
        // restart (the core bumps the generation both ways). ChangePowerState/SetPowerOverride are not
        // used: before the PM join they are dropped (ASFW), and the dext has no power policy of its own.
        const bool on = (powerFlags & kIOServicePowerCapabilityOn) != 0;
        os_log(OS_LOG_DEFAULT, "litepcie: SetPowerState(0x%x): %{public}s", powerFlags, on ? "on" : "off");
        ivars->platform->core.SetPowerState(on);
    }
    return SetPowerState(powerFlags, SUPERDISPATCH);
}

kern_return_t IMPL(LitePCIeDriver, NewUserClient)
{
    if (userClient == nullptr) {
        return kIOReturnBadArgument;
    }
    *userClient = nullptr;
    if (type != 0) {
        return kIOReturnBadArgument; // IOServiceOpen(..., type 0, ...)
    }
    if (ivars == nullptr || ivars->platform == nullptr || !ivars->platform->Started()) {
        return kIOReturnNotReady;
    }
    DriverKitPlatform& p = *ivars->platform;
    IOLockLock(p.glueLock);
    const bool busy = p.attachedClient != nullptr;
    IOLockUnlock(p.glueLock);
    if (busy) {
        return kIOReturnExclusiveAccess; // fast path; the core decides again in the client's Start
    }

    // Info.plist personality key of the user client (IOClass IOUserUserClient, IOUserClass
    // LitePCIeUserClient). IOPropertyName is char[128], but a char-array argument is copied with
    // strlcpy up to its NUL, not as 128 bytes: the literal is all it needs.
    IOService* service = nullptr;
    kern_return_t ret = Create(this, "UserClientProperties", &service);
    if (ret != kIOReturnSuccess || service == nullptr) {
        os_log(OS_LOG_DEFAULT, "litepcie: NewUserClient: Create failed 0x%08x", ret);
        return ret != kIOReturnSuccess ? ret : kIOReturnError;
    }
    IOUserClient* client = OSDynamicCast(IOUserClient, service);
    if (client == nullptr) {
        service->release();
        return kIOReturnError;
    }
    *userClient = client;
    return kIOReturnSuccess;
}

void IMPL(LitePCIeDriver, InterruptOccurred)
{
    // `count`: messages since the last call (the dispatch source coalesces); the core counts every one of them.
    if (ivars == nullptr || ivars->platform == nullptr) {
        return;
    }
    DriverKitPlatform& p = *ivars->platform;
    uint32_t vector = 0;
    if (action != nullptr) {
        const uint32_t* reference = static_cast<const uint32_t*>(action->GetReference());
        if (reference != nullptr) {
            vector = *reference;
        }
    }
    // `time` is mach_absolute_time of the primary interrupt; the core's clock is NowNanoseconds.
    p.core.Interrupt(vector, p.TicksToNs(time), count);
}

void IMPL(LitePCIeDriver, WaitTimerOccurred)
{
    (void)action;
    (void)time;
    if (ivars == nullptr || ivars->platform == nullptr) {
        return;
    }
    DriverKitPlatform& p = *ivars->platform;
    uint32_t expired[kWaitSlots];
    const uint32_t n = p.CollectExpiredWaits(expired);
    for (uint32_t i = 0; i < n; ++i) {
        p.core.TimerFired(expired[i]); // takes the core lock; the glue lock is not held here
    }
}

// ---- User-client entry points (LOCALONLY) --------------------------------------------------------

kern_return_t LitePCIeDriver::AttachClient(IOUserClient* client, uint32_t type, uint32_t* clientId)
{
    if (client == nullptr || clientId == nullptr || ivars == nullptr || ivars->platform == nullptr) {
        return kIOReturnBadArgument;
    }
    DriverKitPlatform& p = *ivars->platform;
    if (!p.Started()) {
        return kIOReturnNotReady;
    }
    const int32_t st = p.core.OpenClient(type, clientId); // LPC_RETURN_EXCLUSIVE_ACCESS when taken
    if (st != LPC_RETURN_SUCCESS) {
        return st;
    }
    IOLockLock(p.glueLock);
    p.attachedClient = client;
    IOLockUnlock(p.glueLock);
    return kIOReturnSuccess;
}

void LitePCIeDriver::DetachClient(IOUserClient* client, uint32_t clientId)
{
    if (ivars == nullptr || ivars->platform == nullptr) {
        return;
    }
    DriverKitPlatform& p = *ivars->platform;
    p.core.CloseClient(clientId); // its channels stopped, its waits completed with kIOReturnAborted
    p.DropCompletions(client);
    IOLockLock(p.glueLock);
    if (p.attachedClient == client) {
        p.attachedClient = nullptr;
    }
    IOLockUnlock(p.glueLock);
}

kern_return_t LitePCIeDriver::RegisterCompletion(IOUserClient* client, OSAction* completion, uint64_t* token)
{
    if (client == nullptr || completion == nullptr || token == nullptr || ivars == nullptr || ivars->platform == nullptr) {
        return kIOReturnBadArgument;
    }
    return ivars->platform->RegisterCompletion(client, completion, token);
}

void LitePCIeDriver::DropCompletion(uint64_t token)
{
    if (ivars == nullptr || ivars->platform == nullptr) {
        return;
    }
    OSAction* action = nullptr;
    IOUserClient* client = nullptr;
    if (ivars->platform->TakeCompletion(token, &action, &client)) {
        action->release();
        client->release();
    }
}

kern_return_t LitePCIeDriver::CallMethod(uint32_t clientId, uint64_t selector, void* methodArgs)
{
    if (methodArgs == nullptr || ivars == nullptr || ivars->platform == nullptr) {
        return kIOReturnBadArgument;
    }
    return ivars->platform->core.ExternalMethod(clientId, selector, *static_cast<lpc::MethodArgs*>(methodArgs));
}

kern_return_t LitePCIeDriver::CopyClientMemory(uint32_t clientId, uint64_t type, uint64_t* options,
                                               IOMemoryDescriptor** memory)
{
    if (options == nullptr || memory == nullptr || ivars == nullptr || ivars->platform == nullptr) {
        return kIOReturnBadArgument;
    }
    void* cpu = nullptr;
    void* handle = nullptr;
    uint64_t length = 0;
    uint32_t readOnly = 1;
    const int32_t st = ivars->platform->core.CopyClientMemory(clientId, type, &cpu, &length, &readOnly, &handle);
    if (st != LPC_RETURN_SUCCESS) {
        return st;
    }
    // The rings and the status page live from driver Start to driver Stop, and IOKit stops a user
    // client (serialised with its CopyClientMemoryForType calls) before its provider, so `handle`
    // cannot be freed under us here.
    GlueMemory* m = static_cast<GlueMemory*>(handle);
    if (m == nullptr || m->buffer == nullptr) {
        return kIOReturnNotReady;
    }
    m->buffer->retain(); // one reference is consumed by the caller
    *memory = m->buffer; // the same instance for a given type, as IOUserClient.iig requires
    if (readOnly != 0) {
        *options |= kIOUserClientMemoryReadOnly;
    }
    return kIOReturnSuccess;
}

// ---- Start/Stop helpers (LOCALONLY) ---------------------------------------------------------------

kern_return_t LitePCIeDriver::SetUpInterrupts()
{
    DriverKitPlatform& p = *ivars->platform;
    const LpcBoardLayout& layout = kLitePcieBoardLayout;
    if (p.irqCount != 0) {
        return kIOReturnSuccess; // once per provider lifetime: a second registration can panic (ASFW)
    }

    // At least one vector, as many as the gateware wants, then what was granted (lpc/Interrupts.hpp):
    // whatever resolved the device's interrupts first fixed the allocation.
    PciInterruptController controller(p.pci);
    const lpc::InterruptGrant grant = lpc::NegotiateInterrupts(layout, controller);
    const char* kind = grant.type == kIOInterruptTypePCIMessagedX ? "MSI-X" : "MSI";
    if (grant.status != kIOReturnSuccess) {
        os_log(OS_LOG_DEFAULT,
               "litepcie: interrupts: %{public}s: ConfigureInterrupts(%{public}s, required %u, requested %u) = 0x%08x, "
               "index 0 type 0x%llx",
               lpc::InterruptProblemName(grant.problem), kind, grant.required, grant.requested, grant.status,
               static_cast<unsigned long long>(grant.firstType));
        return grant.status;
    }
    os_log(OS_LOG_DEFAULT, "litepcie: interrupts: %{public}s, %u of %u vector(s) granted (requested %u) from index %u",
           kind, grant.granted, grant.needed, grant.requested, grant.first);

    kern_return_t ret = kIOReturnSuccess;
    if (p.irqQueue == nullptr) {
        ret = IODispatchQueue::Create("LpcIrq", 0, 0, &p.irqQueue);
        if (ret != kIOReturnSuccess) {
            os_log(OS_LOG_DEFAULT, "litepcie: interrupt queue: 0x%08x", ret);
            return ret;
        }
    }

    for (uint32_t v = 0; v < grant.granted && ret == kIOReturnSuccess; ++v) {
        IOInterruptDispatchSource* source = nullptr;
        ret = IOInterruptDispatchSource::Create(p.pci, grant.first + v, p.irqQueue, &source);
        if (ret != kIOReturnSuccess || source == nullptr) {
            ret = ret != kIOReturnSuccess ? ret : kIOReturnError;
            break;
        }
        p.irqSources[v] = source; // from here on it is only ever released through Cancel
        p.irqCount = v + 1;
        OSAction* action = nullptr;
        ret = CreateActionInterruptOccurred(sizeof(uint32_t), &action);
        if (ret != kIOReturnSuccess || action == nullptr) {
            ret = ret != kIOReturnSuccess ? ret : kIOReturnError;
            break;
        }
        p.irqActions[v] = action;
        uint32_t* reference = static_cast<uint32_t*>(action->GetReference());
        if (reference != nullptr) {
            *reference = v;
        }
        ret = source->SetHandler(action);
    }
    for (uint32_t v = 0; v < p.irqCount && ret == kIOReturnSuccess; ++v) {
        ret = p.irqSources[v]->SetEnableWithCompletion(true, nullptr);
    }
    if (ret != kIOReturnSuccess) {
        os_log(OS_LOG_DEFAULT, "litepcie: interrupt sources: 0x%08x", ret);
        TearDownInterrupts();
        return ret;
    }
    p.interruptVectors = grant.granted;
    // The core maps a message on vector v to the interrupt bits it may stand for, and refuses to start
    // an MSI-X direction whose bit has no vector.
    p.core.SetInterruptVectors(grant.granted);
    return kIOReturnSuccess;
}

void LitePCIeDriver::TearDownInterrupts()
{
    DriverKitPlatform& p = *ivars->platform;
    for (uint32_t v = 0; v < p.irqCount; ++v) {
        IOInterruptDispatchSource* source = p.irqSources[v];
        OSAction* action = p.irqActions[v];
        p.irqSources[v] = nullptr;
        p.irqActions[v] = nullptr;
        CancelAndRelease(source, action, "interrupt source");
    }
    p.irqCount = 0;
    p.interruptVectors = 0;
    // irqQueue is released in free(), after the cancel handlers that run on it.
}

kern_return_t LitePCIeDriver::SetUpWaitTimer()
{
    DriverKitPlatform& p = *ivars->platform;
    IODispatchQueue* queue = nullptr;
    kern_return_t ret = CopyDispatchQueue(kIOServiceDefaultQueueName, &queue);
    if (ret != kIOReturnSuccess || queue == nullptr) {
        return ret != kIOReturnSuccess ? ret : kIOReturnError;
    }
    if (p.timerQueue == nullptr) {
        p.timerQueue = queue; // released in free()
    } else {
        queue->release();
    }

    IOTimerDispatchSource* timer = nullptr;
    ret = IOTimerDispatchSource::Create(p.timerQueue, &timer);
    if (ret != kIOReturnSuccess || timer == nullptr) {
        return ret != kIOReturnSuccess ? ret : kIOReturnError;
    }
    OSAction* action = nullptr;
    ret = CreateActionWaitTimerOccurred(0, &action);
    if (ret == kIOReturnSuccess) {
        ret = timer->SetHandler(action);
    }
    if (ret == kIOReturnSuccess) {
        ret = timer->SetEnableWithCompletion(true, nullptr);
    }
    IOLockLock(p.glueLock);
    p.timer = timer;
    p.timerAction = action;
    p.armedDeadline = 0;
    IOLockUnlock(p.glueLock);
    if (ret != kIOReturnSuccess) {
        os_log(OS_LOG_DEFAULT, "litepcie: wait timer: 0x%08x", ret);
        TearDownWaitTimer();
    }
    return ret;
}

void LitePCIeDriver::TearDownWaitTimer()
{
    DriverKitPlatform& p = *ivars->platform;
    IOLockLock(p.glueLock);
    IOTimerDispatchSource* timer = p.timer;
    OSAction* action = p.timerAction;
    p.timer = nullptr; // ArmTimer no longer programs it
    p.timerAction = nullptr;
    p.armedDeadline = 0;
    for (uint32_t slot = 0; slot < kWaitSlots; ++slot) {
        p.deadlines[slot] = 0;
    }
    IOLockUnlock(p.glueLock);
    CancelAndRelease(timer, action, "wait timer");
}

void LitePCIeDriver::PublishProperties()
{
    // Read by the client with IORegistryEntryCreateCFProperty before IOServiceOpen. A dext's own
    // SetProperties lands in the kernel object's "IOUserServiceProperties" dictionary (xnu
    // IOService::SetProperties_Impl); ioreg shows it there.
    DriverKitPlatform& p = *ivars->platform;
    const LpcBoardLayout& layout = kLitePcieBoardLayout;
    OSDictionary* props = OSDictionary::withCapacity(12);
    if (props == nullptr) {
        return;
    }
    SetNumber(props, "AbiVersion", (static_cast<uint64_t>(LPC_ABI_MAJOR) << 16) | LPC_ABI_MINOR, 32);
    SetNumber(props, "ChannelCount", layout.channelCount, 32);
    SetNumber(props, "BufferCount", layout.bufferCount, 32);
    SetNumber(props, "BufferSize", layout.bufferSize, 32);
    SetNumber(props, "Bar0Size", p.barSize[layout.csrBar < kBarCount ? layout.csrBar : 0], 64);
    SetNumber(props, "DmaAddressWidth", layout.dmaAddressWidth, 32);
    SetNumber(props, "MsiFlavour", layout.msiFlavour, 32);
    SetNumber(props, "InterruptVectors", p.interruptVectors, 32);

    char identifier[LPC_IDENTIFIER_BYTES + 1] = {};
    for (uint32_t i = 0; i < LPC_IDENTIFIER_BYTES && layout.expectedIdentifier[i] != 0; ++i) {
        identifier[i] = static_cast<char>(layout.expectedIdentifier[i]);
    }
    OSString* s = OSString::withCString(identifier); // the config_identifier the dext was built for
    if (s != nullptr) {
        props->setObject("Identifier", s);
        s->release();
    }
    const bool matches = p.statusHeader != nullptr &&
                         (__atomic_load_n(&p.statusHeader->flags, __ATOMIC_ACQUIRE) & LPC_FLAG_IDENT_MISMATCH) == 0;
    props->setObject("IdentifierMatches", matches ? kOSBooleanTrue : kOSBooleanFalse);

    const kern_return_t ret = SetProperties(props);
    if (ret != kIOReturnSuccess) {
        os_log(OS_LOG_DEFAULT, "litepcie: SetProperties failed 0x%08x (GetInfo still reports the same data)", ret);
    }
    props->release();
}
