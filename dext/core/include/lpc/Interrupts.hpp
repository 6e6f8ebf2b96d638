// Interrupt vectors: how many the gateware needs, how they are negotiated with the PCI family, and
// which interrupt bits one granted vector serves. Portable (no DriverKit headers) so that the DriverKit
// glue's negotiation and the core's vector → source mapping are unit-tested on Linux.
//
// The kernel side (IOPCIFamily IOPCIDevice::configureInterrupts) allocates a device's vectors once: a
// later request succeeds only when the existing allocation already has at least `numRequired` vectors
// of the same kind, and returns kIOReturnUnsupported otherwise. Anything may have resolved them first:
// the kernel saving device state at sleep, or the dext's previous instance. So the glue asks for at
// least one vector, requests what the gateware wants, and uses what was granted (GetInterruptType on
// each index). For MSI the kernel rounds the request up to a power of two.
#ifndef LPC_INTERRUPTS_HPP
#define LPC_INTERRUPTS_HPP

#include <stdint.h>

#include "lpc/LitePcieAbi.h"

namespace lpc {

/// Interrupt type flags as IOInterruptDispatchSource::GetInterruptType reports them and
/// IOPCIDevice::ConfigureInterrupts takes them (the DriverKit values; the glue static_asserts them).
constexpr uint32_t kInterruptTypeLevel = 0x00000001u;
constexpr uint32_t kInterruptTypePciMessaged = 0x00010000u;
constexpr uint32_t kInterruptTypePciMessagedX = 0x00020000u;

/// Vectors the glue creates sources for at most (MSI allows 32; MSI-X bits above have no vector).
constexpr uint32_t kMaxInterruptVectors = 32;

/// Vectors the layout's gateware uses: 1 for single MSI (demultiplexed through pcie_msi_vector), the
/// highest interrupt bit + 1 for multi-vector MSI and MSI-X.
uint32_t InterruptVectorsNeeded(const LpcBoardLayout& layout);

/// The interrupt bits a message on `vector` may stand for, when `vectors` vectors were granted
/// (0 = every vector the layout needs). Multi-vector MSI with fewer vectors: the function may only
/// modify the low log2(granted) bits of the message data, so bit b arrives on vector b mod granted.
/// MSI-X with fewer vectors: table entries above the grant stay masked and carry nothing.
uint64_t InterruptSourcesOf(const LpcBoardLayout& layout, uint32_t vectors, uint32_t vector);

/// Whether interrupt bit `bit` reaches the driver at all with `vectors` granted.
bool InterruptBitReachable(const LpcBoardLayout& layout, uint32_t vectors, uint32_t bit);

/// What the negotiation needs from the PCI family (IOPCIDevice + IOInterruptDispatchSource in the dext).
class InterruptController {
public:
    /// IOPCIDevice::ConfigureInterrupts(type, numRequired, numRequested, 0).
    virtual int32_t ConfigureInterrupts(uint32_t type, uint32_t required, uint32_t requested) = 0;
    /// IOInterruptDispatchSource::GetInterruptType(provider, index, &type).
    virtual int32_t GetInterruptType(uint32_t index, uint64_t* type) = 0;

protected:
    ~InterruptController() = default;
};

enum class InterruptProblem : uint32_t {
    None = 0,
    ConfigureFailed,  // ConfigureInterrupts refused even one vector
    NoMessagedVector, // no index reports an MSI/MSI-X type after a successful ConfigureInterrupts
};

/// The outcome of a negotiation; the glue logs it and creates `granted` sources at `first`, `first + 1`, ...
struct InterruptGrant {
    int32_t status = LPC_RETURN_SUCCESS;
    InterruptProblem problem = InterruptProblem::None;
    uint32_t type = 0;      // kInterruptTypePciMessaged or kInterruptTypePciMessagedX
    uint32_t needed = 0;    // InterruptVectorsNeeded
    uint32_t required = 0;  // numRequired asked for (1)
    uint32_t requested = 0; // numRequested asked for
    uint32_t first = 0;     // provider index of vector 0 (1 where index 0 is the legacy pin)
    uint32_t granted = 0;   // consecutive messaged indices from `first`, at most `requested`
    uint64_t firstType = 0; // what GetInterruptType reported for index 0
};

/// Asks for at least one vector and as many as the gateware needs, then counts what was granted.
InterruptGrant NegotiateInterrupts(const LpcBoardLayout& layout, InterruptController& controller);

/// A short name of a problem, for logs.
const char* InterruptProblemName(InterruptProblem problem);

} // namespace lpc

#endif // LPC_INTERRUPTS_HPP
