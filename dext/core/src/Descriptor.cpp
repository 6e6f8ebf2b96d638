#include "lpc/Descriptor.hpp"

namespace lpc {

bool BusAddressOf(const DmaBuffer& buffer, uint64_t offset, uint64_t length, uint64_t* busAddress) {
    uint64_t start = 0;
    const uint32_t n = buffer.segmentCount < LPC_MAX_SEGMENTS ? buffer.segmentCount : LPC_MAX_SEGMENTS;
    for (uint32_t i = 0; i < n; ++i) {
        const DmaSegment& s = buffer.segments[i];
        if (offset >= start && offset - start < s.length) {
            const uint64_t within = offset - start;
            if (length > s.length - within) {
                return false; // crosses into the next segment
            }
            *busAddress = s.busAddress + within;
            return true;
        }
        start += s.length;
    }
    return false;
}

const char* CheckRing(const DmaBuffer& ring, uint32_t bufferCount, uint32_t bufferSize, uint32_t dmaAddressWidth) {
    if (ring.segmentCount == 0 || ring.segmentCount > LPC_MAX_SEGMENTS) {
        return "the DMA preparation returned no (or too many) segments";
    }
    uint64_t total = 0;
    for (uint32_t i = 0; i < ring.segmentCount; ++i) {
        total += ring.segments[i].length;
    }
    const uint64_t needed = static_cast<uint64_t>(bufferCount) * bufferSize;
    if (total < needed || ring.length < needed) {
        return "the DMA preparation covers fewer bytes than the ring";
    }
    for (uint32_t i = 0; i < bufferCount; ++i) {
        uint64_t bus = 0;
        if (!BusAddressOf(ring, static_cast<uint64_t>(i) * bufferSize, bufferSize, &bus)) {
            return "a ring buffer crosses a DMA segment boundary";
        }
        const uint64_t last = bus + bufferSize - 1;
        if (dmaAddressWidth < 64 && (last >> dmaAddressWidth) != 0) {
            return "a ring buffer's bus address exceeds the device's DMA address width";
        }
    }
    return nullptr;
}

} // namespace lpc
