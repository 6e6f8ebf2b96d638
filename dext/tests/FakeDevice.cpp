#include "FakeDevice.hpp"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>

#include "lpc/Validation.hpp"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#define LPC_FAKE_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define LPC_FAKE_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#endif
#endif
#ifndef LPC_FAKE_POISON
#define LPC_FAKE_POISON(p, n) ((void)(p), (void)(n))
#define LPC_FAKE_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace lpc_test {

namespace {

// The DMA ring pool of FakeDevice::RecycleDmaMemory: size → free rings of that size.
std::atomic<bool> g_recycleDma{false};
std::mutex g_dmaPoolMutex;
constexpr size_t kDmaPoolPerSize = 8;

std::multimap<uint64_t, void*>& DmaPool() {
    static auto* pool = new std::multimap<uint64_t, void*>(); // never destroyed: outlives every device
    return *pool;
}

void* TakeDmaMemory(uint64_t bytes) {
    if (g_recycleDma.load()) {
        std::lock_guard<std::mutex> g(g_dmaPoolMutex);
        auto it = DmaPool().find(bytes);
        if (it != DmaPool().end()) {
            void* p = it->second;
            DmaPool().erase(it);
            LPC_FAKE_UNPOISON(p, static_cast<size_t>(bytes));
            return p;
        }
    }
    return std::calloc(static_cast<size_t>(bytes), 1);
}

void GiveDmaMemory(void* p, uint64_t bytes) {
    if (p != nullptr && g_recycleDma.load()) {
        std::lock_guard<std::mutex> g(g_dmaPoolMutex);
        if (DmaPool().count(bytes) < kDmaPoolPerSize) {
            LPC_FAKE_POISON(p, static_cast<size_t>(bytes));
            DmaPool().emplace(bytes, p);
            return;
        }
    }
    std::free(p);
}

} // namespace

void FakeDevice::RecycleDmaMemory(bool on) { g_recycleDma.store(on); }

// ---------------------------------------------------------------------------------------------
// Layouts

LayoutOptions StandaloneOptions() { return LayoutOptions(); }

LayoutOptions NoLoopbackOptions() {
    LayoutOptions o;
    o.loopback = false;
    return o;
}

LayoutOptions MsiXOptions(uint32_t vectors) {
    LayoutOptions o;
    o.msiFlavour = kLpcMsiX;
    o.msixVectors = vectors;
    return o;
}

LayoutOptions MultiVectorOptions() {
    LayoutOptions o;
    o.msiFlavour = kLpcMsiMultiVector;
    return o;
}

LayoutOptions Dma64Options() {
    LayoutOptions o;
    o.dmaAddressWidth = 64;
    return o;
}

LpcBoardLayout MakeLayout(const LayoutOptions& o) {
    LpcBoardLayout l{};
    l.magic = LPC_LAYOUT_MAGIC;
    l.abiMajor = LPC_ABI_MAJOR;
    l.abiMinor = LPC_ABI_MINOR;
    l.channelCount = o.channelCount;
    l.msiFlavour = o.msiFlavour;
    const bool single = o.msiFlavour == kLpcMsiSingle;
    const bool msix = o.msiFlavour == kLpcMsiX;
    l.msiEnable = kMsiEnable;
    l.msiEnableWords = msix && o.msixVectors > 32 ? 2u : 1u;
    l.msiClear = single ? kMsiClear : LPC_NO_REGISTER;
    l.msiVector = single ? kMsiVector : LPC_NO_REGISTER;
    l.msiPba = msix ? kMsiPba : LPC_NO_REGISTER;
    l.msixTable = msix ? kMsixTable : LPC_NO_REGISTER;
    l.msixTableBytes = msix ? o.msixVectors * 16u : 0u;
    l.ctrlReset = o.ctrlReset ? kCtrlReset : LPC_NO_REGISTER;
    l.ctrlScratch = kCtrlScratch;
    l.ctrlBusErrors = kCtrlBusErrors;
    l.identifierBase = kIdentifierBase;
    l.dmaAddressWidth = o.dmaAddressWidth;
    l.bufferCount = o.bufferCount;
    l.bufferSize = o.bufferSize;
    l.csrBar = 0;
    l.barSizes[0] = o.bar0Size;
    l.barSizes[2] = o.bar2Size;
    const size_t n = o.identifier.size() < LPC_IDENTIFIER_BYTES - 1 ? o.identifier.size() : LPC_IDENTIFIER_BYTES - 1;
    std::memcpy(l.expectedIdentifier, o.identifier.data(), n);
    for (uint32_t c = 0; c < o.channelCount && c < LPC_MAX_CHANNELS; ++c) {
        LpcChannelLayout& ch = l.channels[c];
        LpcEngineRegs* engines[2] = {&ch.writer, &ch.reader};
        for (uint32_t d = 0; d < 2; ++d) {
            LpcEngineRegs& e = *engines[d];
            e.enable = EngineReg(c, d, kRegEnable);
            e.tableValue = EngineReg(c, d, kRegTableValue);
            e.tableWe = EngineReg(c, d, kRegTableWe);
            e.loopProgN = EngineReg(c, d, kRegLoopProgN);
            e.loopStatus = EngineReg(c, d, kRegLoopStatus);
            e.level = EngineReg(c, d, kRegLevel);
            e.tableReset = EngineReg(c, d, kRegTableReset);
            e.reserved = 0;
        }
        ch.blockBase = DmaBlock(c);
        ch.blockSize = kDmaStride;
        ch.loopbackEnable = o.loopback ? DmaBlock(c) + kLoopbackOffset : LPC_NO_REGISTER;
        ch.features = o.loopback ? (LPC_FEATURE_LOOPBACK | LPC_FEATURE_SYNCHRONIZER | LPC_FEATURE_BUFFERING | LPC_FEATURE_DRIVER_OFFSETS)
                                 : (LPC_FEATURE_BUFFERING | LPC_FEATURE_MONITOR);
        ch.writerIrq = IrqOf(c, kLpcDirWriter);
        ch.readerIrq = IrqOf(c, kLpcDirReader);
    }
    return l;
}

