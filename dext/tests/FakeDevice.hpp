// A fake lpc::Platform with a fake LitePCIe register file, shared by the GoogleTest suite and the
// libFuzzer target (so it uses no gtest, no exceptions and no RTTI).
//
// The fake models just enough of the gateware for the core's sequences (docs/gateware.md: MSI
// controllers, DMA channel block, descriptor table; docs/linux-driver.md#start-and-stop-sequences): the DMA descriptor tables (table_we pushes in prog mode, table_reset empties
// and clears loop_status), the single-MSI vector/clear pair, the identifier ROM, ctrl_reset and
// ctrl_scratch. It also checks the platform contract: every MMIO in bounds and aligned, no MMIO after
// the core declared the device gone, platform calls made with the core lock held, CompleteAsync made
// without it, no double free, no double completion. Breaches are recorded as "violations" that the
// tests and the fuzzer check.
#ifndef LPC_TESTS_FAKE_DEVICE_HPP
#define LPC_TESTS_FAKE_DEVICE_HPP

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "lpc/Core.hpp"
#include "lpc/LitePcieAbi.h"

namespace lpc_test {

// ---- BAR0 map of LitePCIe's standalone generator (docs/gateware.md#registers, Appendix A.1) ----------
constexpr uint32_t kCtrlReset = 0x0000;
constexpr uint32_t kCtrlScratch = 0x0004;
constexpr uint32_t kCtrlBusErrors = 0x0008;
constexpr uint32_t kMsiEnable = 0x1800;
constexpr uint32_t kMsiClear = 0x1804;  // single MSI only
constexpr uint32_t kMsiVector = 0x1808; // single MSI only
constexpr uint32_t kMsiPba = 0x1808;    // MSI-X only
constexpr uint32_t kMsixTable = 0x2000;
constexpr uint32_t kIdentifierBase = 0x3800;
constexpr uint32_t kDmaBase = 0x4000;
constexpr uint32_t kDmaStride = 0x800;

// Engine registers, relative to the engine (writer at block +0x00, reader at block +0x20).
constexpr uint32_t kRegEnable = 0x00;
constexpr uint32_t kRegTableValue = 0x04; // two words: control|length, then address lsb
constexpr uint32_t kRegTableWe = 0x0C;
constexpr uint32_t kRegLoopProgN = 0x10;
constexpr uint32_t kRegLoopStatus = 0x14;
constexpr uint32_t kRegLevel = 0x18;
constexpr uint32_t kRegTableReset = 0x1C;
constexpr uint32_t kReaderOffset = 0x20;
constexpr uint32_t kLoopbackOffset = 0x40;            // loopback_enable, when the design has it
constexpr uint32_t kSynchronizerBypassOffset = 0x44;  // right after loopback in the ac701 map

constexpr uint32_t kScratchReset = 0x12345678;
constexpr uint64_t kMiB = 1ull << 20;
constexpr uint16_t kVendorId = 0x10EE;
constexpr uint16_t kDeviceId = 0x7024;
constexpr uint8_t kRevision = 0x00;
constexpr uint32_t kClassCode = 0x058000;
constexpr const char* kDefaultIdentifier = "LitePCIe standalone core 2026-11-21 14:35:04";

constexpr uint32_t DmaBlock(uint32_t channel) { return kDmaBase + channel * kDmaStride; }
constexpr uint32_t EngineReg(uint32_t channel, uint32_t dir, uint32_t reg) {
    return DmaBlock(channel) + (dir == kLpcDirReader ? kReaderOffset : 0u) + reg;
}
/// Interrupt numbering of a DMA-only design: sorted names, dma0 reader 0, writer 1, dma1 reader 2, ...
constexpr uint32_t IrqOf(uint32_t channel, uint32_t dir) { return 2 * channel + (dir == kLpcDirWriter ? 1u : 0u); }

/// Knobs of MakeLayout. The defaults are LitePCIe's standalone generator with 2 channels.
struct LayoutOptions {
    uint32_t channelCount = 2;
    bool loopback = true;                // pcie_dmaN_loopback_enable at block +0x40
    uint32_t msiFlavour = kLpcMsiSingle; // LpcMsiFlavour
    uint32_t msixVectors = 32;           // MSI-X: 32 (one enable word) or 64 (two words, big ordering)
    uint32_t dmaAddressWidth = 32;
    uint32_t bufferCount = 256;
    uint32_t bufferSize = 8192;
    uint64_t bar0Size = kMiB;
    uint64_t bar2Size = kMiB;
    bool ctrlReset = true; // false: ctrl_reset = LPC_NO_REGISTER
    std::string identifier = kDefaultIdentifier;
};

LayoutOptions StandaloneOptions();
LayoutOptions NoLoopbackOptions();
LayoutOptions MsiXOptions(uint32_t vectors = 32);
LayoutOptions MultiVectorOptions();
LayoutOptions Dma64Options();

/// Builds a board layout laid out like LitePCIe's standalone generator (docs/gateware.md#maps-from-the-real-generator).
LpcBoardLayout MakeLayout(const LayoutOptions& options = LayoutOptions());

/// The registers the driver owns, listed independently of lpc::validation::IsDriverOwned (an oracle
/// for it): every engine register (both table_value words), loopback_enable, the MSI enable word(s),
/// pcie_msi_clear, the MSI-X table, ctrl_reset.
bool DriverOwnedRegister(const LpcBoardLayout& layout, uint64_t offset);

/// "pcie_dma1_writer_table_we (0x480C)": a BAR0 offset in device terms, for assertion messages.
std::string RegisterName(const LpcBoardLayout& layout, uint64_t offset);

std::string Hex(uint64_t value);

/// One platform call, in the order the core made it.
enum class CallKind : uint8_t {
    MmioRead,
    MmioWrite,
    ConfigRead,
    ConfigWrite,
    AllocateDma,
    FreeDma,
    AllocateShared,
    FreeShared,
    Delay,
    ArmTimer,
    CancelTimer,
    CompleteAsync,
    ResetFunction,
    Log,
};

struct PlatformCall {
    CallKind kind;
    uint32_t bar;    // MMIO: BAR; timers: slot; AllocateDma: maxAddressBits; ResetFunction: type
    uint64_t offset; // MMIO/config: offset; Allocate*: bytes; CompleteAsync: token; Log: index into Logs()
    uint64_t value;  // MMIO/config: value read or written; Delay: µs; ArmTimer: deadline; CompleteAsync: status
};

struct CompletionRecord {
    uint64_t token;
    int32_t status;
    std::vector<uint64_t> args;
};

/// One descriptor pushed into a table (docs/gateware.md#dma-channel-block: table_value words + table_we).
struct PushedDescriptor {
    uint32_t control; // table_value high word: length | irq_disable | last_disable
    uint32_t lsb;     // table_value low word
    uint32_t msb;     // the value written to table_we
};

/// How AllocateDma lays out the bus addresses of the buffers it returns.
struct DmaPlan {
    uint32_t segments = 1;         // ring split into this many equal, non-contiguous segments (0: none)
    bool crossBoundary = false;    // move the first split by half a buffer so a buffer crosses it
    uint64_t shortenBy = 0;        // last segment this many bytes shorter than asked
    uint64_t busBase = 0x10000000; // first bus address (>= 2^32 to test the 32-bit check / 64-bit msb)
    int64_t failAtAllocation = -1; // index (0-based) of the AllocateDma call that returns NO_MEMORY
};

class FakeDevice final : public lpc::Platform {
public:
    explicit FakeDevice(const LpcBoardLayout& layout);
    ~FakeDevice();

