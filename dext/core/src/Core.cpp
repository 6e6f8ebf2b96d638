#include "lpc/Core.hpp"

#include "lpc/Descriptor.hpp"
#include "lpc/Interrupts.hpp"
#include "lpc/Validation.hpp"

namespace lpc {

namespace {

constexpr uint32_t kCommandOffset = 0x04;
constexpr uint16_t kCommandMemorySpace = 0x0002;
constexpr uint16_t kCommandBusMaster = 0x0004;
constexpr uint32_t kSocResetDelayUs = 10000; // litepcie.ko sleeps 10 ms after ctrl_reset
constexpr uint32_t kStopFlushDelayUs = 1000; // and busy-waits 1 ms between flush and disable

/// Bounded text builder for error messages (no libc formatting in the core).
class Text {
public:
    Text(char* buffer, size_t capacity) : buf_(buffer), cap_(capacity) { buf_[0] = '\0'; }

    Text& Add(const char* s) {
        while (s != nullptr && *s != '\0' && len_ + 1 < cap_) {
            buf_[len_++] = *s++;
        }
        buf_[len_] = '\0';
        return *this;
    }

    Text& Dec(uint64_t v) {
        char tmp[24];
        int n = 0;
        do {
            tmp[n++] = static_cast<char>('0' + v % 10);
            v /= 10;
        } while (v != 0);
        char out[24];
        for (int i = 0; i < n; ++i) {
            out[i] = tmp[n - 1 - i];
        }
        out[n] = '\0';
        return Add(out);
    }