bool DriverOwnedRegister(const LpcBoardLayout& l, uint64_t offset) {
    if ((offset & 3u) != 0) {
        return false;
    }
    for (uint32_t c = 0; c < l.channelCount && c < LPC_MAX_CHANNELS; ++c) {
        const LpcChannelLayout& ch = l.channels[c];
        for (const LpcEngineRegs* e : {&ch.writer, &ch.reader}) {
            for (uint64_t r : {uint64_t{e->enable}, uint64_t{e->tableValue}, uint64_t{e->tableValue} + 4, uint64_t{e->tableWe},
                               uint64_t{e->loopProgN}, uint64_t{e->loopStatus}, uint64_t{e->level}, uint64_t{e->tableReset}}) {
                if (r < LPC_NO_REGISTER && offset == r) {
                    return true;
                }
            }
        }
        if (ch.loopbackEnable != LPC_NO_REGISTER && offset == ch.loopbackEnable) {
            return true;
        }
    }
    if (offset >= l.msiEnable && offset < l.msiEnable + 4ull * l.msiEnableWords) {
        return true;
    }
    if (l.msiClear != LPC_NO_REGISTER && offset == l.msiClear) {
        return true;
    }
    if (l.msixTable != LPC_NO_REGISTER && offset >= l.msixTable && offset < uint64_t{l.msixTable} + l.msixTableBytes) {
        return true;
    }
    return l.ctrlReset != LPC_NO_REGISTER && offset == l.ctrlReset;
}

std::string Hex(uint64_t value) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llX", static_cast<unsigned long long>(value));
    return buf;
}

std::string RegisterName(const LpcBoardLayout& l, uint64_t offset) {
    std::string name;
    auto is = [offset](uint32_t reg) { return reg != LPC_NO_REGISTER && offset == reg; };
    if (is(l.ctrlReset)) {
        name = "ctrl_reset";
    } else if (is(l.ctrlScratch)) {
        name = "ctrl_scratch";
    } else if (is(l.ctrlBusErrors)) {
        name = "ctrl_bus_errors";
    } else if (offset >= l.msiEnable && offset < l.msiEnable + 4ull * l.msiEnableWords) {
        name = l.msiEnableWords == 2 ? (offset == l.msiEnable ? "pcie_msi_enable[63:32]" : "pcie_msi_enable[31:0]") : "pcie_msi_enable";
    } else if (is(l.msiClear)) {
        name = "pcie_msi_clear";
    } else if (is(l.msiVector)) {
        name = "pcie_msi_vector";
    } else if (is(l.msiPba)) {
        name = "pcie_msi_pba";
    } else if (l.msixTable != LPC_NO_REGISTER && offset >= l.msixTable && offset < l.msixTable + uint64_t{l.msixTableBytes}) {
        name = "pcie_msi_table[" + std::to_string((offset - l.msixTable) / 16) + "]";
    } else if (offset >= l.identifierBase && offset < l.identifierBase + 4ull * LPC_IDENTIFIER_BYTES) {
        name = "identifier_mem[" + std::to_string((offset - l.identifierBase) / 4) + "]";
    } else {
        for (uint32_t c = 0; c < l.channelCount && c < LPC_MAX_CHANNELS && name.empty(); ++c) {
            const LpcChannelLayout& ch = l.channels[c];
            const std::string block = "pcie_dma" + std::to_string(c) + "_";
            const LpcEngineRegs* engines[2] = {&ch.writer, &ch.reader};
            const char* dirNames[2] = {"writer_", "reader_"};
            for (uint32_t d = 0; d < 2 && name.empty(); ++d) {
                const LpcEngineRegs& e = *engines[d];
                const std::string p = block + dirNames[d];
                if (is(e.enable)) name = p + "enable";
                else if (is(e.tableValue)) name = p + "table_value[hi: control|length]";
                else if (e.tableValue != LPC_NO_REGISTER && offset == e.tableValue + 4ull) name = p + "table_value[lo: address lsb]";
                else if (is(e.tableWe)) name = p + "table_we";
                else if (is(e.loopProgN)) name = p + "table_loop_prog_n";
                else if (is(e.loopStatus)) name = p + "table_loop_status";
                else if (is(e.level)) name = p + "table_level";
                else if (is(e.tableReset)) name = p + "table_reset";
            }
            if (name.empty() && is(ch.loopbackEnable)) {
                name = block + "loopback_enable";
            } else if (name.empty() && offset >= ch.blockBase && offset < ch.blockBase + uint64_t{ch.blockSize}) {
                if (ch.loopbackEnable != LPC_NO_REGISTER && offset == ch.blockBase + kSynchronizerBypassOffset) {
                    name = block + "synchronizer_bypass";
                } else {
                    name = block + "block+" + Hex(offset - ch.blockBase);
                }
            }
        }
    }
    if (name.empty()) {
        name = "BAR0";
    }
    return name + " (" + Hex(offset) + ")";
}

uint32_t LoopStatusFor(uint64_t hw, uint32_t ringSize) {
    const uint64_t n = ringSize == 0 ? 1 : ringSize;
    const uint64_t low = hw % (65536ull * n);
    return static_cast<uint32_t>(((low / n) << 16) | (low % n));
}

// ---------------------------------------------------------------------------------------------
// FakeDevice