    /// Recycle DMA ring memory across FakeDevice instances instead of allocating it afresh (the fuzzer
    /// builds one device per input, with rings of up to 1 MiB each). Recycled rings are not zeroed (the
    /// core never reads ring contents) and stay poisoned for AddressSanitizer while they wait, so a use
    /// after FreeDma is still reported.
    static void RecycleDmaMemory(bool on);
    FakeDevice(const FakeDevice&) = delete;
    FakeDevice& operator=(const FakeDevice&) = delete;

    // ---- lpc::Platform ----
    uint32_t MmioRead32(uint32_t bar, uint64_t offset) override;
    void MmioWrite32(uint32_t bar, uint64_t offset, uint32_t value) override;
    uint32_t ConfigRead32(uint32_t offset) override;
    void ConfigWrite16(uint32_t offset, uint16_t value) override;
    int32_t AllocateDma(uint64_t bytes, uint32_t maxAddressBits, lpc::DmaBuffer* out) override;
    void FreeDma(lpc::DmaBuffer* buffer) override;
    int32_t AllocateShared(uint64_t bytes, lpc::SharedMemory* out) override;
    void FreeShared(lpc::SharedMemory* memory) override;
    void Lock() override;
    void Unlock() override;
    void DelayMicroseconds(uint32_t microseconds) override;
    uint64_t NowNanoseconds() override;
    void ArmTimer(uint32_t slot, uint64_t deadlineNs) override;
    void CancelTimer(uint32_t slot) override;
    void CompleteAsync(uint64_t token, int32_t status, const uint64_t* args, uint32_t count) override;
    int32_t ResetFunction(uint32_t type) override;
    void Log(const char* message) override;

