// loop_status -> monotonic 64-bit hardware buffer count (docs/gateware.md#loop_status,
// docs/linux-driver.md#hardware-and-software-counts).
#ifndef LPC_HW_COUNT_HPP
#define LPC_HW_COUNT_HPP

#include <stdint.h>

namespace lpc {

/// The Linux driver's formula, generalised to an N-entry ring: low = count * N + index modulo
/// 2^16 * N, plus one modulus whenever the value went backwards. For N = 256 this is exactly
/// hw = (hw & ~0xFFFFFF) | (count * 256 + index), +2^24 on wrap.
class HwCount {
public:
    void Reset(uint32_t ringSize) {
        ring_ = ringSize == 0 ? 1 : ringSize;
        hw_ = 0;
        last_ = 0;
    }

    uint64_t Update(uint32_t loopStatus) {
        const uint64_t modulus = 65536ull * ring_;
        const uint64_t index = loopStatus & 0xFFFFu;
        const uint64_t count = loopStatus >> 16;
        const uint64_t low = (count * ring_ + index) % modulus;
        hw_ = hw_ - (hw_ % modulus) + low;
        if (last_ > hw_) {
            hw_ += modulus;
        }
        last_ = hw_;
        return hw_;
    }

    uint64_t Value() const { return hw_; }

private:
    uint64_t ring_ = 256;
    uint64_t hw_ = 0;
    uint64_t last_ = 0;
};

} // namespace lpc

#endif