FakeDevice::FakeDevice(const LpcBoardLayout& layout) : layout_(layout) {
    auto add = [this](uint32_t offset, Kind kind, uint32_t c, uint32_t d) {
        if (offset != LPC_NO_REGISTER) {
            decode_[offset] = Decoded{kind, static_cast<uint8_t>(c), static_cast<uint8_t>(d)};
        }
    };
    for (uint32_t c = 0; c < layout_.channelCount && c < LPC_MAX_CHANNELS; ++c) {
        const LpcChannelLayout& ch = layout_.channels[c];
        const LpcEngineRegs* engines[2] = {&ch.writer, &ch.reader};
        for (uint32_t d = 0; d < 2; ++d) {
            const LpcEngineRegs& e = *engines[d];
            add(e.enable, Kind::Enable, c, d);
            add(e.tableValue, Kind::TableValueHigh, c, d);
            if (e.tableValue != LPC_NO_REGISTER) {
                add(e.tableValue + 4, Kind::TableValueLow, c, d);
            }
            add(e.tableWe, Kind::TableWe, c, d);
            add(e.loopProgN, Kind::LoopProgN, c, d);
            add(e.loopStatus, Kind::LoopStatus, c, d);
            add(e.level, Kind::Level, c, d);
            add(e.tableReset, Kind::TableReset, c, d);
        }
    }
    for (uint32_t w = 0; w < layout_.msiEnableWords && w < 2; ++w) {
        add(layout_.msiEnable + 4 * w, Kind::MsiEnable, 0, w);
    }
    if (layout_.msiFlavour == kLpcMsiSingle) {
        add(layout_.msiClear, Kind::MsiClear, 0, 0);
        add(layout_.msiVector, Kind::MsiVector, 0, 0);
    } else if (layout_.msiFlavour == kLpcMsiX) {
        add(layout_.msiPba, Kind::ReadOnly, 0, 0);
    }
    add(layout_.ctrlReset, Kind::CtrlReset, 0, 0);
    add(layout_.ctrlBusErrors, Kind::ReadOnly, 0, 0);
    regs_[layout_.csrBar < 6 ? layout_.csrBar : 0][layout_.ctrlScratch] = kScratchReset;
    tableDepth_ = layout_.bufferCount > 256 ? layout_.bufferCount : 256;
    identifierRom_ = reinterpret_cast<const char*>(layout_.expectedIdentifier);

    config_[0] = (uint32_t{kDeviceId} << 16) | kVendorId;
    config_[1] = 0x00100000u; // status: capabilities list; command 0
    config_[2] = (kClassCode << 8) | kRevision;
    config_[4] = 0xF0000000u; // BAR0 (memory, 32-bit)
    config_[6] = 0xF0100000u; // BAR2
}

FakeDevice::~FakeDevice() {
    for (auto& kv : live_) {
        if (kv.second.dma) {
            GiveDmaMemory(kv.second.cpu, kv.second.bytes);
        } else {
            std::free(kv.second.cpu);
        }
    }
}

void FakeDevice::PushLocked(CallKind kind, uint32_t bar, uint64_t offset, uint64_t value) {
    calls_.push_back(PlatformCall{kind, bar, offset, value});
}

void FakeDevice::AddViolationLocked(const std::string& what) { violations_.push_back(what); }

void FakeDevice::RequireCoreLockLocked(const char* call) {
    if (owner_.load() != std::this_thread::get_id()) {
        AddViolationLocked(std::string(call) + " called without the core lock held");
    }
}

bool FakeDevice::MmioCheckLocked(const char* call, uint32_t bar, uint64_t offset) {
    RequireCoreLockLocked(call);
    bool ok = true;
    if (coreMarkedGone_) {
        AddViolationLocked(std::string(call) + " of BAR" + std::to_string(bar) + " " +
                           (bar == layout_.csrBar ? RegisterName(layout_, offset) : Hex(offset)) +
                           " after the core declared the device gone");
    }
    if (bar > 5 || layout_.barSizes[bar] == 0) {
        AddViolationLocked(std::string(call) + " of unimplemented BAR" + std::to_string(bar) + " at " + Hex(offset));
        return false;
    }
    const uint64_t size = layout_.barSizes[bar];
    if ((offset & 3u) != 0) {
        AddViolationLocked(std::string(call) + " of BAR" + std::to_string(bar) + " at misaligned offset " + Hex(offset));
        ok = false;
    }
    if (size < 4 || offset > size - 4) {
        AddViolationLocked(std::string(call) + " of BAR" + std::to_string(bar) + " at " + Hex(offset) +
                           " beyond the BAR size " + Hex(size));
        ok = false;
    }
    return ok;
}

FakeDevice::Decoded FakeDevice::DecodeLocked(uint64_t offset) const {
    const auto it = decode_.find(offset);
    return it == decode_.end() ? Decoded{Kind::Plain, 0, 0} : it->second;
}

uint32_t FakeDevice::ReadLocked(uint32_t bar, uint64_t offset) const {
    if (bar == layout_.csrBar) {
        if (offset >= layout_.identifierBase && offset < layout_.identifierBase + 4ull * LPC_IDENTIFIER_BYTES) {
            const uint64_t i = (offset - layout_.identifierBase) / 4;
            return i < identifierRom_.size() ? static_cast<uint8_t>(identifierRom_[i]) : 0u;
        }
        const Decoded d = DecodeLocked(offset);
        switch (d.kind) {
        case Kind::Level: return static_cast<uint32_t>(engines_[d.channel][d.dir].table.size());
        case Kind::LoopStatus: return engines_[d.channel][d.dir].loopStatus;
        case Kind::MsiVector: return vector_;
        default: break;
        }
    }
    const auto& regs = regs_[bar];
    const auto it = regs.find(offset);
    return it == regs.end() ? 0u : it->second;
}

