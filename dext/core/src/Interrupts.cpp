#include "lpc/Interrupts.hpp"

namespace lpc {

namespace {

constexpr uint64_t kMessagedMask = uint64_t{kInterruptTypePciMessaged} | uint64_t{kInterruptTypePciMessagedX};

uint32_t SourceBits(const LpcBoardLayout& layout) { return layout.msiEnableWords >= 2 ? 64u : 32u; }

bool Limited(const LpcBoardLayout& layout, uint32_t vectors) {
    return vectors != 0 && vectors < InterruptVectorsNeeded(layout);
}

} // namespace

uint32_t InterruptVectorsNeeded(const LpcBoardLayout& layout) {
    if (layout.msiFlavour == kLpcMsiSingle) {
        return 1;
    }
    uint32_t highest = 0;
    for (uint32_t c = 0; c < layout.channelCount && c < LPC_MAX_CHANNELS; ++c) {
        const LpcChannelLayout& ch = layout.channels[c];
        highest = ch.writerIrq > highest ? ch.writerIrq : highest;
        highest = ch.readerIrq > highest ? ch.readerIrq : highest;
    }
    return highest + 1;
}

uint64_t InterruptSourcesOf(const LpcBoardLayout& layout, uint32_t vectors, uint32_t vector) {
    const uint32_t bits = SourceBits(layout);
    if (layout.msiFlavour == kLpcMsiSingle) {
        return vector == 0 ? (bits == 64 ? ~uint64_t{0} : 0xFFFFFFFFull) : 0;
    }
    if (!Limited(layout, vectors)) {
        return vector < bits ? uint64_t{1} << vector : 0;
    }
    if (vector >= vectors) {
        return 0;
    }
    if (layout.msiFlavour == kLpcMsiX) {
        return uint64_t{1} << vector;
    }
    uint64_t mask = 0;
    for (uint32_t b = vector; b < bits; b += vectors) {
        mask |= uint64_t{1} << b;
    }
    return mask;
}

bool InterruptBitReachable(const LpcBoardLayout& layout, uint32_t vectors, uint32_t bit) {
    if (bit >= SourceBits(layout)) {
        return false;
    }
    if (layout.msiFlavour != kLpcMsiX || !Limited(layout, vectors)) {
        return true;
    }
    return bit < vectors;
}

InterruptGrant NegotiateInterrupts(const LpcBoardLayout& layout, InterruptController& controller) {
    InterruptGrant g;
    g.type = layout.msiFlavour == kLpcMsiX ? kInterruptTypePciMessagedX : kInterruptTypePciMessaged;
    g.needed = InterruptVectorsNeeded(layout);
    g.required = 1;
    uint32_t requested = g.needed < kMaxInterruptVectors ? g.needed : kMaxInterruptVectors;
    if (layout.msiFlavour != kLpcMsiX) {
        uint32_t pow2 = 1;
        while (pow2 < requested) {
            pow2 <<= 1; // Multiple Message Enable is a power of two (the kernel rounds up as well)
        }
        requested = pow2;
    }
    g.requested = requested;

    g.status = controller.ConfigureInterrupts(g.type, g.required, g.requested);
    if (g.status != LPC_RETURN_SUCCESS) {
        g.problem = InterruptProblem::ConfigureFailed;
        return g;
    }

    // Where index 0 is still the legacy pin, the messaged interrupts start at index 1.
    if (controller.GetInterruptType(0, &g.firstType) == LPC_RETURN_SUCCESS && (g.firstType & kMessagedMask) == 0) {
        g.first = 1;
    }
    for (uint32_t v = 0; v < g.requested; ++v) {
        uint64_t type = 0;
        if (controller.GetInterruptType(g.first + v, &type) != LPC_RETURN_SUCCESS || (type & kMessagedMask) == 0) {
            break;
        }
        ++g.granted;
    }
    if (g.granted == 0) {
        g.status = LPC_RETURN_UNSUPPORTED;
        g.problem = InterruptProblem::NoMessagedVector;
    }
    return g;
}

const char* InterruptProblemName(InterruptProblem problem) {
    switch (problem) {
    case InterruptProblem::None: return "none";
    case InterruptProblem::ConfigureFailed: return "ConfigureInterrupts refused even one vector";
    case InterruptProblem::NoMessagedVector: return "no MSI/MSI-X interrupt index after ConfigureInterrupts";
    }
    return "unknown";
}

} // namespace lpc
