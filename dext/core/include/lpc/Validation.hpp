// Input validation rules of the dext's method table (docs/dext-design.md#method-table), as pure functions so
// every rule and its boundary values are unit-tested on Linux.
#ifndef LPC_VALIDATION_HPP
#define LPC_VALIDATION_HPP

#include <stdint.h>

#include "lpc/LitePcieAbi.h"

namespace lpc {
namespace validation {

/// One entry of the dispatch table: exact counts and sizes (kIOUserClientVariableStructureSize unused).
struct MethodShape {
    uint32_t scalarIn;
    uint32_t structIn;
    uint32_t scalarOut;
    uint32_t structOut;
    uint32_t completion; // 1 = an async reference is required, 0 = must be absent
};

/// The shape of every selector, indexed by LpcSelector.
const MethodShape& Shape(uint32_t selector);

/// A 32-bit register access at `offset` inside a region of `size` bytes: 4-aligned and
/// offset <= size - 4, written so that no addition can overflow.
inline bool RegisterOffsetValid(uint64_t offset, uint64_t size) {
    return (offset & 3u) == 0 && size >= 4 && offset <= size - 4;
}

/// A u64 scalar that must fit 32 bits.
inline bool FitsU32(uint64_t value) { return value <= 0xFFFFFFFFull; }

inline bool ChannelValid(uint64_t channel, uint32_t channelCount) { return channel < channelCount; }

inline bool DirectionValid(uint64_t dir) { return dir == kLpcDirWriter || dir == kLpcDirReader; }

/// irqEvery in [1, bufferCount / 2] (Linux uses 32 with 256 buffers).
inline bool IrqEveryValid(uint64_t irqEvery, uint32_t bufferCount) {
    return irqEvery >= 1 && irqEvery <= bufferCount / 2;
}

inline bool StartFlagsValid(uint64_t flags) { return (flags & ~static_cast<uint64_t>(LPC_START_FLAGS_MASK)) == 0; }

inline bool TimeoutValid(uint64_t timeoutMs) { return timeoutMs >= 1 && timeoutMs <= LPC_MAX_WAIT_MS; }

/// Why a software count is refused (0 = accepted).
enum class SwCountProblem : uint32_t { None = 0, Backwards, AheadOfHardware, TooFarAhead };

/// Software counts are monotonic; a writer (RX) consumer cannot pass the hardware; a reader (TX)
/// producer may be at most one ring ahead of what the hardware fetched.
inline SwCountProblem CheckSwCount(uint32_t dir, uint64_t sw, uint64_t previous, uint64_t hw, uint32_t bufferCount) {
    if (sw < previous) {
        return SwCountProblem::Backwards;
    }
    if (dir == kLpcDirWriter) {
        return sw > hw ? SwCountProblem::AheadOfHardware : SwCountProblem::None;
    }
    return sw > hw + bufferCount ? SwCountProblem::TooFarAhead : SwCountProblem::None;
}

/// Registers the driver owns: DMA engines, loopback (SetLoopback), the MSI block and MSI-X table,
/// ctrl_reset (Reset). Raw client writes to them are refused with kIOReturnNotPermitted.
bool IsDriverOwned(const LpcBoardLayout& layout, uint64_t offset);

/// Decodes a CopyClientMemoryForType type; false for stray bits, unknown kinds or channels.
bool DecodeMemoryType(uint64_t type, uint32_t channelCount, uint32_t* kind, uint32_t* channel);

/// Sanity of a board layout before Start (magic, ABI, counts, geometry, offsets inside BAR0).
/// Returns nullptr when valid, else what is wrong.
const char* CheckLayout(const LpcBoardLayout& layout);

} // namespace validation
} // namespace lpc

#endif