void FakeDevice::SocResetLocked() {
    auto& regs = regs_[layout_.csrBar];
    regs.clear();
    regs[layout_.ctrlScratch] = kScratchReset;
    for (auto& channel : engines_) {
        for (auto& e : channel) {
            e = Engine{};
        }
    }
    vector_ = 0;
    ++socResets_;
}

void FakeDevice::WriteLocked(uint32_t bar, uint64_t offset, uint32_t value) {
    auto& regs = regs_[bar];
    if (bar != layout_.csrBar) {
        regs[offset] = value;
        return;
    }
    if (offset >= layout_.identifierBase && offset < layout_.identifierBase + 4ull * LPC_IDENTIFIER_BYTES) {
        return; // ROM
    }
    const Decoded d = DecodeLocked(offset);
    const LpcChannelLayout& ch = layout_.channels[d.channel];
    const LpcEngineRegs& e = d.dir == kLpcDirWriter ? ch.writer : ch.reader;
    Engine& engine = engines_[d.channel][d.dir];
    switch (d.kind) {
    case Kind::TableWe: {
        regs[offset] = value;
        const auto progN = regs.find(e.loopProgN);
        const bool progMode = progN == regs.end() || (progN->second & 1u) == 0;
        if (progMode && engine.table.size() < tableDepth_) {
            const auto hi = regs.find(e.tableValue);
            const auto lo = regs.find(e.tableValue + 4ull);
            engine.table.push_back(PushedDescriptor{hi == regs.end() ? 0u : hi->second, lo == regs.end() ? 0u : lo->second, value});
        }
        break;
    }
    case Kind::TableReset:
        regs[offset] = value;
        if ((value & 1u) != 0) {
            engine.table.clear();
            engine.loopStatus = 0;
        }
        break;
    case Kind::MsiClear:
        regs[offset] = value; // reads back the last written value
        vector_ &= ~value;
        break;
    case Kind::MsiEnable:
        regs[offset] = value;
        if (layout_.msiFlavour == kLpcMsiSingle && layout_.msiEnableWords == 1) {
            vector_ &= value; // disabling a source drops its pending bit (docs/gateware.md#single-vector-msi)
        }
        break;
    case Kind::CtrlReset:
        if ((value & 1u) != 0) {
            SocResetLocked();
        }
        regs[offset] = value & 2u; // soc_rst self-clears; cpu_rst is a level
        break;
    case Kind::LoopStatus:
    case Kind::Level:
    case Kind::MsiVector:
    case Kind::ReadOnly:
        break; // read-only
    default:
        regs[offset] = value;
        break;
    }
}

uint32_t FakeDevice::MmioRead32(uint32_t bar, uint64_t offset) {
    std::lock_guard<std::mutex> g(m_);
    const bool ok = MmioCheckLocked("MmioRead32", bar, offset);
    const uint32_t v = (!ok || mmioGone_) ? 0xFFFFFFFFu : ReadLocked(bar, offset);
    PushLocked(CallKind::MmioRead, bar, offset, v);
    return v;
}

void FakeDevice::MmioWrite32(uint32_t bar, uint64_t offset, uint32_t value) {
    std::lock_guard<std::mutex> g(m_);
    const bool ok = MmioCheckLocked("MmioWrite32", bar, offset);
    PushLocked(CallKind::MmioWrite, bar, offset, value);
    if (ok && !mmioGone_) {
        WriteLocked(bar, offset, value);
    }
}

uint32_t FakeDevice::ConfigRead32(uint32_t offset) {
    std::lock_guard<std::mutex> g(m_);
    RequireCoreLockLocked("ConfigRead32");
    uint32_t v = 0xFFFFFFFFu;
    if ((offset & 3u) != 0 || offset >= LPC_CONFIG_SPACE_BYTES) {
        AddViolationLocked("ConfigRead32 at invalid configuration offset " + Hex(offset));
    } else if (!configGone_) {
        v = config_[offset / 4];
    }
    PushLocked(CallKind::ConfigRead, 0, offset, v);
    return v;
}

void FakeDevice::ConfigWrite16(uint32_t offset, uint16_t value) {
    std::lock_guard<std::mutex> g(m_);
    RequireCoreLockLocked("ConfigWrite16");
    if (coreMarkedGone_) {
        AddViolationLocked("ConfigWrite16 at " + Hex(offset) + " after the core declared the device gone");
    }
    PushLocked(CallKind::ConfigWrite, 0, offset, value);
    if ((offset & 1u) != 0 || offset + 2 > LPC_CONFIG_SPACE_BYTES) {
        AddViolationLocked("ConfigWrite16 at invalid configuration offset " + Hex(offset));
        return;
    }
    if (configGone_) {
        return;
    }
    uint32_t& word = config_[offset / 4];
    const uint32_t shift = (offset & 2u) * 8u;
    word = (word & ~(0xFFFFu << shift)) | (uint32_t{value} << shift);
}

