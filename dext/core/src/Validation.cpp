#include "lpc/Validation.hpp"

namespace lpc {
namespace validation {

namespace {

// Exact argument shapes per selector (the dispatch table; IOUserClientMethodDispatch semantics).
constexpr MethodShape kShapes[kLpcMethodCount] = {
    /* kLpcGetInfo       */ {0, 0, 0, sizeof(LpcInfo), 0},
    /* kLpcCsrRead32     */ {1, 0, 1, 0, 0},
    /* kLpcCsrWrite32    */ {2, 0, 0, 0, 0},
    /* kLpcBarRead32     */ {2, 0, 1, 0, 0},
    /* kLpcBarWrite32    */ {3, 0, 0, 0, 0},
    /* kLpcConfigRead32  */ {1, 0, 1, 0, 0},
    /* kLpcDmaStart      */ {4, 0, 1, 0, 0},
    /* kLpcDmaStop       */ {2, 0, 0, 0, 0},
    /* kLpcUpdateSwCount */ {3, 0, 1, 0, 0},
    /* kLpcWaitBuffers   */ {4, 0, 0, 0, 1},
    /* kLpcSetLoopback   */ {2, 0, 0, 0, 0},
    /* kLpcReset         */ {1, 0, 1, 0, 0},
    /* kLpcGetDirStatus  */ {2, 0, 0, sizeof(LpcDirStatus), 0},
    /* kLpcGetLastError  */ {0, 0, 0, sizeof(LpcErrorInfo), 0},
};

bool InRange(uint64_t offset, uint32_t start, uint64_t bytes) {
    return start != LPC_NO_REGISTER && offset >= start && offset - start < bytes;
}

bool OffsetInBar0(uint32_t offset, uint64_t bar0, uint32_t bytes) {
    return offset != LPC_NO_REGISTER && bar0 >= bytes && offset <= bar0 - bytes && (offset & 3u) == 0;
}

} // namespace

const MethodShape& Shape(uint32_t selector) { return kShapes[selector]; }

bool IsDriverOwned(const LpcBoardLayout& layout, uint64_t offset) {
    for (uint32_t c = 0; c < layout.channelCount && c < LPC_MAX_CHANNELS; ++c) {
        const LpcChannelLayout& ch = layout.channels[c];
        const LpcEngineRegs* engines[2] = {&ch.writer, &ch.reader};
        for (const LpcEngineRegs* e : engines) {
            const uint32_t regs[] = {e->enable, e->tableValue, e->tableValue + 4, e->tableWe, e->loopProgN, e->loopStatus, e->level, e->tableReset};
            for (uint32_t r : regs) {
                if (r != LPC_NO_REGISTER && offset == r) {
                    return true;
                }
            }
        }
        if (ch.loopbackEnable != LPC_NO_REGISTER && offset == ch.loopbackEnable) {
            return true;
        }
    }
    if (InRange(offset, layout.msiEnable, 4ull * layout.msiEnableWords) || offset == layout.msiClear ||
        InRange(offset, layout.msixTable, layout.msixTableBytes)) {
        return true;
    }
    return layout.ctrlReset != LPC_NO_REGISTER && offset == layout.ctrlReset;
}

bool DecodeMemoryType(uint64_t type, uint32_t channelCount, uint32_t* kind, uint32_t* channel) {
    if ((type >> 16) != 0) {
        return false;
    }
    const uint32_t k = static_cast<uint32_t>(type >> 8) & 0xFFu;
    const uint32_t c = static_cast<uint32_t>(type & 0xFFu);
    if (k == kLpcMemStatus) {
        if (c != 0) {
            return false;
        }
    } else if (k == kLpcMemWriterRing || k == kLpcMemReaderRing) {
        if (c >= channelCount) {
            return false;
        }
    } else {
        return false;
    }
    *kind = k;
    *channel = c;
    return true;
}

const char* CheckLayout(const LpcBoardLayout& l) {
    if (l.magic != LPC_LAYOUT_MAGIC) {
        return "layout magic is not 'LPCL'";
    }
    if (l.abiMajor != LPC_ABI_MAJOR) {
        return "layout ABI major version differs from the core's";
    }
    if (l.channelCount > LPC_MAX_CHANNELS) {
        return "channelCount exceeds 16";
    }
    if (l.msiFlavour > kLpcMsiX) {
        return "msiFlavour is not single, multi-vector or MSI-X";
    }
    if (l.msiEnableWords < 1 || l.msiEnableWords > 2) {
        return "msiEnableWords is not 1 or 2";
    }
    if (l.msiEnableWords == 2 && l.msiFlavour != kLpcMsiX) {
        return "two MSI enable words exist only with MSI-X (64 vectors); single MSI's second word is pcie_msi_clear";
    }
    if (l.dmaAddressWidth != 32 && l.dmaAddressWidth != 64) {
        return "dmaAddressWidth is not 32 or 64";
    }
    if (l.bufferCount < 2 || l.bufferCount > LPC_MAX_BUFFER_COUNT || (l.bufferCount & (l.bufferCount - 1)) != 0) {
        return "bufferCount is not a power of two in 2..4096";
    }
    if (l.bufferSize < 4 || l.bufferSize > LPC_MAX_BUFFER_SIZE || (l.bufferSize & 3u) != 0) {
        return "bufferSize is not a multiple of 4 in 4..8 MiB";
    }
    if (l.csrBar > 5) {
        return "csrBar is not 0..5";
    }
    const uint64_t bar0 = l.barSizes[l.csrBar];
    if (bar0 < 4096) {
        return "the CSR BAR is smaller than 4 KiB";
    }
    if (!OffsetInBar0(l.msiEnable, bar0, 4 * l.msiEnableWords) || !OffsetInBar0(l.ctrlScratch, bar0, 4) ||
        !OffsetInBar0(l.identifierBase, bar0, 4 * LPC_IDENTIFIER_BYTES)) {
        return "MSI enable, scratch or identifier offset outside the CSR BAR";
    }
    if (l.msiFlavour == kLpcMsiSingle && (!OffsetInBar0(l.msiClear, bar0, 4) || !OffsetInBar0(l.msiVector, bar0, 4))) {
        return "single MSI needs clear and vector registers inside the CSR BAR";
    }
    if (l.msiFlavour == kLpcMsiX && !OffsetInBar0(l.msixTable, bar0, l.msixTableBytes)) {
        return "MSI-X table outside the CSR BAR";
    }
    if ((l.ctrlReset != LPC_NO_REGISTER && !OffsetInBar0(l.ctrlReset, bar0, 4)) ||
        (l.ctrlBusErrors != LPC_NO_REGISTER && !OffsetInBar0(l.ctrlBusErrors, bar0, 4))) {
        return "ctrl register outside the CSR BAR";
    }
    uint64_t irqs = 0;
    for (uint32_t c = 0; c < l.channelCount; ++c) {
        const LpcChannelLayout& ch = l.channels[c];
        const LpcEngineRegs* engines[2] = {&ch.writer, &ch.reader};
        for (const LpcEngineRegs* e : engines) {
            const uint32_t regs[] = {e->enable, e->tableWe, e->loopProgN, e->loopStatus, e->level, e->tableReset};
            for (uint32_t r : regs) {
                if (!OffsetInBar0(r, bar0, 4)) {
                    return "DMA engine register outside the CSR BAR";
                }
            }
            if (!OffsetInBar0(e->tableValue, bar0, 8)) { // two words; checked as one region so nothing wraps
                return "DMA engine register outside the CSR BAR";
            }
        }
        if (ch.loopbackEnable != LPC_NO_REGISTER && !OffsetInBar0(ch.loopbackEnable, bar0, 4)) {
            return "loopback_enable outside the CSR BAR";
        }
        if ((ch.loopbackEnable != LPC_NO_REGISTER) != ((ch.features & LPC_FEATURE_LOOPBACK) != 0)) {
            return "loopback feature flag disagrees with the loopback register";
        }
        const uint32_t width = 32 * l.msiEnableWords;
        if (ch.writerIrq >= width || ch.readerIrq >= width || ch.writerIrq == ch.readerIrq) {
            return "DMA interrupt bit outside the MSI enable register, or writer and reader share a bit";
        }
        const uint64_t bits = (1ull << ch.writerIrq) | (1ull << ch.readerIrq);
        if ((irqs & bits) != 0) {
            return "two channels share a DMA interrupt bit";
        }
        irqs |= bits;
    }
    return nullptr;
}

} // namespace validation
} // namespace lpc
