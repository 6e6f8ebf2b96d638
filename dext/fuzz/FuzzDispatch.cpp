// libFuzzer target: the core's client-facing surface (external methods, client open/close) mixed with
// device events (interrupts, loop_status/vector changes, timers, power, removal) against the fake
// LitePCIe device. Built with -fsanitize=fuzzer,address,undefined; see fuzz/run.sh.
//
// Input format (every read past the end yields zeros, so any byte string is a valid input):
//   byte 0      layout: bits 1:0 variant (0 standalone 2-channel, 1 no-loopback, 2 MSI-X 64 vectors +
//               64-bit DMA, 3 multi-vector MSI), bits 3:2 bufferCount {4, 16, 64, 256}, bit 4 bufferSize 4096 (else 64),
//               bits 6:5 segments per ring {1, 2, 4, 1}, bit 7 rings above 4 GiB (64-bit variant only)
//   then ops    one byte each (op % 16) followed by its operands, until the input is exhausted.
//
// Invariants (a breach prints why and calls __builtin_trap):
//   * no MMIO misaligned, outside a BAR or to an unimplemented BAR; no MMIO (nor config write) after
//     the core declared the device gone; platform calls made with the core lock held (FakeDevice);
//   * CompleteAsync never with the core lock held; no token completed twice (FakeDevice);
//   * every token the core took (asyncTokenTaken == 1) is completed exactly once by the end of Stop,
//     and no token it did not take is ever completed;
//   * the core lock is free and Lock/Unlock balanced after every entry point;
//   * all DMA rings and the status page freed after Stop;
//   * a raw CsrWrite32 that succeeded never targeted a driver-owned register (IsDriverOwned, and the
//     fake's independent list DriverOwnedRegister);
//   * DMA rings are freed only after bus mastering was cleared (FakeDevice);
//   * structOutputSize never exceeds the capacity the caller gave; a token is only taken with a completion.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "FakeDevice.hpp"
#include "lpc/Core.hpp"
#include "lpc/Validation.hpp"

namespace {

using namespace lpc_test;

constexpr size_t kMaxOps = 192;

/// LPC_FUZZ_TRACE=1 prints every external method call and its status (to triage a reproducer).
bool Tracing() {
    static const bool on = std::getenv("LPC_FUZZ_TRACE") != nullptr;
    return on;
}

class Input {
public:
    Input(const uint8_t* data, size_t size) : p_(data), n_(size) {}
    bool More() const { return i_ < n_; }
    uint8_t U8() { return i_ < n_ ? p_[i_++] : 0; }
    uint16_t U16() { return static_cast<uint16_t>(U8() | (U8() << 8)); }
    uint32_t U32() { return static_cast<uint32_t>(U16()) | (static_cast<uint32_t>(U16()) << 16); }
    uint64_t U64() { return static_cast<uint64_t>(U32()) | (static_cast<uint64_t>(U32()) << 32); }
    void Bytes(uint8_t* out, size_t count) {
        for (size_t k = 0; k < count; ++k) {
            out[k] = U8();
        }
    }

private:
    const uint8_t* p_;
    size_t n_;
    size_t i_ = 0;
};

[[noreturn]] void Breach(const std::string& why) {
    std::fprintf(stderr, "\n*** lpc_fuzz_dispatch invariant breached: %s\n", why.c_str());
    std::fflush(stderr);
    __builtin_trap();
}

LayoutOptions LayoutFor(uint8_t b, DmaPlan* plan) {
    LayoutOptions o;
    switch (b & 3u) {
    case 1: o = NoLoopbackOptions(); break;
    case 2:
        o = MsiXOptions(64);
        o.dmaAddressWidth = 64;
        break;
    case 3: o = MultiVectorOptions(); break;
    default: break;
    }
    static const uint32_t counts[4] = {4, 16, 64, 256};
    static const uint32_t segments[4] = {1, 2, 4, 1};
    o.bufferCount = counts[(b >> 2) & 3u];
    o.bufferSize = (b & 0x10u) != 0 ? 4096 : 64;
    plan->segments = segments[(b >> 5) & 3u];
    if ((b & 0x80u) != 0 && o.dmaAddressWidth == 64) {
        plan->busBase = 0x7FFF00000000ull;
    }
    return o;
}

/// Values a fuzzer would take long to find: boundaries, and every register of the layout.
std::vector<uint64_t> Interesting(const LpcBoardLayout& l) {
    std::vector<uint64_t> v = {0,          1,          2,          3,           4,           32,          128,
                               129,        256,        257,        4095,        4096,        60000,       60001,
                               0xFFC,      0x1000,     0xFFFFC,    0xFFFFD,     0x100000,    0xFFFFFFFFull, 0x100000000ull,
                               1ull << 62, (1ull << 62) + 1,       UINT64_MAX,  UINT64_MAX - 3,
                               kCtrlReset, kCtrlScratch, kCtrlBusErrors, kMsiEnable, kMsiEnable + 4, kMsiClear, kMsiVector,
                               kMsixTable, kMsixTable + 64 * 16 - 4, kMsixTable + 64 * 16, kIdentifierBase};
    for (uint32_t c = 0; c < 2; ++c) {
        for (uint32_t d = 0; d < 2; ++d) {
            for (uint32_t reg : {kRegEnable, kRegTableValue, kRegTableValue + 4, kRegTableWe, kRegLoopProgN, kRegLoopStatus, kRegLevel, kRegTableReset}) {
                v.push_back(EngineReg(c, d, reg));
            }
        }
        v.push_back(DmaBlock(c) + kLoopbackOffset);
        v.push_back(DmaBlock(c) + kSynchronizerBypassOffset);
    }
    v.push_back(l.barSizes[0] - 4);
    return v;
}

class Session {
public:
    Session(const uint8_t* data, size_t size) : in_(data + 1, size - 1) {
        DmaPlan plan;
        const LayoutOptions o = LayoutFor(data[0], &plan);
        rig_.reset(new Rig(o));
        rig_->dev.Plan() = plan;
        interesting_ = Interesting(rig_->layout);
    }