int32_t FakeDevice::AllocateDma(uint64_t bytes, uint32_t maxAddressBits, lpc::DmaBuffer* out) {
    std::lock_guard<std::mutex> g(m_);
    RequireCoreLockLocked("AllocateDma");
    const uint64_t index = dmaAllocations_++;
    PushLocked(CallKind::AllocateDma, maxAddressBits, bytes, index);
    if (plan_.failAtAllocation >= 0 && static_cast<uint64_t>(plan_.failAtAllocation) == index) {
        return LPC_RETURN_NO_MEMORY;
    }
    if (out == nullptr || bytes == 0) {
        AddViolationLocked("AllocateDma with a null buffer or zero bytes");
        return LPC_RETURN_BAD_ARGUMENT;
    }
    void* p = TakeDmaMemory(bytes);
    if (p == nullptr) {
        return LPC_RETURN_NO_MEMORY;
    }
    const uint64_t handle = nextHandle_++;
    live_[handle] = Allocation{p, bytes, true};
    *out = lpc::DmaBuffer{};
    out->cpu = p;
    out->length = bytes;
    out->platformHandle = reinterpret_cast<void*>(static_cast<uintptr_t>(handle));

    const uint32_t n = plan_.segments > LPC_MAX_SEGMENTS ? LPC_MAX_SEGMENTS : plan_.segments;
    out->segmentCount = n;
    if (n == 0) {
        if (handedOut_.size() <= index) {
            handedOut_.resize(index + 1);
        }
        handedOut_[index] = *out;
        return LPC_RETURN_SUCCESS;
    }
    uint64_t lengths[LPC_MAX_SEGMENTS] = {};
    const uint64_t each = bytes / n;
    for (uint32_t i = 0; i < n; ++i) {
        lengths[i] = i + 1 == n ? bytes - each * (n - 1) : each;
    }
    if (plan_.crossBoundary && n >= 2) {
        const uint64_t shift = layout_.bufferSize / 2 >= 4 ? layout_.bufferSize / 2 : 4;
        if (lengths[1] > shift) {
            lengths[0] += shift;
            lengths[1] -= shift;
        }
    }
    if (plan_.shortenBy != 0) {
        lengths[n - 1] -= plan_.shortenBy < lengths[n - 1] ? plan_.shortenBy : lengths[n - 1];
    }
    uint64_t maxLen = 0;
    for (uint32_t i = 0; i < n; ++i) {
        maxLen = lengths[i] > maxLen ? lengths[i] : maxLen;
    }
    const uint64_t gap = 0x10000;
    const uint64_t segStride = ((maxLen + gap - 1) & ~(gap - 1)) + gap; // non-contiguous segments
    const uint64_t allocStride = ((segStride * n) + kMiB - 1) & ~(kMiB - 1);
    const uint64_t base = plan_.busBase + index * allocStride;
    for (uint32_t i = 0; i < n; ++i) {
        out->segments[i] = lpc::DmaSegment{base + i * segStride, lengths[i]};
    }
    if (handedOut_.size() <= index) {
        handedOut_.resize(index + 1);
    }
    handedOut_[index] = *out;
    return LPC_RETURN_SUCCESS;
}

lpc::DmaBuffer FakeDevice::AllocatedBuffer(uint64_t index) const {
    std::lock_guard<std::mutex> g(m_);
    return index < handedOut_.size() ? handedOut_[index] : lpc::DmaBuffer{};
}

void FakeDevice::FreeDma(lpc::DmaBuffer* buffer) {
    std::lock_guard<std::mutex> g(m_);
    RequireCoreLockLocked("FreeDma");
    const uint64_t handle = buffer == nullptr ? 0 : static_cast<uint64_t>(reinterpret_cast<uintptr_t>(buffer->platformHandle));
    PushLocked(CallKind::FreeDma, 0, handle, 0);
    const auto it = live_.find(handle);
    if (it == live_.end() || !it->second.dma) {
        AddViolationLocked("FreeDma of an unknown or already freed buffer (handle " + std::to_string(handle) + ")");
        return;
    }
    if ((config_[1] & 0x4u) != 0 && !configGone_ && !coreMarkedGone_) {
        AddViolationLocked("FreeDma (handle " + std::to_string(handle) + ") while the command register still enables bus mastering");
    }
    if (it->second.cpu != buffer->cpu) {
        AddViolationLocked("FreeDma: the buffer's cpu pointer does not match its handle " + std::to_string(handle));
    }
    GiveDmaMemory(it->second.cpu, it->second.bytes);
    live_.erase(it);
}

int32_t FakeDevice::AllocateShared(uint64_t bytes, lpc::SharedMemory* out) {
    std::lock_guard<std::mutex> g(m_);
    RequireCoreLockLocked("AllocateShared");
    PushLocked(CallKind::AllocateShared, 0, bytes, 0);
    if (sharedFails_) {
        return LPC_RETURN_NO_MEMORY;
    }
    if (out == nullptr || bytes == 0) {
        AddViolationLocked("AllocateShared with a null descriptor or zero bytes");
        return LPC_RETURN_BAD_ARGUMENT;
    }
    void* p = std::calloc(static_cast<size_t>(bytes), 1);
    if (p == nullptr) {
        return LPC_RETURN_NO_MEMORY;
    }
    const uint64_t handle = nextHandle_++;
    live_[handle] = Allocation{p, bytes, false};
    out->cpu = p;
    out->length = bytes - (sharedShortBy_ < bytes ? sharedShortBy_ : bytes);
    out->platformHandle = reinterpret_cast<void*>(static_cast<uintptr_t>(handle));
    return LPC_RETURN_SUCCESS;
}

void FakeDevice::FreeShared(lpc::SharedMemory* memory) {
    std::lock_guard<std::mutex> g(m_);
    RequireCoreLockLocked("FreeShared");
    const uint64_t handle = memory == nullptr ? 0 : static_cast<uint64_t>(reinterpret_cast<uintptr_t>(memory->platformHandle));
    PushLocked(CallKind::FreeShared, 0, handle, 0);
    const auto it = live_.find(handle);
    if (it == live_.end() || it->second.dma) {
        AddViolationLocked("FreeShared of an unknown or already freed buffer (handle " + std::to_string(handle) + ")");
        return;
    }
    std::free(it->second.cpu);
    live_.erase(it);
}

void FakeDevice::Lock() {
    const std::thread::id me = std::this_thread::get_id();
    if (owner_.load() == me) {
        std::lock_guard<std::mutex> g(m_);
        AddViolationLocked("Lock() while this thread already holds the (non-recursive) core lock");
        recursion_.fetch_add(1);
        return;
    }
    coreLock_.lock();
    owner_.store(me);
    locks_.fetch_add(1);
}