    Text& Hex(uint64_t v) {
        char out[20] = {'0', 'x'};
        int n = 2;
        bool started = false;
        for (int shift = 60; shift >= 0; shift -= 4) {
            const unsigned digit = static_cast<unsigned>(v >> shift) & 0xFu;
            if (digit != 0 || started || shift == 0) {
                out[n++] = "0123456789ABCDEF"[digit];
                started = true;
            }
        }
        out[n] = '\0';
        return Add(out);
    }

private:
    char* buf_;
    size_t cap_;
    size_t len_ = 0;
};

template <typename T> inline void StoreRelease(T* p, T v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

template <typename T> inline T LoadAcquire(const T* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }

} // namespace

class Core::Guard {
public:
    explicit Guard(Platform& p) : p_(p) { p_.Lock(); }
    ~Guard() { p_.Unlock(); }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

private:
    Platform& p_;
};

Core::Core(Platform& platform) : platform_(platform) {}

// ---------------------------------------------------------------------------------------------
// Driver lifecycle

int32_t Core::Start(const LpcBoardLayout& layout) {
    Guard g(platform_);
    if (started_ != 0) {
        return LPC_RETURN_BUSY;
    }
    if (const char* problem = validation::CheckLayout(layout)) {
        char msg[160];
        Text(msg, sizeof msg).Add("board layout refused: ").Add(problem);
        platform_.Log(msg);
        return LPC_RETURN_BAD_ARGUMENT;
    }
    layout_ = layout;
    gone_ = stopping_ = sleeping_ = identMismatch_ = 0;

    const uint32_t ids = platform_.ConfigRead32(0);
    if (ids == 0xFFFFFFFFu) {
        gone_ = 1;
        platform_.Log("start: configuration space reads all-ones, device not present");
        return LPC_RETURN_OFFLINE;
    }
    vendorId_ = static_cast<uint16_t>(ids & 0xFFFFu);
    deviceId_ = static_cast<uint16_t>(ids >> 16);
    const uint32_t rc = platform_.ConfigRead32(8);
    revision_ = static_cast<uint8_t>(rc & 0xFFu);
    classCode_ = rc >> 8;

    // Memory space on, bus mastering off until the rings are prepared (litex_m2sdr #145, P12 in docs/checklist.md).
    const uint16_t cmd = static_cast<uint16_t>(platform_.ConfigRead32(kCommandOffset) & 0xFFFFu);
    platform_.ConfigWrite16(kCommandOffset, static_cast<uint16_t>((cmd | kCommandMemorySpace) & ~kCommandBusMaster));

    if (layout_.ctrlReset != LPC_NO_REGISTER) {
        Write(layout_.ctrlReset, 1);
        platform_.DelayMicroseconds(kSocResetDelayUs);
    }
    ReadIdentifier();
    msiEnableShadow_ = 0;
    WriteMsiEnable();

    if (platform_.AllocateShared(LPC_STATUS_PAGE_BYTES, &status_) != LPC_RETURN_SUCCESS || status_.cpu == nullptr ||
        status_.length < LPC_STATUS_PAGE_BYTES) {
        if (status_.cpu != nullptr) {
            platform_.FreeShared(&status_); // short page: give it back rather than leak it
        }
        status_ = SharedMemory{};
        return LPC_RETURN_NO_MEMORY;
    }
    header_ = static_cast<LpcStatusHeader*>(status_.cpu);
    header_->magic = LPC_STATUS_MAGIC;
    header_->abiMajor = LPC_ABI_MAJOR;
    header_->abiMinor = LPC_ABI_MINOR;
    header_->channelCount = layout_.channelCount;
    header_->bufferCount = layout_.bufferCount;
    header_->bufferSize = layout_.bufferSize;

    const uint64_t ringBytes = static_cast<uint64_t>(layout_.bufferCount) * layout_.bufferSize;
    for (uint32_t c = 0; c < layout_.channelCount; ++c) {
        for (uint32_t d = 0; d < 2; ++d) {
            Direction& dir = dirs_[c][d];
            dir = Direction{};
            if (platform_.AllocateDma(ringBytes, layout_.dmaAddressWidth, &dir.ring) != LPC_RETURN_SUCCESS) {
                platform_.Log("start: DMA ring allocation failed");
                FreeResources();
                return LPC_RETURN_NO_MEMORY;
            }
            dir.allocated = 1;
            ++liveDmaBuffers_;
            liveDmaBytes_ += dir.ring.length;
            if (const char* problem = CheckRing(dir.ring, layout_.bufferCount, layout_.bufferSize, layout_.dmaAddressWidth)) {
                char msg[160];
                Text(msg, sizeof msg).Add("start: ring refused: ").Add(problem);
                platform_.Log(msg);
                FreeResources();
                return LPC_RETURN_NO_MEMORY;
            }
        }
    }

    SetBusMaster(true);
    started_ = 1;
    generation_ = 0;
    BumpGeneration();
    PublishFlags();
    return LPC_RETURN_SUCCESS;
}

void Core::Stop() {
    Completion done[kMaxCompletions];
    uint32_t n = 0;
    {
        Guard g(platform_);
        if (started_ == 0) {
            return;
        }
        if (gone_ == 0 && platform_.ConfigRead32(0) == 0xFFFFFFFFu) {
            MarkGone(); // surprise removal: Stop is the only notice DriverKit gives
        }
        stopping_ = 1;
        PublishFlags();
        QuiesceLocked(gone_ != 0 ? LPC_RETURN_OFFLINE : LPC_RETURN_ABORTED, done, &n);
        if (gone_ == 0) {
            SetBusMaster(false); // before the buffers go away
        }
        FreeResources();
        started_ = 0;
        activeClient_ = 0;
        interruptVectors_ = 0;
    }
    Deliver(done, n);
}

void Core::FreeResources() {
    for (uint32_t c = 0; c < LPC_MAX_CHANNELS; ++c) {
        for (uint32_t d = 0; d < 2; ++d) {
            Direction& dir = dirs_[c][d];
            if (dir.allocated != 0) {
                liveDmaBytes_ -= dir.ring.length;
                --liveDmaBuffers_;
                platform_.FreeDma(&dir.ring);
                dir.allocated = 0;
                dir.ring = DmaBuffer{};
            }
        }
    }
    if (status_.cpu != nullptr) {
        platform_.FreeShared(&status_);
        status_ = SharedMemory{};
        header_ = nullptr;
    }
}

int32_t Core::OpenClient(uint32_t type, uint32_t* clientId) {
    Guard g(platform_);
    if (started_ == 0 || stopping_ != 0) {
        return LPC_RETURN_NOT_READY;
    }
    if (type != 0) {
        return LPC_RETURN_BAD_ARGUMENT;
    }
    if (gone_ != 0) {
        return LPC_RETURN_OFFLINE;
    }
    if (activeClient_ != 0) {
        return LPC_RETURN_EXCLUSIVE_ACCESS; // one client per device
    }
    if (nextClientId_ == 0) {
        nextClientId_ = 1;
    }
    activeClient_ = nextClientId_++;
    ++clientsOpened_;
    lastError_ = LpcErrorInfo{};
    lastErrorClient_ = activeClient_;
    *clientId = activeClient_;
    return LPC_RETURN_SUCCESS;
}

void Core::CloseClient(uint32_t clientId) {
    Completion done[kMaxCompletions];
    uint32_t n = 0;
    {
        Guard g(platform_);
        if (clientId == 0 || clientId != activeClient_) {
            return;
        }
        for (uint32_t c = 0; c < layout_.channelCount; ++c) {
            for (uint32_t d = 0; d < 2; ++d) {
                Direction& dir = dirs_[c][d];
                if (dir.running != 0 && dir.owner == clientId) {
                    StopDirection(c, d, LPC_RETURN_ABORTED, done, &n);
                }
            }
        }
        AbortAllWaits(LPC_RETURN_ABORTED, done, &n);
        activeClient_ = 0;
    }
    Deliver(done, n);
}

// ---------------------------------------------------------------------------------------------
// Method dispatch

int32_t Core::ExternalMethod(uint32_t clientId, uint64_t selector, MethodArgs& a) {
    a.structOutputSize = 0;
    a.asyncTokenTaken = 0;
    Completion done[kMaxCompletions];
    uint32_t n = 0;
    int32_t status;
    {
        Guard g(platform_);
        if (clientId == 0 || clientId != activeClient_) {
            return LPC_RETURN_NOT_OPEN;
        }
        if (selector >= kLpcMethodCount) {
            lastError_ = LpcErrorInfo{};
            lastError_.selector = selector > 0xFFFFFFFFull ? 0xFFFFFFFFu : static_cast<uint32_t>(selector);
            return Fail(LPC_RETURN_UNSUPPORTED, UINT32_MAX, "selector", selector, "0..13");
        }
        const uint32_t sel = static_cast<uint32_t>(selector);
        const validation::MethodShape& s = validation::Shape(sel);
        const bool wellFormedErrorQuery = sel == kLpcGetLastError && a.scalarInputCount == s.scalarIn &&
                                          a.structInputSize == s.structIn && a.scalarOutputCount == s.scalarOut &&
                                          a.structOutputCapacity == s.structOut && a.hasCompletion == 0;
        if (!wellFormedErrorQuery) {
            // Every call but a well-formed GetLastError starts a fresh error record for its own selector.
            lastError_ = LpcErrorInfo{};
            lastError_.selector = sel;
        }
        if (a.scalarInputCount != s.scalarIn || (s.scalarIn != 0 && a.scalarInput == nullptr)) {
            return Fail(LPC_RETURN_BAD_ARGUMENT, UINT32_MAX, "scalar input count", a.scalarInputCount, "exactly the method's count");
        }
        if (a.structInputSize != s.structIn || (s.structIn != 0 && a.structInput == nullptr)) {
            return Fail(LPC_RETURN_BAD_ARGUMENT, UINT32_MAX, "struct input size", a.structInputSize, "exactly the method's size");
        }
        if (a.scalarOutputCount != s.scalarOut || (s.scalarOut != 0 && a.scalarOutput == nullptr)) {
            return Fail(LPC_RETURN_BAD_ARGUMENT, UINT32_MAX, "scalar output count", a.scalarOutputCount, "exactly the method's count");
        }
        if (a.structOutputCapacity != s.structOut || (s.structOut != 0 && a.structOutput == nullptr)) {
            return Fail(LPC_RETURN_BAD_ARGUMENT, UINT32_MAX, "struct output size", a.structOutputCapacity, "exactly the method's size");
        }
        if ((a.hasCompletion != 0) != (s.completion != 0)) {
            return Fail(LPC_RETURN_BAD_ARGUMENT, UINT32_MAX, "async completion", a.hasCompletion,
                        s.completion != 0 ? "required for this method" : "not accepted by this method");
        }
        switch (sel) {
        case kLpcGetInfo: status = GetInfo(a); break;
        case kLpcCsrRead32: status = RegisterRead(a, true); break;
        case kLpcCsrWrite32: status = RegisterWrite(a, true); break;
        case kLpcBarRead32: status = RegisterRead(a, false); break;
        case kLpcBarWrite32: status = RegisterWrite(a, false); break;
        case kLpcConfigRead32: status = ConfigRead(a); break;
        case kLpcDmaStart: status = DmaStart(clientId, a); break;
        case kLpcDmaStop: status = DmaStop(clientId, a, done, &n); break;
        case kLpcUpdateSwCount: status = UpdateSwCount(clientId, a); break;
        case kLpcWaitBuffers: status = WaitBuffers(clientId, a, done, &n); break;
        case kLpcSetLoopback: status = SetLoopback(clientId, a); break;
        case kLpcReset: status = Reset(a); break;
        case kLpcGetDirStatus: status = GetDirStatus(a); break;
        default: status = GetLastError(clientId, a); break;
        }
        if (status != LPC_RETURN_SUCCESS && lastError_.status == 0) {
            Fail(status, UINT32_MAX, "device state", 0, gone_ != 0 ? "device gone" : sleeping_ != 0 ? "device asleep" : "refused");
        }
    }
    Deliver(done, n);
    return status;
}

int32_t Core::Fail(int32_t status, uint32_t argument, const char* what, uint64_t value, const char* accepted) {
    lastError_.status = status;
    lastError_.argument = argument;
    Text t(lastError_.message, sizeof lastError_.message);
    t.Add(what).Add(" = ").Dec(value);
    if (value > 9) {
        t.Add(" (").Hex(value).Add(")");
    }
    t.Add(": ").Add(accepted);
    return status;
}

int32_t Core::CheckUsable() {
    if (gone_ != 0) {
        return LPC_RETURN_OFFLINE;
    }
    if (sleeping_ != 0 || stopping_ != 0) {
        return LPC_RETURN_NOT_READY;
    }
    return LPC_RETURN_SUCCESS;
}

int32_t Core::CheckChannelDirection(MethodArgs& a, uint32_t* channel, uint32_t* dir) {
    if (!validation::ChannelValid(a.scalarInput[0], layout_.channelCount)) {
        char accepted[48];
        Text(accepted, sizeof accepted).Add("0..").Dec(layout_.channelCount - 1).Add(" (dma_channels - 1)");
        return Fail(LPC_RETURN_BAD_ARGUMENT, 0, "channel", a.scalarInput[0], accepted);
    }
    if (!validation::DirectionValid(a.scalarInput[1])) {
        return Fail(LPC_RETURN_BAD_ARGUMENT, 1, "direction", a.scalarInput[1], "0 (writer) or 1 (reader)");
    }
    *channel = static_cast<uint32_t>(a.scalarInput[0]);
    *dir = static_cast<uint32_t>(a.scalarInput[1]);
    return LPC_RETURN_SUCCESS;
}

int32_t Core::CheckOwner(uint32_t client, uint32_t channel, uint32_t dir) {
    const Direction& d = dirs_[channel][dir];
    if (d.running != 0 && d.owner != client) {
        return Fail(LPC_RETURN_EXCLUSIVE_ACCESS, 0, "channel", channel, "owned by another client");
    }
    return LPC_RETURN_SUCCESS;
}

int32_t Core::CheckRunningOwned(uint32_t client, MethodArgs& a, uint32_t* channel, uint32_t* dir) {
    if (int32_t st = CheckUsable()) {
        return st;
    }
    if (int32_t st = CheckChannelDirection(a, channel, dir)) {
        return st;
    }
    if (int32_t st = CheckOwner(client, *channel, *dir)) {
        return st;
    }
    if (dirs_[*channel][*dir].running == 0) {
        return Fail(LPC_RETURN_NOT_READY, 0, "channel", *channel, "this direction is not running (start it first)");
    }
    return LPC_RETURN_SUCCESS;
}

int32_t Core::GetInfo(MethodArgs& a) {
    LpcInfo* info = static_cast<LpcInfo*>(a.structOutput);
    *info = LpcInfo{};
    info->magic = LPC_INFO_MAGIC;
    info->abiMajor = LPC_ABI_MAJOR;
    info->abiMinor = LPC_ABI_MINOR;
    info->channelCount = layout_.channelCount;
    info->bufferCount = layout_.bufferCount;
    info->bufferSize = layout_.bufferSize;
    info->dmaAddressWidth = layout_.dmaAddressWidth;
    info->msiFlavour = layout_.msiFlavour;
    info->flags = (gone_ != 0 ? LPC_FLAG_DEVICE_GONE : 0u) | (sleeping_ != 0 ? LPC_FLAG_SLEEPING : 0u) |
                  (stopping_ != 0 ? LPC_FLAG_STOPPING : 0u) | (identMismatch_ != 0 ? LPC_FLAG_IDENT_MISMATCH : 0u);
    info->vendorId = vendorId_;
    info->deviceId = deviceId_;
    info->revision = revision_;
    info->classCode = classCode_;
    for (uint32_t c = 0; c < LPC_MAX_CHANNELS; ++c) {
        info->channelFeatures[c] = c < layout_.channelCount ? layout_.channels[c].features : 0u;
    }
    info->generation = generation_;
    for (int i = 0; i < 6; ++i) {
        info->barSizes[i] = layout_.barSizes[i];
    }
    for (uint32_t i = 0; i < LPC_IDENTIFIER_BYTES; ++i) {
        info->identifier[i] = identifier_[i];
    }
    a.structOutputSize = sizeof(LpcInfo);
    return LPC_RETURN_SUCCESS;
}

int32_t Core::CheckAccess(MethodArgs& a, bool csr, uint32_t* bar, uint64_t* offset) {
    if (int32_t st = CheckUsable()) {
        return st;
    }
    uint32_t argument = 0;
    if (csr) {
        *bar = layout_.csrBar;
    } else {
        const uint64_t b = a.scalarInput[0];
        if (b > 5 || b == layout_.csrBar || layout_.barSizes[b] == 0) {
            return Fail(LPC_RETURN_BAD_ARGUMENT, 0, "bar", b,
                        "an implemented memory BAR other than the CSR BAR (use CsrRead32/CsrWrite32)");
        }
        *bar = static_cast<uint32_t>(b);
        argument = 1;
    }
    const uint64_t size = layout_.barSizes[*bar];
    *offset = a.scalarInput[argument];
    if (!validation::RegisterOffsetValid(*offset, size)) {
        char accepted[64];
        Text(accepted, sizeof accepted).Add("a multiple of 4 in 0..").Hex(size - 4).Add(csr ? " (CSR BAR size - 4)" : " (BAR size - 4)");
        return Fail(LPC_RETURN_BAD_ARGUMENT, argument, "offset", *offset, accepted);
    }
    return LPC_RETURN_SUCCESS;
}

int32_t Core::RegisterRead(MethodArgs& a, bool csr) {
    uint32_t bar;
    uint64_t off;
    if (int32_t st = CheckAccess(a, csr, &bar, &off)) {
        return st;
    }
    const uint32_t v = platform_.MmioRead32(bar, off);
    if (ReadAllOnesMeansGone(v)) {
        return LPC_RETURN_OFFLINE;
    }
    a.scalarOutput[0] = v;
    return LPC_RETURN_SUCCESS;
}

int32_t Core::RegisterWrite(MethodArgs& a, bool csr) {
    uint32_t bar;
    uint64_t off;
    if (int32_t st = CheckAccess(a, csr, &bar, &off)) {
        return st;
    }
    const uint32_t valueArgument = csr ? 1u : 2u;
    if (!validation::FitsU32(a.scalarInput[valueArgument])) {
        return Fail(LPC_RETURN_BAD_ARGUMENT, valueArgument, "value", a.scalarInput[valueArgument], "0..0xFFFFFFFF");
    }
    if (csr && validation::IsDriverOwned(layout_, off)) {
        return Fail(LPC_RETURN_NOT_PERMITTED, 0, "offset", off,
                    "driver-owned register (DMA engine, loopback, MSI or ctrl_reset): use DmaStart/Stop, SetLoopback, Reset");
    }
    platform_.MmioWrite32(bar, off, static_cast<uint32_t>(a.scalarInput[valueArgument]));
    return LPC_RETURN_SUCCESS;
}

int32_t Core::ConfigRead(MethodArgs& a) {
    if (gone_ != 0) {
        return LPC_RETURN_OFFLINE;
    }
    const uint64_t off = a.scalarInput[0];
    if (!validation::RegisterOffsetValid(off, LPC_CONFIG_SPACE_BYTES)) {
        return Fail(LPC_RETURN_BAD_ARGUMENT, 0, "offset", off, "a multiple of 4 in 0..0xFFC");
    }
    a.scalarOutput[0] = platform_.ConfigRead32(static_cast<uint32_t>(off));
    return LPC_RETURN_SUCCESS;
}

int32_t Core::DmaStart(uint32_t client, MethodArgs& a) {
    if (int32_t st = CheckUsable()) {
        return st;
    }
    uint32_t c, d;
    if (int32_t st = CheckChannelDirection(a, &c, &d)) {
        return st;
    }
    if (!validation::IrqEveryValid(a.scalarInput[2], layout_.bufferCount)) {
        char accepted[48];
        Text(accepted, sizeof accepted).Add("1..").Dec(layout_.bufferCount / 2).Add(" (bufferCount / 2)");
        return Fail(LPC_RETURN_BAD_ARGUMENT, 2, "irqEvery", a.scalarInput[2], accepted);
    }
    if (!validation::StartFlagsValid(a.scalarInput[3])) {
        return Fail(LPC_RETURN_BAD_ARGUMENT, 3, "flags", a.scalarInput[3], "bit 0 loopback, bit 1 interrupts masked");
    }
    const LpcChannelLayout& ch = layout_.channels[c];
    if ((a.scalarInput[3] & LPC_START_LOOPBACK) != 0 && ch.loopbackEnable == LPC_NO_REGISTER) {
        return Fail(LPC_RETURN_UNSUPPORTED, 3, "flags", a.scalarInput[3], "this channel has no loopback_enable (+0x40 is never written, P14)");
    }
    const uint32_t irq = d == kLpcDirWriter ? ch.writerIrq : ch.readerIrq;
    if ((a.scalarInput[3] & LPC_START_IRQ_MASKED) == 0 && !InterruptBitReachable(layout_, interruptVectors_, irq)) {
        char accepted[96];
        Text(accepted, sizeof accepted)
            .Add("bit ")
            .Dec(irq)
            .Add(" has no MSI-X vector (")
            .Dec(interruptVectors_)
            .Add(" of ")
            .Dec(InterruptVectorsNeeded(layout_))
            .Add(" granted): start with flags bit 1 (interrupts masked)");
        return Fail(LPC_RETURN_UNSUPPORTED, 0, "channel", c, accepted);
    }
    Direction& dir = dirs_[c][d];
    if (dir.running != 0) {
        return Fail(dir.owner == client ? LPC_RETURN_BUSY : LPC_RETURN_EXCLUSIVE_ACCESS, 0, "channel", c,
                    dir.owner == client ? "this direction is already running: stop it first" : "owned by another client");
    }
    if ((a.scalarInput[3] & LPC_START_LOOPBACK) != 0) {
        Write(ch.loopbackEnable, 1);
    }
    dir.irqEvery = static_cast<uint32_t>(a.scalarInput[2]);
    dir.irqMasked = (a.scalarInput[3] & LPC_START_IRQ_MASKED) != 0 ? 1u : 0u;
    dir.owner = client;
    dir.counter.Reset(layout_.bufferCount);
    dir.lostMark = 0;
    StartSequence(c, d);
    a.scalarOutput[0] = generation_;
    return LPC_RETURN_SUCCESS;
}

void Core::StartSequence(uint32_t c, uint32_t d) {
    Direction& dir = dirs_[c][d];
    const LpcChannelLayout& ch = layout_.channels[c];
    const LpcEngineRegs& e = d == kLpcDirWriter ? ch.writer : ch.reader;
    // docs/linux-driver.md#start-and-stop-sequences, with this channel's own registers (never DMA0's).
    Write(e.enable, 0);
    Write(e.tableReset, 1);
    Write(e.loopProgN, 0);
    if (d == kLpcDirWriter) {
        PoisonRing(dir.ring);
    }
    for (uint32_t i = 0; i < layout_.bufferCount; ++i) {
        uint64_t bus = 0;
        BusAddressOf(dir.ring, static_cast<uint64_t>(i) * layout_.bufferSize, layout_.bufferSize, &bus); // checked at Start
        Write(e.tableValue, DescriptorControl(i, layout_.bufferSize, dir.irqEvery));
        Write(e.tableValue + 4, static_cast<uint32_t>(bus));
        Write(e.tableWe, static_cast<uint32_t>(bus >> 32));
    }
    Write(e.loopProgN, 1);
    BumpGeneration();
    LpcDirStatus* s = DirStatus(c, d);
    StoreRelease(&s->hwCount, uint64_t{0});
    StoreRelease(&s->lostCount, uint64_t{0});
    StoreRelease(&s->clientAck, uint64_t{0});
    StoreRelease(&s->irqCount, uint64_t{0});
    s->lastIrqTime = 0;
    s->irqEvery = dir.irqEvery;
    s->generation = generation_;
    StoreRelease(&s->running, uint32_t{1});
    dir.running = 1;
    // The MSI source first, then the engine (the mirror of the stop order). The gateware drops a source's events
    // while its enable bit is clear: an engine that completes descriptors at once (a writer fed by user logic) would
    // otherwise raise its first interrupts into a masked source, and with the client holding the ring nothing would
    // ever raise another.
    if (dir.irqMasked == 0) {
        SetMsiBit(d == kLpcDirWriter ? ch.writerIrq : ch.readerIrq, true);
    }
    Write(e.enable, 1);
}

int32_t Core::DmaStop(uint32_t client, MethodArgs& a, Completion* out, uint32_t* outCount) {
    uint32_t c, d;
    if (int32_t st = CheckChannelDirection(a, &c, &d)) {
        return st;
    }
    if (int32_t st = CheckOwner(client, c, d)) {
        return st;
    }
    if (dirs_[c][d].running == 0) {
        return LPC_RETURN_SUCCESS; // already stopped: nothing to do, as litepcie.ko
    }
    StopDirection(c, d, LPC_RETURN_ABORTED, out, outCount); // a pending wait completes (aborted) after unlock
    return gone_ != 0 ? LPC_RETURN_OFFLINE : LPC_RETURN_SUCCESS;
}

void Core::StopDirection(uint32_t c, uint32_t d, int32_t waitStatus, Completion* out, uint32_t* outCount) {
    Direction& dir = dirs_[c][d];
    if (gone_ == 0) {
        const LpcChannelLayout& ch = layout_.channels[c];
        SetMsiBit(d == kLpcDirWriter ? ch.writerIrq : ch.readerIrq, false); // MSI first, then the engine
        StopSequence(c, d);
    }
    dir.running = 0;
    if (LpcDirStatus* s = DirStatus(c, d)) {
        StoreRelease(&s->running, uint32_t{0});
    }
    if (dir.wait.pending != 0) {
        platform_.CancelTimer(c * 2 + d);
        const LpcDirStatus* s = DirStatus(c, d);
        out[(*outCount)++] = Completion{dir.wait.token, waitStatus, {dir.counter.Value(), s != nullptr ? s->lostCount : 0}};
        dir.wait = Wait{};
    }
}

void Core::PoisonRing(const DmaBuffer& ring) {
    // A writer ring holds what the previous stream left (litepcie.ko leaves it too). Filled with all-ones once the
    // engine is off and before it starts, a buffer the hardware completes without writing reads as all-ones (what a
    // read of a dead device returns), never as an earlier stream's data that a client could take for fresh.
    auto* words = static_cast<uint64_t*>(ring.cpu);
    if (words == nullptr) {
        return;
    }
    const uint64_t n = ring.length / sizeof(uint64_t);
    for (uint64_t i = 0; i < n; ++i) {
        words[i] = ~uint64_t{0};
    }
}

void Core::StopSequence(uint32_t c, uint32_t d) {
    const LpcChannelLayout& ch = layout_.channels[c];
    const LpcEngineRegs& e = d == kLpcDirWriter ? ch.writer : ch.reader;
    Write(e.loopProgN, 0);
    Write(e.tableReset, 1);
    platform_.DelayMicroseconds(kStopFlushDelayUs);
    Write(e.enable, 0);
    Write(e.tableReset, 1);
}

int32_t Core::UpdateSwCount(uint32_t client, MethodArgs& a) {
    uint32_t c, d;
    if (int32_t st = CheckRunningOwned(client, a, &c, &d)) {
        return st;
    }
    Direction& dir = dirs_[c][d];
    LpcDirStatus* s = DirStatus(c, d);
    const uint64_t sw = a.scalarInput[2];
    const uint64_t previous = s->clientAck;
    const uint64_t hw = dir.counter.Value();
    char accepted[96];
    switch (validation::CheckSwCount(d, sw, previous, hw, layout_.bufferCount)) {
    case validation::SwCountProblem::Backwards:
        Text(accepted, sizeof accepted).Add("at least the previous count ").Dec(previous).Add(" (counts are monotonic)");
        return Fail(LPC_RETURN_BAD_ARGUMENT, 2, "swCount", sw, accepted);
    case validation::SwCountProblem::AheadOfHardware:
        Text(accepted, sizeof accepted).Add("at most the writer's hardware count ").Dec(hw);
        return Fail(LPC_RETURN_BAD_ARGUMENT, 2, "swCount", sw, accepted);
    case validation::SwCountProblem::TooFarAhead:
        Text(accepted, sizeof accepted).Add("at most hardware count + bufferCount = ").Dec(hw + layout_.bufferCount);
        return Fail(LPC_RETURN_BAD_ARGUMENT, 2, "swCount", sw, accepted);
    case validation::SwCountProblem::None:
        break;
    }
    StoreRelease(&s->clientAck, sw);
    a.scalarOutput[0] = s->lostCount;
    return LPC_RETURN_SUCCESS;
}

int32_t Core::WaitBuffers(uint32_t client, MethodArgs& a, Completion* out, uint32_t* outCount) {
    uint32_t c, d;
    if (int32_t st = CheckRunningOwned(client, a, &c, &d)) {
        return st;
    }
    Direction& dir = dirs_[c][d];
    const uint64_t target = a.scalarInput[2];
    if (target > (1ull << 62)) {
        return Fail(LPC_RETURN_BAD_ARGUMENT, 2, "target", target, "0..2^62");
    }
    if (!validation::TimeoutValid(a.scalarInput[3])) {
        return Fail(LPC_RETURN_BAD_ARGUMENT, 3, "timeoutMs", a.scalarInput[3], "1..60000");
    }
    if (dir.wait.pending != 0) {
        return Fail(LPC_RETURN_BUSY, 0, "channel", c, "a wait is already pending on this direction");
    }
    a.asyncTokenTaken = 1;
    const uint64_t hw = dir.counter.Value();
    if (hw >= target) {
        out[(*outCount)++] = Completion{a.asyncToken, LPC_RETURN_SUCCESS, {hw, DirStatus(c, d)->lostCount}};
        return LPC_RETURN_SUCCESS;
    }
    const uint64_t deadline = platform_.NowNanoseconds() + a.scalarInput[3] * 1000000ull;
    dir.wait = Wait{1, a.asyncToken, target, deadline};
    platform_.ArmTimer(c * 2 + d, deadline);
    return LPC_RETURN_SUCCESS;
}

int32_t Core::SetLoopback(uint32_t client, MethodArgs& a) {
    (void)client;
    if (int32_t st = CheckUsable()) {
        return st;
    }
    if (!validation::ChannelValid(a.scalarInput[0], layout_.channelCount)) {
        char accepted[48];
        Text(accepted, sizeof accepted).Add("0..").Dec(layout_.channelCount - 1).Add(" (dma_channels - 1)");
        return Fail(LPC_RETURN_BAD_ARGUMENT, 0, "channel", a.scalarInput[0], accepted);
    }
    if (a.scalarInput[1] > 1) {
        return Fail(LPC_RETURN_BAD_ARGUMENT, 1, "enable", a.scalarInput[1], "0 or 1");
    }
    const LpcChannelLayout& ch = layout_.channels[a.scalarInput[0]];
    if (ch.loopbackEnable == LPC_NO_REGISTER) {
        return Fail(LPC_RETURN_UNSUPPORTED, 0, "channel", a.scalarInput[0], "the design has no loopback_enable; +0x40 is not written (P14)");
    }
    Write(ch.loopbackEnable, static_cast<uint32_t>(a.scalarInput[1]));
    return LPC_RETURN_SUCCESS;
}

int32_t Core::Reset(MethodArgs& a) {
    if (int32_t st = CheckUsable()) {
        return st;
    }
    const uint64_t type = a.scalarInput[0];
    if (type > kLpcResetHot) {
        return Fail(LPC_RETURN_BAD_ARGUMENT, 0, "type", type, "0 (SoC), 1 (function-level) or 2 (hot)");
    }
    for (uint32_t c = 0; c < layout_.channelCount; ++c) {
        if (dirs_[c][0].running != 0 || dirs_[c][1].running != 0) {
            return Fail(LPC_RETURN_BUSY, 0, "type", type, "a DMA channel is running: stop every channel first");
        }
    }
    if (type == kLpcResetSoc) {
        if (layout_.ctrlReset == LPC_NO_REGISTER) {
            return Fail(LPC_RETURN_UNSUPPORTED, 0, "type", type, "the design has no ctrl_reset");
        }
        Write(layout_.ctrlReset, 1);
        platform_.DelayMicroseconds(kSocResetDelayUs);
    } else {
        const int32_t st = platform_.ResetFunction(static_cast<uint32_t>(type));
        if (st != LPC_RETURN_SUCCESS) {
            return Fail(st, 0, "type", type, "the platform refused the reset");
        }
        SetBusMaster(true);
    }
    msiEnableShadow_ = 0;
    WriteMsiEnable();
    ReadIdentifier();
    BumpGeneration();
    a.scalarOutput[0] = generation_;
    return LPC_RETURN_SUCCESS;
}

int32_t Core::GetDirStatus(MethodArgs& a) {
    uint32_t c, d;
    if (int32_t st = CheckChannelDirection(a, &c, &d)) {
        return st;
    }
    *static_cast<LpcDirStatus*>(a.structOutput) = *DirStatus(c, d);
    a.structOutputSize = sizeof(LpcDirStatus);
    return LPC_RETURN_SUCCESS;
}

int32_t Core::GetLastError(uint32_t client, MethodArgs& a) {
    LpcErrorInfo info = lastErrorClient_ == client ? lastError_ : LpcErrorInfo{};
    *static_cast<LpcErrorInfo*>(a.structOutput) = info;
    a.structOutputSize = sizeof(LpcErrorInfo);
    return LPC_RETURN_SUCCESS;
}

LpcErrorInfo Core::LastError(uint32_t clientId) {
    Guard g(platform_);
    return lastErrorClient_ == clientId ? lastError_ : LpcErrorInfo{};
}

int32_t Core::CopyClientMemory(uint32_t clientId, uint64_t type, void** cpu, uint64_t* length, uint32_t* readOnly, void** platformHandle) {
    Guard g(platform_);
    if (clientId == 0 || clientId != activeClient_ || started_ == 0) {
        return LPC_RETURN_NOT_OPEN;
    }
    uint32_t kind, channel;
    if (!validation::DecodeMemoryType(type, layout_.channelCount, &kind, &channel)) {
        return LPC_RETURN_BAD_ARGUMENT;
    }
    if (kind == kLpcMemStatus) {
        *cpu = status_.cpu;
        *length = status_.length;
        *readOnly = 1;
        *platformHandle = status_.platformHandle;
    } else {
        const Direction& dir = dirs_[channel][kind == kLpcMemWriterRing ? kLpcDirWriter : kLpcDirReader];
        *cpu = dir.ring.cpu;
        *length = static_cast<uint64_t>(layout_.bufferCount) * layout_.bufferSize;
        *readOnly = kind == kLpcMemWriterRing ? 1u : 0u;
        *platformHandle = dir.ring.platformHandle;
    }
    return LPC_RETURN_SUCCESS;
}

// ---------------------------------------------------------------------------------------------
// Interrupts, timers, power, removal

void Core::Interrupt(uint32_t vector, uint64_t timeNs, uint64_t count) {
    if (count == 0) {
        count = 1; // a delivery is at least one message
    }
    Completion done[kMaxCompletions];
    uint32_t n = 0;
    {
        Guard g(platform_);
        if (started_ == 0 || header_ == nullptr) {
            return;
        }
        ++interrupts_;
        StoreRelease(&header_->msiCount, header_->msiCount + count);
        if (gone_ != 0 || stopping_ != 0 || sleeping_ != 0) {
            return;
        }
        uint64_t pending;
        if (layout_.msiFlavour == kLpcMsiSingle) {
            const uint32_t v = Read(layout_.msiVector);
            if (v == 0xFFFFFFFFu && ReadAllOnesMeansGone(v)) {
                AbortAllWaits(LPC_RETURN_OFFLINE, done, &n);
                pending = 0;
            } else {
                pending = v & msiEnableShadow_;
            }
        } else {
            pending = InterruptSourcesOf(layout_, interruptVectors_, vector) & msiEnableShadow_;
        }
        // With fewer vectors than bits, one message may stand for several directions: the ones whose
        // count did not move were not the sender and get no interrupt credit.
        const bool aliased = layout_.msiFlavour != kLpcMsiSingle && (pending & (pending - 1)) != 0;
        if (pending == 0 && gone_ == 0) {
            StoreRelease(&header_->spuriousCount, header_->spuriousCount + 1);
        }
        uint64_t handled = 0;
        // Coalesced messages with one source pending were all its own; with several, each is credited once.
        const uint64_t credit = (pending & (pending - 1)) == 0 ? count : 1;
        for (uint32_t c = 0; c < layout_.channelCount && gone_ == 0; ++c) {
            const LpcChannelLayout& ch = layout_.channels[c];
            for (uint32_t d = 0; d < 2; ++d) {
                const uint64_t bit = 1ull << (d == kLpcDirWriter ? ch.writerIrq : ch.readerIrq);
                Direction& dir = dirs_[c][d];
                if ((pending & bit) == 0 || dir.running == 0) {
                    continue;
                }
                const LpcEngineRegs& e = d == kLpcDirWriter ? ch.writer : ch.reader;
                const uint32_t st = Read(e.loopStatus);
                if (st == 0xFFFFFFFFu && ReadAllOnesMeansGone(st)) {
                    AbortAllWaits(LPC_RETURN_OFFLINE, done, &n);
                    break;
                }
                const uint64_t before = dir.counter.Value();
                const uint64_t hw = dir.counter.Update(st);
                if (aliased && hw == before) {
                    continue;
                }
                LpcDirStatus* s = DirStatus(c, d);
                const uint64_t ack = LoadAcquire(&s->clientAck);
                uint64_t lost = s->lostCount;
                if (d == kLpcDirWriter) {
                    // Overrun: buffers below hw - ring were overwritten; those the client had not consumed are lost.
                    if (hw > layout_.bufferCount) {
                        const uint64_t overwritten = hw - layout_.bufferCount;
                        const uint64_t from = ack > dir.lostMark ? ack : dir.lostMark;
                        if (overwritten > from) {
                            lost += overwritten - from;
                            dir.lostMark = overwritten;
                        }
                    }
                } else {
                    // Underrun: the reader fetched buffers the client had not filled.
                    const uint64_t from = ack > dir.lostMark ? ack : dir.lostMark;
                    if (hw > from) {
                        lost += hw - from;
                        dir.lostMark = hw;
                    }
                }
                StoreRelease(&s->lostCount, lost);
                StoreRelease(&s->hwCount, hw);
                s->lastIrqTime = timeNs;
                StoreRelease(&s->irqCount, s->irqCount + credit);
                handled |= bit;
                if (dir.wait.pending != 0 && hw >= dir.wait.target) {
                    platform_.CancelTimer(c * 2 + d);
                    done[n++] = Completion{dir.wait.token, LPC_RETURN_SUCCESS, {hw, lost}};
                    dir.wait = Wait{};
                }
            }
        }
        if (layout_.msiFlavour == kLpcMsiSingle && handled != 0 && gone_ == 0) {
            Write(layout_.msiClear, static_cast<uint32_t>(handled));
        }
    }
    Deliver(done, n);
}

void Core::SetInterruptVectors(uint32_t vectors) {
    Guard g(platform_);
    interruptVectors_ = vectors;
    if (started_ != 0 && vectors != 0 && vectors < InterruptVectorsNeeded(layout_)) {
        char msg[160];
        Text(msg, sizeof msg)
            .Add("interrupts: ")
            .Dec(vectors)
            .Add(" of ")
            .Dec(InterruptVectorsNeeded(layout_))
            .Add(layout_.msiFlavour == kLpcMsiX ? " MSI-X vectors granted; higher interrupt bits cannot interrupt"
                                                : " MSI vectors granted; interrupt bits share vectors (bit mod granted)");
        platform_.Log(msg);
    }
}

void Core::TimerFired(uint32_t slot) {
    Completion done[1];
    uint32_t n = 0;
    {
        Guard g(platform_);
        const uint32_t c = slot / 2, d = slot % 2;
        if (started_ == 0 || c >= layout_.channelCount) {
            return;
        }
        Direction& dir = dirs_[c][d];
        if (dir.wait.pending == 0) {
            return; // satisfied (or aborted) before the timer fired
        }
        if (platform_.NowNanoseconds() < dir.wait.deadline) {
            // A stale firing armed for an earlier wait on this direction: keep the current wait's own deadline.
            platform_.ArmTimer(slot, dir.wait.deadline);
            return;
        }
        done[n++] = Completion{dir.wait.token, LPC_RETURN_TIMEOUT, {dir.counter.Value(), DirStatus(c, d)->lostCount}};
        dir.wait = Wait{};
    }
    Deliver(done, n);
}

void Core::SetPowerState(bool on) {
    Completion done[kMaxCompletions];
    uint32_t n = 0;
    {
        Guard g(platform_);
        if (started_ == 0) {
            return;
        }
        if (!on) {
            if (sleeping_ != 0) {
                return;
            }
            QuiesceLocked(LPC_RETURN_ABORTED, done, &n);
            sleeping_ = 1;
        } else {
            if (sleeping_ == 0) {
                return;
            }
            sleeping_ = 0;
            if (gone_ == 0 && platform_.ConfigRead32(0) == 0xFFFFFFFFu) {
                MarkGone(); // did not come back
            }
            if (gone_ == 0) {
                // The gateware lost its state in D3hot; channels stay stopped for the client to restart.
                SetBusMaster(true);
                msiEnableShadow_ = 0;
                WriteMsiEnable();
                ReadIdentifier();
            }
        }
        BumpGeneration();
        PublishFlags();
    }
    Deliver(done, n);
}

void Core::DeviceRemoved() {
    Completion done[kMaxCompletions];
    uint32_t n = 0;
    {
        Guard g(platform_);
        if (started_ == 0) {
            return;
        }
        MarkGone();
        for (uint32_t c = 0; c < layout_.channelCount; ++c) {
            for (uint32_t d = 0; d < 2; ++d) {
                if (dirs_[c][d].running != 0) {
                    StopDirection(c, d, LPC_RETURN_OFFLINE, done, &n);
                }
            }
        }
        AbortAllWaits(LPC_RETURN_OFFLINE, done, &n);
    }
    Deliver(done, n);
}

Stats Core::GetStats() {
    Guard g(platform_);
    Stats s{};
    s.liveDmaBuffers = liveDmaBuffers_;
    s.liveDmaBytes = liveDmaBytes_;
    s.liveSharedBytes = status_.length;
    for (uint32_t c = 0; c < LPC_MAX_CHANNELS; ++c) {
        s.pendingWaits += dirs_[c][0].wait.pending + dirs_[c][1].wait.pending;
    }
    s.clientsOpened = clientsOpened_;
    s.interrupts = interrupts_;
    return s;
}

// ---------------------------------------------------------------------------------------------
// Helpers

uint32_t Core::Read(uint64_t offset) { return platform_.MmioRead32(layout_.csrBar, offset); }

void Core::Write(uint64_t offset, uint32_t value) { platform_.MmioWrite32(layout_.csrBar, offset, value); }

bool Core::ReadAllOnesMeansGone(uint32_t value) {
    if (value != 0xFFFFFFFFu) {
        return false;
    }
    // An unmapped BAR0 offset also reads all-ones (bus error); only a dead config space means gone.
    if ((platform_.ConfigRead32(0) & 0xFFFFu) != 0xFFFFu) {
        return false;
    }
    MarkGone();
    return true;
}

void Core::MarkGone() {
    if (gone_ == 0) {
        gone_ = 1;
        platform_.Log("device gone: all-ones reads; no further MMIO");
    }
    PublishFlags();
}

void Core::SetMsiBit(uint32_t bit, bool enabled) {
    if (enabled) {
        msiEnableShadow_ |= 1ull << bit;
    } else {
        msiEnableShadow_ &= ~(1ull << bit);
    }
    WriteMsiEnable();
}

void Core::WriteMsiEnable() {
    // Big word ordering: with two words, the first (lower address) holds bits 63:32.
    if (layout_.msiEnableWords == 2) {
        Write(layout_.msiEnable, static_cast<uint32_t>(msiEnableShadow_ >> 32));
        Write(layout_.msiEnable + 4, static_cast<uint32_t>(msiEnableShadow_));
    } else {
        Write(layout_.msiEnable, static_cast<uint32_t>(msiEnableShadow_));
    }
}

void Core::QuiesceLocked(int32_t waitStatus, Completion* out, uint32_t* outCount) {
    for (uint32_t c = 0; c < layout_.channelCount; ++c) {
        for (uint32_t d = 0; d < 2; ++d) {
            if (dirs_[c][d].running != 0) {
                StopDirection(c, d, waitStatus, out, outCount);
            }
        }
    }
    AbortAllWaits(waitStatus, out, outCount);
    msiEnableShadow_ = 0;
    if (gone_ == 0) {
        WriteMsiEnable();
    }
}

void Core::AbortAllWaits(int32_t status, Completion* out, uint32_t* outCount) {
    for (uint32_t c = 0; c < layout_.channelCount; ++c) {
        for (uint32_t d = 0; d < 2; ++d) {
            Direction& dir = dirs_[c][d];
            if (dir.wait.pending != 0) {
                platform_.CancelTimer(c * 2 + d);
                const LpcDirStatus* s = DirStatus(c, d);
                out[(*outCount)++] = Completion{dir.wait.token, status, {dir.counter.Value(), s != nullptr ? s->lostCount : 0}};
                dir.wait = Wait{};
            }
        }
    }
}

LpcDirStatus* Core::DirStatus(uint32_t c, uint32_t d) {
    if (header_ == nullptr) {
        return nullptr;
    }
    return reinterpret_cast<LpcDirStatus*>(static_cast<uint8_t*>(status_.cpu) + LPC_DIR_STATUS_OFFSET(c, d));
}

void Core::PublishFlags() {
    if (header_ == nullptr) {
        return;
    }
    const uint64_t f = (gone_ != 0 ? LPC_FLAG_DEVICE_GONE : 0u) | (sleeping_ != 0 ? LPC_FLAG_SLEEPING : 0u) |
                       (stopping_ != 0 ? LPC_FLAG_STOPPING : 0u) | (identMismatch_ != 0 ? LPC_FLAG_IDENT_MISMATCH : 0u);
    StoreRelease(&header_->flags, f);
}

void Core::BumpGeneration() {
    ++generation_;
    if (header_ != nullptr) {
        StoreRelease(&header_->generation, generation_);
    }
}

void Core::SetBusMaster(bool enabled) {
    const uint16_t cmd = static_cast<uint16_t>(platform_.ConfigRead32(kCommandOffset) & 0xFFFFu);
    const uint16_t next = enabled ? static_cast<uint16_t>(cmd | kCommandMemorySpace | kCommandBusMaster)
                                  : static_cast<uint16_t>(cmd & ~kCommandBusMaster);
    platform_.ConfigWrite16(kCommandOffset, next);
}

void Core::ReadIdentifier() {
    uint32_t i = 0;
    for (; i + 1 < LPC_IDENTIFIER_BYTES; ++i) {
        const uint32_t w = Read(layout_.identifierBase + 4ull * i);
        if (w == 0xFFFFFFFFu) {
            break;
        }
        const uint8_t ch = static_cast<uint8_t>(w & 0xFFu);
        if (ch == 0) {
            break;
        }
        identifier_[i] = ch;
    }
    for (; i < LPC_IDENTIFIER_BYTES; ++i) {
        identifier_[i] = 0;
    }
    identMismatch_ = 0;
    for (uint32_t k = 0; k < LPC_IDENTIFIER_BYTES; ++k) {
        if (identifier_[k] != layout_.expectedIdentifier[k]) {
            identMismatch_ = 1;
            platform_.Log("identifier ROM differs from the board layout's config_identifier (stale csr.json?)");
            break;
        }
        if (identifier_[k] == 0) {
            break;
        }
    }
    PublishFlags();
}

void Core::Deliver(const Completion* completions, uint32_t count) {
    for (uint32_t i = 0; i < count; ++i) {
        platform_.CompleteAsync(completions[i].token, completions[i].status, completions[i].args, 2);
    }
}

} // namespace lpc