    // ---- device controls ----
    const LpcBoardLayout& Layout() const { return layout_; }
    /// Surprise removal: MMIO and config reads return 0xFFFFFFFF, writes are dropped.
    void SetGone(bool gone);
    void SetMmioGone(bool gone);
    void SetConfigGone(bool gone);
    void SetLoopStatus(uint32_t channel, uint32_t dir, uint32_t value);
    /// Raises bits in pcie_msi_vector (as the gateware would; the core clears them via pcie_msi_clear).
    void RaiseVector(uint32_t bits);
    uint32_t Vector() const;
    /// Register file value without side effects or logging (level/loop_status/identifier modelled).
    uint32_t Reg(uint64_t offset) const;
    void PokeReg(uint64_t offset, uint32_t value);
    uint32_t BarWord(uint32_t bar, uint64_t offset) const;
    void SetIdentifierRom(const std::string& text);
    std::vector<PushedDescriptor> Table(uint32_t channel, uint32_t dir) const;
    uint32_t SocResets() const;
    uint32_t Config(uint32_t offset) const;
    void SetConfig(uint32_t offset, uint32_t value);
    void SetResetFunctionStatus(int32_t status);
    DmaPlan& Plan() { return plan_; }
    /// The DmaBuffer handed out by AllocateDma call #index (segments as the core saw them).
    lpc::DmaBuffer AllocatedBuffer(uint64_t index) const;
    void SetSharedShortBy(uint64_t bytes) { sharedShortBy_ = bytes; }
    void SetSharedFails(bool fails) { sharedFails_ = fails; }

    // ---- time and timers ----
    void SetNow(uint64_t ns) { now_.store(ns); }
    void AdvanceNow(uint64_t ns) { now_.fetch_add(ns); }
    std::map<uint32_t, uint64_t> ArmedTimers() const;

    // ---- the call log ----
    size_t Mark() const;
    std::vector<PlatformCall> Calls() const;
    std::vector<PlatformCall> CallsSince(size_t mark) const;
    std::vector<PlatformCall> MmioSince(size_t mark) const;       // reads and writes
    std::vector<PlatformCall> MmioWritesSince(size_t mark) const; // writes only
    bool WroteSince(size_t mark, uint64_t offset) const;
    size_t CountSince(size_t mark, CallKind kind) const;
    std::string Describe(const PlatformCall& call) const;
    std::string DescribeSince(size_t mark) const;
    std::vector<std::string> Logs() const;

    // ---- completions ----
    std::vector<CompletionRecord> Completions() const;
    size_t CompletionCount() const;
    /// Completions of `token` seen so far.
    uint32_t TimesCompleted(uint64_t token) const;

    // ---- contract checks ----
    std::vector<std::string> Violations() const;
    bool HasViolations() const;
    void ClearViolations();
    bool CoreMarkedGone() const;
    void ForgetGoneMark(); // before re-starting a core on the same fake
    uint64_t LiveDmaBuffers() const;
    uint64_t LiveDmaBytes() const;
    uint64_t LiveSharedBuffers() const;
    uint64_t LocksTaken() const { return locks_.load(); }
    uint64_t Unlocks() const { return unlocks_.load(); }
    bool LockHeldByMe() const { return owner_.load() == std::this_thread::get_id(); }
    bool LockHeld() const { return owner_.load() != std::thread::id(); }
    std::vector<uint16_t> CommandWrites() const;

private:
    enum class Kind : uint8_t {
        Plain,
        Enable,
        TableValueHigh,
        TableValueLow,
        TableWe,
        LoopProgN,
        LoopStatus,
        Level,
        TableReset,
        MsiEnable,
        MsiClear,
        MsiVector,
        CtrlReset,
        ReadOnly,
    };
    struct Decoded {
        Kind kind;
        uint8_t channel;
        uint8_t dir;
    };
    struct Engine {
        std::vector<PushedDescriptor> table;
        uint32_t loopStatus = 0;
    };
    struct Allocation {
        void* cpu;
        uint64_t bytes;
        bool dma;
    };

    void AddViolationLocked(const std::string& what);
    void RequireCoreLockLocked(const char* call);
    bool MmioCheckLocked(const char* call, uint32_t bar, uint64_t offset);
    uint32_t ReadLocked(uint32_t bar, uint64_t offset) const;
    void WriteLocked(uint32_t bar, uint64_t offset, uint32_t value);
    void SocResetLocked();
    Decoded DecodeLocked(uint64_t offset) const;
    void PushLocked(CallKind kind, uint32_t bar, uint64_t offset, uint64_t value);