void FakeDevice::Unlock() {
    if (owner_.load() != std::this_thread::get_id()) {
        std::lock_guard<std::mutex> g(m_);
        AddViolationLocked("Unlock() by a thread that does not hold the core lock");
        return;
    }
    if (recursion_.load() > 0) {
        recursion_.fetch_sub(1);
        return;
    }
    unlocks_.fetch_add(1);
    owner_.store(std::thread::id());
    coreLock_.unlock();
}

void FakeDevice::DelayMicroseconds(uint32_t microseconds) {
    std::lock_guard<std::mutex> g(m_);
    PushLocked(CallKind::Delay, 0, 0, microseconds);
    now_.fetch_add(uint64_t{microseconds} * 1000u);
}

uint64_t FakeDevice::NowNanoseconds() { return now_.load(); }

void FakeDevice::ArmTimer(uint32_t slot, uint64_t deadlineNs) {
    std::lock_guard<std::mutex> g(m_);
    RequireCoreLockLocked("ArmTimer");
    if (slot >= 2 * layout_.channelCount) {
        AddViolationLocked("ArmTimer for slot " + std::to_string(slot) + " beyond channelCount * 2");
    }
    PushLocked(CallKind::ArmTimer, slot, 0, deadlineNs);
    armed_[slot] = deadlineNs;
}

void FakeDevice::CancelTimer(uint32_t slot) {
    std::lock_guard<std::mutex> g(m_);
    RequireCoreLockLocked("CancelTimer");
    PushLocked(CallKind::CancelTimer, slot, 0, 0);
    armed_.erase(slot);
}

void FakeDevice::CompleteAsync(uint64_t token, int32_t status, const uint64_t* args, uint32_t count) {
    const bool heldByMe = LockHeldByMe();
    std::lock_guard<std::mutex> g(m_);
    if (heldByMe) {
        AddViolationLocked("CompleteAsync(token " + std::to_string(token) + ") called with the core lock held");
    }
    PushLocked(CallKind::CompleteAsync, 0, token, static_cast<uint32_t>(status));
    CompletionRecord r{token, status, {}};
    if (count > 0 && args == nullptr) {
        AddViolationLocked("CompleteAsync with " + std::to_string(count) + " arguments and no argument array");
    } else {
        r.args.assign(args, args + count);
    }
    completions_.push_back(r);
    if (++completedTokens_[token] > 1) {
        AddViolationLocked("async token " + std::to_string(token) + " completed more than once");
    }
}

int32_t FakeDevice::ResetFunction(uint32_t type) {
    std::lock_guard<std::mutex> g(m_);
    RequireCoreLockLocked("ResetFunction");
    PushLocked(CallKind::ResetFunction, type, 0, 0);
    return resetStatus_;
}

void FakeDevice::Log(const char* message) {
    std::lock_guard<std::mutex> g(m_);
    const std::string text = message == nullptr ? std::string() : std::string(message);
    PushLocked(CallKind::Log, 0, logs_.size(), 0);
    logs_.push_back(text);
    if (text.compare(0, 11, "device gone") == 0) {
        coreMarkedGone_ = true;
    }
}

// ---- controls ----

void FakeDevice::SetGone(bool gone) {
    std::lock_guard<std::mutex> g(m_);
    mmioGone_ = configGone_ = gone;
}

void FakeDevice::SetMmioGone(bool gone) {
    std::lock_guard<std::mutex> g(m_);
    mmioGone_ = gone;
}

void FakeDevice::SetConfigGone(bool gone) {
    std::lock_guard<std::mutex> g(m_);
    configGone_ = gone;
}

void FakeDevice::SetLoopStatus(uint32_t channel, uint32_t dir, uint32_t value) {
    std::lock_guard<std::mutex> g(m_);
    engines_[channel % LPC_MAX_CHANNELS][dir & 1u].loopStatus = value;
}

void FakeDevice::RaiseVector(uint32_t bits) {
    std::lock_guard<std::mutex> g(m_);
    vector_ |= bits;
}

uint32_t FakeDevice::Vector() const {
    std::lock_guard<std::mutex> g(m_);
    return vector_;
}

uint32_t FakeDevice::Reg(uint64_t offset) const {
    std::lock_guard<std::mutex> g(m_);
    return ReadLocked(layout_.csrBar, offset);
}

void FakeDevice::PokeReg(uint64_t offset, uint32_t value) {
    std::lock_guard<std::mutex> g(m_);
    regs_[layout_.csrBar][offset] = value;
}

uint32_t FakeDevice::BarWord(uint32_t bar, uint64_t offset) const {
    std::lock_guard<std::mutex> g(m_);
    return bar < 6 ? ReadLocked(bar, offset) : 0u;
}

void FakeDevice::SetIdentifierRom(const std::string& text) {
    std::lock_guard<std::mutex> g(m_);
    identifierRom_ = text;
}

std::vector<PushedDescriptor> FakeDevice::Table(uint32_t channel, uint32_t dir) const {
    std::lock_guard<std::mutex> g(m_);
    return engines_[channel % LPC_MAX_CHANNELS][dir & 1u].table;
}

uint32_t FakeDevice::SocResets() const {
    std::lock_guard<std::mutex> g(m_);
    return socResets_;
}

uint32_t FakeDevice::Config(uint32_t offset) const {
    std::lock_guard<std::mutex> g(m_);
    return config_[(offset / 4) % (LPC_CONFIG_SPACE_BYTES / 4)];
}

void FakeDevice::SetConfig(uint32_t offset, uint32_t value) {
    std::lock_guard<std::mutex> g(m_);
    config_[(offset / 4) % (LPC_CONFIG_SPACE_BYTES / 4)] = value;
}

void FakeDevice::SetResetFunctionStatus(int32_t status) {
    std::lock_guard<std::mutex> g(m_);
    resetStatus_ = status;
}