    void Run() {
        Rig& r = *rig_;
        if (r.Start() != LPC_RETURN_SUCCESS) {
            Breach("Start failed on a valid layout");
        }
        if (r.Open() == LPC_RETURN_SUCCESS) {
            client_ = r.client;
        }
        for (size_t ops = 0; in_.More() && ops < kMaxOps; ++ops) {
            Step();
            CheckQuiescent("after an operation");
        }
        const std::string report = r.Finish();
        if (!report.empty()) {
            Breach(report);
        }
        for (const CompletionRecord& c : r.dev.Completions()) {
            if (taken_.count(c.token) == 0) {
                Breach("token " + std::to_string(c.token) + " completed but the core never took it");
            }
        }
        if (Tracing()) {
            std::fprintf(stderr, "done: %zu tokens taken, %zu completions, %zu platform calls\n", taken_.size(), r.dev.Completions().size(),
                         r.dev.Calls().size());
        }
        for (uint64_t t : taken_) {
            if (r.dev.TimesCompleted(t) != 1) {
                Breach("token " + std::to_string(t) + " taken by the core but completed " + std::to_string(r.dev.TimesCompleted(t)) +
                       " times by the end of Stop");
            }
        }
    }

private:
    uint64_t Value() {
        const uint8_t b = in_.U8();
        if (b < 0x40) {
            return b;
        }
        if (b < 0x80) {
            return interesting_[(b - 0x40u) % interesting_.size()];
        }
        if (b < 0xC0) {
            return uint64_t{in_.U16()} * 4u;
        }
        return in_.U64();
    }

    void CheckQuiescent(const char* when) {
        FakeDevice& d = rig_->dev;
        if (d.LockHeld()) {
            Breach(std::string("core lock still held ") + when);
        }
        if (d.LocksTaken() != d.Unlocks()) {
            Breach(std::string("Lock/Unlock unbalanced ") + when);
        }
        if (d.HasViolations()) {
            Breach(d.Violations().front());
        }
    }