    LpcBoardLayout layout_;
    mutable std::mutex m_; // guards everything below except the atomics
    std::map<uint64_t, Decoded> decode_;
    std::map<uint64_t, uint32_t> regs_[6];
    Engine engines_[LPC_MAX_CHANNELS][2];
    uint32_t vector_ = 0;
    uint32_t tableDepth_ = 256;
    std::string identifierRom_;
    uint32_t config_[LPC_CONFIG_SPACE_BYTES / 4] = {};
    bool mmioGone_ = false;
    bool configGone_ = false;
    bool coreMarkedGone_ = false;
    uint32_t socResets_ = 0;
    int32_t resetStatus_ = LPC_RETURN_SUCCESS;
    DmaPlan plan_;
    uint64_t sharedShortBy_ = 0;
    bool sharedFails_ = false;
    uint64_t dmaAllocations_ = 0;
    uint64_t nextHandle_ = 1;
    std::map<uint64_t, Allocation> live_;
    std::vector<lpc::DmaBuffer> handedOut_;
    std::vector<PlatformCall> calls_;
    std::vector<std::string> logs_;
    std::vector<CompletionRecord> completions_;
    std::map<uint64_t, uint32_t> completedTokens_;
    std::map<uint32_t, uint64_t> armed_;
    std::vector<std::string> violations_;

    std::mutex coreLock_; // the real, non-recursive core lock
    std::atomic<std::thread::id> owner_{};
    std::atomic<uint32_t> recursion_{0};
    std::atomic<uint64_t> locks_{0};
    std::atomic<uint64_t> unlocks_{0};
    std::atomic<uint64_t> now_{1000000000ull};
};

// ---- calling the core's external methods ---------------------------------------------------------

struct CallResult {
    int32_t status = 0;
    std::vector<uint64_t> out;         // scalar outputs (sized to the method's shape)
    std::vector<uint8_t> structOut;    // struct output buffer (sized to the method's shape)
    uint64_t structOutputSize = 0;
    uint32_t tokenTaken = 0;
    uint64_t token = 0;

    uint64_t Out(size_t i = 0) const { return i < out.size() ? out[i] : ~0ull; }
    template <typename T> T As() const {
        T t{};
        std::memcpy(&t, structOut.data(), structOut.size() < sizeof t ? structOut.size() : sizeof t);
        return t;
    }
};

/// Calls `selector` with exactly the argument shape its dispatch entry wants (scalar-out count,
/// struct-out size, completion when required). `token` 0 picks a fresh one.
CallResult Invoke(lpc::Core& core, uint32_t client, uint64_t selector, const std::vector<uint64_t>& in, uint64_t token = 0);

/// A fake device, its layout and a core, started and opened on request.
struct Rig {
    explicit Rig(const LayoutOptions& options = LayoutOptions());
    explicit Rig(const LpcBoardLayout& layout);

    LpcBoardLayout layout;
    FakeDevice dev;
    lpc::Core core;
    uint32_t client = 0;

    int32_t Start() { return core.Start(layout); }
    int32_t Open() { return core.OpenClient(0, &client); }
    /// Start + OpenClient; true when both succeeded.
    bool Up() { return Start() == LPC_RETURN_SUCCESS && Open() == LPC_RETURN_SUCCESS; }

    CallResult Call(uint64_t selector, const std::vector<uint64_t>& in, uint64_t token = 0) {
        return Invoke(core, client, selector, in, token);
    }
    LpcInfo Info();
    LpcErrorInfo LastError();
    LpcDirStatus DirStatus(uint32_t channel, uint32_t dir);
    /// The status page (valid between Start and Stop).
    const LpcStatusHeader* Header();
    const LpcDirStatus* StatusOf(uint32_t channel, uint32_t dir);
    int32_t DmaStart(uint32_t channel, uint32_t dir, uint64_t irqEvery = 32, uint64_t flags = 0) {
        return Call(kLpcDmaStart, {channel, dir, irqEvery, flags}).status;
    }
    int32_t DmaStop(uint32_t channel, uint32_t dir) { return Call(kLpcDmaStop, {channel, dir}).status; }
    /// Stop() the core, then report every contract breach ("" when clean): platform violations, DMA
    /// buffers or shared memory still live, the core lock still held or unbalanced.
    std::string Finish();
    /// Sets loop_status so that the hardware count becomes `hw` (single wrap period), raises the
    /// source's vector bit and delivers a single-MSI interrupt.
    void InterruptWithCount(uint32_t channel, uint32_t dir, uint64_t hw);
};

/// loop_status whose count*N + index is `hw` modulo 2^16*N.
uint32_t LoopStatusFor(uint64_t hw, uint32_t ringSize);

} // namespace lpc_test

#endif // LPC_TESTS_FAKE_DEVICE_HPP