std::map<uint32_t, uint64_t> FakeDevice::ArmedTimers() const {
    std::lock_guard<std::mutex> g(m_);
    return armed_;
}

// ---- log ----

size_t FakeDevice::Mark() const {
    std::lock_guard<std::mutex> g(m_);
    return calls_.size();
}

std::vector<PlatformCall> FakeDevice::Calls() const {
    std::lock_guard<std::mutex> g(m_);
    return calls_;
}

std::vector<PlatformCall> FakeDevice::CallsSince(size_t mark) const {
    std::lock_guard<std::mutex> g(m_);
    return mark >= calls_.size() ? std::vector<PlatformCall>() : std::vector<PlatformCall>(calls_.begin() + static_cast<std::ptrdiff_t>(mark), calls_.end());
}

std::vector<PlatformCall> FakeDevice::MmioSince(size_t mark) const {
    std::vector<PlatformCall> out;
    for (const PlatformCall& c : CallsSince(mark)) {
        if (c.kind == CallKind::MmioRead || c.kind == CallKind::MmioWrite) {
            out.push_back(c);
        }
    }
    return out;
}

std::vector<PlatformCall> FakeDevice::MmioWritesSince(size_t mark) const {
    std::vector<PlatformCall> out;
    for (const PlatformCall& c : CallsSince(mark)) {
        if (c.kind == CallKind::MmioWrite) {
            out.push_back(c);
        }
    }
    return out;
}

bool FakeDevice::WroteSince(size_t mark, uint64_t offset) const {
    for (const PlatformCall& c : MmioWritesSince(mark)) {
        if (c.bar == layout_.csrBar && c.offset == offset) {
            return true;
        }
    }
    return false;
}

size_t FakeDevice::CountSince(size_t mark, CallKind kind) const {
    size_t n = 0;
    for (const PlatformCall& c : CallsSince(mark)) {
        n += c.kind == kind ? 1u : 0u;
    }
    return n;
}

std::string FakeDevice::Describe(const PlatformCall& c) const {
    const std::string where = c.bar == layout_.csrBar ? RegisterName(layout_, c.offset) : "BAR" + std::to_string(c.bar) + "+" + Hex(c.offset);
    switch (c.kind) {
    case CallKind::MmioRead: return "MmioRead32 " + where + " -> " + Hex(c.value);
    case CallKind::MmioWrite: return "MmioWrite32 " + where + " <- " + Hex(c.value);
    case CallKind::ConfigRead: return "ConfigRead32 config+" + Hex(c.offset) + " -> " + Hex(c.value);
    case CallKind::ConfigWrite: return "ConfigWrite16 config+" + Hex(c.offset) + " <- " + Hex(c.value);
    case CallKind::AllocateDma: return "AllocateDma #" + std::to_string(c.value) + " " + std::to_string(c.offset) + " bytes, " + std::to_string(c.bar) + "-bit";
    case CallKind::FreeDma: return "FreeDma handle " + std::to_string(c.offset);
    case CallKind::AllocateShared: return "AllocateShared " + std::to_string(c.offset) + " bytes";
    case CallKind::FreeShared: return "FreeShared handle " + std::to_string(c.offset);
    case CallKind::Delay: return "DelayMicroseconds " + std::to_string(c.value);
    case CallKind::ArmTimer: return "ArmTimer slot " + std::to_string(c.bar) + " at " + std::to_string(c.value) + " ns";
    case CallKind::CancelTimer: return "CancelTimer slot " + std::to_string(c.bar);
    case CallKind::CompleteAsync: return "CompleteAsync token " + std::to_string(c.offset) + " status " + Hex(c.value);
    case CallKind::ResetFunction: return "ResetFunction type " + std::to_string(c.bar);
    case CallKind::Log: {
        std::lock_guard<std::mutex> g(m_);
        return "Log \"" + (c.offset < logs_.size() ? logs_[c.offset] : std::string()) + "\"";
    }
    }
    return "?";
}

std::string FakeDevice::DescribeSince(size_t mark) const {
    std::string s;
    for (const PlatformCall& c : CallsSince(mark)) {
        s += "  " + Describe(c) + "\n";
    }
    return s;
}

std::vector<std::string> FakeDevice::Logs() const {
    std::lock_guard<std::mutex> g(m_);
    return logs_;
}

std::vector<CompletionRecord> FakeDevice::Completions() const {
    std::lock_guard<std::mutex> g(m_);
    return completions_;
}

size_t FakeDevice::CompletionCount() const {
    std::lock_guard<std::mutex> g(m_);
    return completions_.size();
}

uint32_t FakeDevice::TimesCompleted(uint64_t token) const {
    std::lock_guard<std::mutex> g(m_);
    const auto it = completedTokens_.find(token);
    return it == completedTokens_.end() ? 0u : it->second;
}

std::vector<std::string> FakeDevice::Violations() const {
    std::lock_guard<std::mutex> g(m_);
    return violations_;
}

bool FakeDevice::HasViolations() const {
    std::lock_guard<std::mutex> g(m_);
    return !violations_.empty();
}

void FakeDevice::ClearViolations() {
    std::lock_guard<std::mutex> g(m_);
    violations_.clear();
}

bool FakeDevice::CoreMarkedGone() const {
    std::lock_guard<std::mutex> g(m_);
    return coreMarkedGone_;
}

void FakeDevice::ForgetGoneMark() {
    std::lock_guard<std::mutex> g(m_);
    coreMarkedGone_ = false;
}

uint64_t FakeDevice::LiveDmaBuffers() const {
    std::lock_guard<std::mutex> g(m_);
    uint64_t n = 0;
    for (const auto& kv : live_) {
        n += kv.second.dma ? 1u : 0u;
    }
    return n;
}