    void Method() {
        Rig& r = *rig_;
        const uint8_t s = in_.U8();
        const uint64_t selector = s < 0xF0 ? s % 16u : in_.U64();
        const uint8_t mode = in_.U8();
        lpc::validation::MethodShape shape{0, 0, 0, 0, 0};
        if (selector < kLpcMethodCount) {
            shape = lpc::validation::Shape(static_cast<uint32_t>(selector));
        }
        if ((mode & 3u) == 0) { // arbitrary shape
            shape.scalarIn = in_.U8() % 17u;
            shape.structIn = in_.U16() % 1025u;
            shape.scalarOut = in_.U8() % 17u;
            shape.structOut = (mode & 0x10u) != 0 ? shape.structOut : in_.U16() % 1025u;
            shape.completion = (mode >> 2) & 1u;
        }
        std::vector<uint64_t> scalars(shape.scalarIn);
        for (uint64_t& v : scalars) {
            v = Value();
        }
        std::vector<uint8_t> structIn(shape.structIn);
        in_.Bytes(structIn.data(), structIn.size());
        std::vector<uint64_t> scalarOut(shape.scalarOut, 0xA5A5A5A5A5A5A5A5ull);
        std::vector<uint8_t> structOut(shape.structOut, 0xA5);
        lpc::MethodArgs a;
        a.scalarInput = scalars.empty() ? nullptr : scalars.data();
        a.scalarInputCount = shape.scalarIn;
        a.structInput = structIn.empty() ? nullptr : structIn.data();
        a.structInputSize = shape.structIn;
        a.scalarOutput = scalarOut.empty() ? nullptr : scalarOut.data();
        a.scalarOutputCount = shape.scalarOut;
        a.structOutput = structOut.empty() ? nullptr : structOut.data();
        a.structOutputCapacity = shape.structOut;
        a.hasCompletion = shape.completion;
        a.asyncToken = nextToken_++;
        a.asyncTokenTaken = 7; // the core must reset it
        const uint32_t client = (mode & 0x40u) != 0 ? client_ + (mode >> 7) : client_;
        const int32_t status = r.core.ExternalMethod(client, selector, a);
        if (Tracing()) {
            std::fprintf(stderr, "method %llu in[%u]={%s} -> 0x%08X taken=%u\n", static_cast<unsigned long long>(selector), a.scalarInputCount,
                         [&] {
                             std::string t;
                             for (uint64_t v : scalars) {
                                 t += (t.empty() ? "" : ",") + Hex(v);
                             }
                             return t;
                         }().c_str(),
                         static_cast<uint32_t>(status), a.asyncTokenTaken);
        }
        if (a.asyncTokenTaken > 1) {
            Breach("asyncTokenTaken not reset by ExternalMethod");
        }
        if (a.asyncTokenTaken == 1) {
            if (a.hasCompletion == 0) {
                Breach("the core took a token from a call without a completion");
            }
            taken_.insert(a.asyncToken);
        }
        if (a.structOutputSize > a.structOutputCapacity) {
            Breach("structOutputSize " + std::to_string(a.structOutputSize) + " exceeds the capacity " + std::to_string(a.structOutputCapacity));
        }
        if (selector == kLpcCsrWrite32 && status == LPC_RETURN_SUCCESS && a.scalarInputCount >= 1 &&
            (lpc::validation::IsDriverOwned(r.layout, a.scalarInput[0]) || DriverOwnedRegister(r.layout, a.scalarInput[0]))) {
            Breach("a raw CsrWrite32 to driver-owned " + RegisterName(r.layout, a.scalarInput[0]) + " succeeded");
        }
    }

    /// Advance a direction's loop_status by a small step and signal it, as the gateware would.
    void Progress() {
        Rig& r = *rig_;
        const uint8_t b = in_.U8();
        const uint32_t c = (b & 1u) % r.layout.channelCount;
        const uint32_t d = (b >> 1) & 1u;
        uint64_t& hw = model_[c][d];
        hw += (b >> 2) + 1u;
        r.dev.SetLoopStatus(c, d, LoopStatusFor(hw, r.layout.bufferCount));
        const uint32_t irq = d == kLpcDirWriter ? r.layout.channels[c].writerIrq : r.layout.channels[c].readerIrq;
        if (r.layout.msiFlavour == kLpcMsiSingle) {
            r.dev.RaiseVector(1u << irq);
            r.core.Interrupt(0, r.dev.NowNanoseconds());
        } else if (vectors_ == 0 || irq < vectors_) {
            r.core.Interrupt(irq, r.dev.NowNanoseconds());
        } else if (r.layout.msiFlavour == kLpcMsiMultiVector) {
            r.core.Interrupt(irq % vectors_, r.dev.NowNanoseconds()); // the function modifies only the low bits
        } // MSI-X: a table entry beyond the grant is masked; the message is never sent
    }

