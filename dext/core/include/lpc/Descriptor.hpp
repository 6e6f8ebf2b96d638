// LitePCIe descriptor words and ring checks (docs/gateware.md#descriptor,
// docs/linux-driver.md#start-and-stop-sequences, docs/dext-design.md#rings-and-shared-memory).
#ifndef LPC_DESCRIPTOR_HPP
#define LPC_DESCRIPTOR_HPP

#include <stdint.h>

#include "lpc/Core.hpp"

namespace lpc {

constexpr uint32_t kDescIrqDisable = 1u << 24;
constexpr uint32_t kDescLastDisable = 1u << 25;
constexpr uint32_t kDescLengthMask = 0x00FFFFFFu;

/// High word of table_value for buffer `index` of a ring: length, last_disable (every buffer is
/// filled completely, as litepcie.ko does) and irq_disable except on every irqEvery-th descriptor.
inline uint32_t DescriptorControl(uint32_t index, uint32_t bufferSize, uint32_t irqEvery) {
    return (bufferSize & kDescLengthMask) | kDescLastDisable | ((index % irqEvery) != 0 ? kDescIrqDisable : 0u);
}

/// Bus address of [offset, offset + length) of a prepared buffer, walking its segment list. False
/// when the range is not inside one segment (a DMA buffer must be bus-contiguous).
bool BusAddressOf(const DmaBuffer& buffer, uint64_t offset, uint64_t length, uint64_t* busAddress);

/// Why a prepared ring cannot be programmed (nullptr = usable): no segments, short, a buffer crossing
/// a segment boundary, or an address beyond the device's DMA address width.
const char* CheckRing(const DmaBuffer& ring, uint32_t bufferCount, uint32_t bufferSize, uint32_t dmaAddressWidth);

} // namespace lpc

#endif