uint64_t FakeDevice::LiveDmaBytes() const {
    std::lock_guard<std::mutex> g(m_);
    uint64_t n = 0;
    for (const auto& kv : live_) {
        n += kv.second.dma ? kv.second.bytes : 0u;
    }
    return n;
}

uint64_t FakeDevice::LiveSharedBuffers() const {
    std::lock_guard<std::mutex> g(m_);
    uint64_t n = 0;
    for (const auto& kv : live_) {
        n += kv.second.dma ? 0u : 1u;
    }
    return n;
}

std::vector<uint16_t> FakeDevice::CommandWrites() const {
    std::lock_guard<std::mutex> g(m_);
    std::vector<uint16_t> out;
    for (const PlatformCall& c : calls_) {
        if (c.kind == CallKind::ConfigWrite && c.offset == 4) {
            out.push_back(static_cast<uint16_t>(c.value));
        }
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// Calling the core

CallResult Invoke(lpc::Core& core, uint32_t client, uint64_t selector, const std::vector<uint64_t>& in, uint64_t token) {
    static std::atomic<uint64_t> nextToken{0x1000};
    const lpc::validation::MethodShape shape =
        selector < kLpcMethodCount ? lpc::validation::Shape(static_cast<uint32_t>(selector)) : lpc::validation::MethodShape{0, 0, 0, 0, 0};
    CallResult r;
    r.out.assign(shape.scalarOut, ~0ull);
    r.structOut.assign(shape.structOut, 0xCD);
    std::vector<uint64_t> input = in;
    lpc::MethodArgs a;
    a.scalarInput = input.empty() ? nullptr : input.data();
    a.scalarInputCount = static_cast<uint32_t>(input.size());
    a.scalarOutput = r.out.empty() ? nullptr : r.out.data();
    a.scalarOutputCount = shape.scalarOut;
    a.structOutput = r.structOut.empty() ? nullptr : r.structOut.data();
    a.structOutputCapacity = shape.structOut;
    a.hasCompletion = shape.completion;
    a.asyncToken = token != 0 ? token : nextToken.fetch_add(1);
    r.status = core.ExternalMethod(client, selector, a);
    r.structOutputSize = a.structOutputSize;
    r.tokenTaken = a.asyncTokenTaken;
    r.token = a.asyncToken;
    return r;
}

Rig::Rig(const LayoutOptions& options) : layout(MakeLayout(options)), dev(layout), core(dev) {}

Rig::Rig(const LpcBoardLayout& l) : layout(l), dev(layout), core(dev) {}

LpcInfo Rig::Info() { return Call(kLpcGetInfo, {}).As<LpcInfo>(); }

LpcErrorInfo Rig::LastError() { return Call(kLpcGetLastError, {}).As<LpcErrorInfo>(); }

LpcDirStatus Rig::DirStatus(uint32_t channel, uint32_t dir) { return Call(kLpcGetDirStatus, {channel, dir}).As<LpcDirStatus>(); }

const LpcStatusHeader* Rig::Header() {
    void* cpu = nullptr;
    uint64_t length = 0;
    uint32_t readOnly = 0;
    void* handle = nullptr;
    if (core.CopyClientMemory(client, LPC_MEMORY_TYPE(kLpcMemStatus, 0), &cpu, &length, &readOnly, &handle) != LPC_RETURN_SUCCESS) {
        return nullptr;
    }
    return static_cast<const LpcStatusHeader*>(cpu);
}

const LpcDirStatus* Rig::StatusOf(uint32_t channel, uint32_t dir) {
    const LpcStatusHeader* h = Header();
    if (h == nullptr) {
        return nullptr;
    }
    return reinterpret_cast<const LpcDirStatus*>(reinterpret_cast<const uint8_t*>(h) + LPC_DIR_STATUS_OFFSET(channel, dir));
}

std::string Rig::Finish() {
    core.Stop();
    std::string report;
    for (const std::string& v : dev.Violations()) {
        report += "platform contract violation: " + v + "\n";
    }
    if (dev.LiveDmaBuffers() != 0) {
        report += std::to_string(dev.LiveDmaBuffers()) + " DMA ring(s) still allocated after Stop\n";
    }
    if (dev.LiveSharedBuffers() != 0) {
        report += "the status page is still allocated after Stop\n";
    }
    if (dev.LockHeld()) {
        report += "the core lock is still held\n";
    }
    if (dev.LocksTaken() != dev.Unlocks()) {
        report += "Lock/Unlock unbalanced: " + std::to_string(dev.LocksTaken()) + " locks, " + std::to_string(dev.Unlocks()) + " unlocks\n";
    }
    const lpc::Stats st = core.GetStats();
    if (st.liveDmaBuffers != 0 || st.liveDmaBytes != 0 || st.liveSharedBytes != 0 || st.pendingWaits != 0) {
        report += "core stats after Stop: " + std::to_string(st.liveDmaBuffers) + " buffers, " + std::to_string(st.liveDmaBytes) +
                  " DMA bytes, " + std::to_string(st.liveSharedBytes) + " shared bytes, " + std::to_string(st.pendingWaits) + " waits\n";
    }
    return report;
}

void Rig::InterruptWithCount(uint32_t channel, uint32_t dir, uint64_t hw) {
    dev.SetLoopStatus(channel, dir, LoopStatusFor(hw, layout.bufferCount));
    const LpcChannelLayout& ch = layout.channels[channel];
    const uint32_t irq = dir == kLpcDirWriter ? ch.writerIrq : ch.readerIrq;
    if (layout.msiFlavour == kLpcMsiSingle) {
        dev.RaiseVector(1u << irq);
        core.Interrupt(0, dev.NowNanoseconds());
    } else {
        core.Interrupt(irq, dev.NowNanoseconds());
    }
}

} // namespace lpc_test