    void Step() {
        Rig& r = *rig_;
        const uint8_t op = in_.U8() % 16u;
        switch (op) {
        case 0: { // open client
            const uint8_t t = in_.U8();
            uint32_t id = 0;
            if (r.core.OpenClient((t & 0x80u) != 0 ? t & 0x7Fu : 0u, &id) == LPC_RETURN_SUCCESS) {
                client_ = id;
            }
            break;
        }
        case 1: { // close client (the current one, a stale/unknown one, or 0)
            const uint8_t t = in_.U8();
            r.core.CloseClient(t < 0xC0 ? client_ : t < 0xE0 ? client_ + 1 : 0u);
            break;
        }
        case 2:
        case 3:
        case 4:
        case 5:
        case 6: Method(); break;
        case 7: { // interrupt with an arbitrary vector
            const uint8_t v = in_.U8();
            r.core.Interrupt(v < 0xF0 ? v % 70u : in_.U32(), r.dev.NowNanoseconds());
            break;
        }
        case 8: { // arbitrary loop_status
            const uint8_t b = in_.U8();
            r.dev.SetLoopStatus((b & 0x0Fu) % LPC_MAX_CHANNELS, (b >> 4) & 1u, (b & 0x20u) != 0 ? in_.U32() : uint32_t{in_.U16()});
            break;
        }
        case 9: { // raise pcie_msi_vector bits
            const uint8_t b = in_.U8();
            r.dev.RaiseVector(b < 0xE0 ? 1u << (b % 32u) : in_.U32());
            break;
        }
        case 10: { // timer on an arbitrary slot
            const uint8_t b = in_.U8();
            r.core.TimerFired(b < 0xF0 ? b % 40u : in_.U32());
            break;
        }
        case 11: { // power; or (rarer) the platform's interrupt grant
            const uint8_t b = in_.U8();
            if ((b & 0xC0u) == 0xC0u) {
                vectors_ = (b >> 1) & 0x1Fu; // 0 = every vector the layout needs
                r.core.SetInterruptVectors(vectors_);
            } else {
                r.core.SetPowerState((b & 1u) != 0);
            }
            break;
        }
        case 12:
            if ((in_.U8() & 7u) == 0) { // rarer: the rest of the input then only sees OFFLINE
                r.core.DeviceRemoved();
            }
            break;
        case 13: { // the fake's gone switches
            const uint8_t b = in_.U8();
            const bool gone = (b & 1u) != 0;
            switch ((b >> 1) % 3u) {
            case 0: r.dev.SetGone(gone); break;
            case 1: r.dev.SetMmioGone(gone); break;
            default: r.dev.SetConfigGone(gone); break;
            }
            break;
        }
        case 14: { // time passes; the client maps memory
            r.dev.AdvanceNow(uint64_t{in_.U16()} * 1000000u);
            void* cpu = nullptr;
            uint64_t length = 0;
            uint32_t readOnly = 0;
            void* handle = nullptr;
            const uint16_t type = in_.U16();
            if (r.core.CopyClientMemory(client_, type, &cpu, &length, &readOnly, &handle) == LPC_RETURN_SUCCESS) {
                if (cpu == nullptr || length == 0) {
                    Breach("CopyClientMemory succeeded without memory");
                }
                volatile uint8_t last = static_cast<const uint8_t*>(cpu)[length - 1]; // the whole range must be mapped
                (void)last;
            }
            break;
        }
        default: Progress(); break;
        }
    }

    Input in_;
    std::unique_ptr<Rig> rig_;
    std::vector<uint64_t> interesting_;
    std::set<uint64_t> taken_;
    uint64_t nextToken_ = 1;
    uint32_t client_ = 0;
    uint32_t vectors_ = 0; // interrupt vectors granted (0 = all)
    uint64_t model_[2][2] = {};
};

} // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
    (void)argc;
    (void)argv;
    // One device per input with up to four 1 MiB rings: fresh allocations (and their page faults)
    // were most of the per-input setup. The rings are recycled, poisoned while they wait.
    FakeDevice::RecycleDmaMemory(true);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) {
        return 0;
    }
    Session s(data, size);
    s.Run();
    return 0;
}
