// LitePcie.Hil RTL engine: the Verilator model of one board's LitePCIe RTL, a root-complex TLP model on its PHY
// streams, the hard IP's MSI port and configuration inputs, and the board's user logic (SequencePattern writer
// source, discarding reader sink, the user memory behind the mmap AXI-Lite port). Compiled once per board with the
// board's facts as macros (rtl/host/CMakeLists.txt reads them from rtl/boards/<board>/rtl.json).
//
// Stream conventions (measured on the RTL, see docs/rtl.md): DW i of a TLP travels in bits 32*(i mod n) of beat
// i / n (n = data width / 32); header DWs are in natural order; payload DWs are byte-swapped on big-endian PHYs
// (7-Series) and natural on little-endian ones (UltraScale), so that payload byte k is host memory byte k.

#include "lpc_rtl.h"

#include "Vlitepcie_core.h"
#include "verilated.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <new>
#include <vector>

#ifndef LPC_RTL_BOARD
#error "LPC_RTL_BOARD must be defined by the build"
#endif

namespace {

constexpr int kDataWidth = LPC_RTL_DATA_WIDTH;
constexpr int kDwPerBeat = kDataWidth / 32;
constexpr bool kBigEndian = LPC_RTL_BIG_ENDIAN != 0;
constexpr uint16_t kRootId = 0x0000;
constexpr uint64_t kInterruptWindow = 0xFEE00000ull;
constexpr uint32_t kResetCycles = 32;

inline uint32_t Swap(uint32_t v) { return __builtin_bswap32(v); }
// Payload DW on the stream <-> the 32-bit little-endian value of the 4 host memory bytes.
inline uint32_t PayloadToMemory(uint32_t dw) { return kBigEndian ? Swap(dw) : dw; }
inline uint32_t MemoryToPayload(uint32_t v) { return kBigEndian ? Swap(v) : v; }

// ---- width-generic port access ----
inline void Put(QData& port, const uint32_t* dw) { port = static_cast<uint64_t>(dw[0]) | (static_cast<uint64_t>(dw[1]) << 32); }
template <std::size_t N> inline void Put(VlWide<N>& port, const uint32_t* dw) {
    for (std::size_t i = 0; i < N; ++i) port[i] = dw[i];
}
inline void Get(const QData& port, uint32_t* dw) {
    dw[0] = static_cast<uint32_t>(port);
    dw[1] = static_cast<uint32_t>(port >> 32);
}
template <std::size_t N> inline void Get(const VlWide<N>& port, uint32_t* dw) {
    for (std::size_t i = 0; i < N; ++i) dw[i] = port[i];
}

struct Tlp {
    std::vector<uint32_t> dws;  // wire form (header natural, payload as it travels)
    uint64_t due = 0;           // cycle from which it may be sent
};

// xorshift64* as SequencePattern (framework/LitePcie.Hil/Dma/SequencePattern.cs).
struct PatternSource {
    std::vector<uint64_t> prbs;
    uint64_t sequence = 0;
    size_t word = 0;
    void Init(uint32_t bufferSize, uint64_t seed) {
        prbs.assign(bufferSize / 8, 0);
        uint64_t x = seed == 0 ? 0x2545F4914F6CDD1Dull : seed;
        for (auto& p : prbs) {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            p = x * 0x2545F4914F6CDD1Dull;
        }
        Restart();
    }
    void Restart() { sequence = 0; word = 0; }
    uint64_t Peek(size_t ahead, bool* lastOfBuffer) const {
        size_t w = word + ahead;
        uint64_t s = sequence + w / prbs.size();
        w %= prbs.size();
        *lastOfBuffer = w == prbs.size() - 1;
        return prbs[w] ^ (s * 0x9E3779B97F4A7C15ull);
    }
    void Advance(size_t words) {
        word += words;
        sequence += word / prbs.size();
        word %= prbs.size();
    }
};

class Host {
public:
    Host(const lpc_rtl_callbacks& cb, const lpc_rtl_options& opt) : cb_(cb), opt_(opt) {
        // LITEPCIE_HIL_RTL_TRACE=<n>: print the first n TLPs each way on stderr (debugging the root complex).
        if (const char* t = std::getenv("LITEPCIE_HIL_RTL_TRACE")) trace_ = std::strtoull(t, nullptr, 10);
        if (opt_.mmio_timeout == 0) opt_.mmio_timeout = 8u << 20;
        if (opt_.user_writer_pattern != 0 && opt_.user_buffer_size >= 8) {
            for (auto& p : patterns_) p.Init(opt_.user_buffer_size, opt_.user_seed);
        }
#if LPC_RTL_MMAP
        mmap_.assign(LPC_RTL_MMAP_SIZE / 4, 0);
#endif
        PowerOn();
    }

    ~Host() { Teardown(); }

    void Configure(const lpc_rtl_config& c) { cfg_ = c; ApplyConfig(); }

    void PowerOn() {
        Teardown();
        ctx_ = std::make_unique<VerilatedContext>();
        ctx_->threads(LPC_RTL_THREADS);
        top_ = std::make_unique<Vlitepcie_core>(ctx_.get(), "litepcie_core");
        ClearRx();
        pendingReads_.clear();
        mmioDone_ = false;
#if LPC_RTL_MMAP
        std::fill(mmap_.begin(), mmap_.end(), 0u);
#endif
        ApplyConfig();
        Reset();
    }

    void Reset() {
        // The PHY's user reset: the whole sys domain resets (block RAM keeps its contents).
        SetReset(true);
        for (uint32_t i = 0; i < kResetCycles; ++i) Tick();
        SetReset(false);
        for (uint32_t i = 0; i < kResetCycles; ++i) Tick();  // the endpoint fills its tag queue
        ClearRx();
        pendingReads_.clear();
        for (auto& p : patterns_) p.Restart();
    }

    // Host -> device TLPs: requests (MMIO) and completions travel on separate streams on PHYs that split them.
    std::deque<Tlp>& RxRequests() { return rx_; }
#if LPC_RTL_SPLIT_STREAMS
    std::deque<Tlp>& RxCompletions() { return rxCmp_; }
#else
    std::deque<Tlp>& RxCompletions() { return rx_; }
#endif

    int32_t MmioRead(uint64_t offset, uint32_t* value) {
        const uint8_t tag = nextTag_++;
        Tlp t;
        t.dws = {0x00000001u, (static_cast<uint32_t>(kRootId) << 16) | (static_cast<uint32_t>(tag) << 8) | 0x0Fu,
                 static_cast<uint32_t>((cfg_.bar0 + offset) & ~3ull)};
        rx_.push_back(std::move(t));
        ++stats_.rx_tlps;
        mmioTag_ = tag;
        mmioDone_ = false;
        for (uint32_t waited = 0; waited < opt_.mmio_timeout; ++waited) {
            Tick();
            if (mmioDone_) {
                *value = mmioValue_;
                return mmioStatus_;
            }
        }
        ++stats_.mmio_timeouts;
        *value = 0xFFFFFFFFu;
        return 2;
    }

    void MmioWrite(uint64_t offset, uint32_t value) {
        if (trace_ > 0) {
            --trace_;
            std::fprintf(stderr, "[%llu] host MWr 0x%llx = 0x%08x\n", static_cast<unsigned long long>(stats_.cycles), static_cast<unsigned long long>(offset), value);
        }
        Tlp t;
        t.dws = {0x40000001u, (static_cast<uint32_t>(kRootId) << 16) | 0x0Fu, static_cast<uint32_t>((cfg_.bar0 + offset) & ~3ull),
                 MemoryToPayload(value)};
        rx_.push_back(std::move(t));
        ++stats_.rx_tlps;
        // Posted: the write is on its way; it reaches the core within a few cycles (run them, so that a register
        // read right after sees it as on real hardware where the read is ordered behind the write).
        for (int i = 0; i < 4 && !RxIdle(); ++i) Tick();
    }

    uint64_t Run(uint64_t cycles, bool stopWhenIdle, uint32_t idleCycles, uint32_t* activity) {
        // Activity is TLP traffic (user-stream beats alone do not count: a user source the synchronizer drops flows forever).
        uint64_t quiet = 0, done = 0, moved = 0;
        for (; done < cycles; ++done) {
            const uint64_t before = stats_.tx_tlps + stats_.rx_tlps;
            Tick();
            const uint64_t after = stats_.tx_tlps + stats_.rx_tlps;
            if (after != before || !RxIdle() || !pendingReads_.empty()) {
                quiet = 0;
                moved += after - before;
            } else if (stopWhenIdle && ++quiet >= idleCycles) {
                ++done;
                break;
            }
        }
        if (activity != nullptr) *activity = moved > 0 ? 1u : 0u;
        return done;
    }

    uint32_t TakeMessages(lpc_rtl_message* out, uint32_t capacity) {
        uint32_t n = 0;
        while (n < capacity && !messages_.empty()) {
            out[n++] = messages_.front();
            messages_.pop_front();
        }
        return n;
    }

    const lpc_rtl_stats& Stats() const { return stats_; }

private:
    void Teardown() {
        if (top_) top_->final();
        top_.reset();
        ctx_.reset();
    }

    void ApplyConfig() {
        if (!top_) return;
        top_->cfg_id = cfg_.id;
        top_->cfg_max_payload_size = cfg_.mps_code & 7u;
        top_->cfg_max_request_size = cfg_.mrrs_code & 7u;
        top_->cfg_bus_master_enable = cfg_.bus_master & 1u;
        top_->cfg_msi_enable = cfg_.msi_enable & 1u;
        top_->cfg_msix_enable = cfg_.msix_enable & 1u;
        top_->cfg_link_status = cfg_.link_status;
    }

    void SetReset(bool on) {
#if LPC_RTL_STANDALONE
        top_->pcie_rst_n = on ? 0 : 1;
#else
        top_->sys_rst = on ? 1 : 0;
#endif
    }

    void SetClock(int v) {
#if LPC_RTL_STANDALONE
        top_->pcie_clk_p = static_cast<CData>(v);
        top_->pcie_clk_n = static_cast<CData>(!v);
#else
        top_->sys_clk = static_cast<CData>(v);
#endif
    }

    int Mps() const { return 128 << std::min<int>(cfg_.mps_code & 7, 2); }

    // ---- one clock cycle ----
    void ClearRx() {
        rx_.clear();
        rxBeat_ = 0;
        rxCmp_.clear();
        rxCmpBeat_ = 0;
    }

    bool RxIdle() const { return rx_.empty() && rxCmp_.empty(); }

    void Tick() {
#if LPC_RTL_SPLIT_STREAMS
        DriveRx(rx_, rxBeat_, top_->phy_cq_valid, top_->phy_cq_dat, top_->phy_cq_be, top_->phy_cq_first, top_->phy_cq_last);
        DriveRx(rxCmp_, rxCmpBeat_, top_->phy_rc_valid, top_->phy_rc_dat, top_->phy_rc_be, top_->phy_rc_first, top_->phy_rc_last);
        top_->phy_rq_ready = 1;
        top_->phy_cc_ready = 1;
#else
        DriveRx(rx_, rxBeat_, top_->phy_rx_valid, top_->phy_rx_dat, top_->phy_rx_be, top_->phy_rx_first, top_->phy_rx_last);
        top_->phy_tx_ready = 1;
#endif
        top_->phy_msi_ready = 1;
        DriveUser();
        DriveMmap();
        SetClock(0);
        top_->eval();

        // Handshakes that complete on this rising edge.
#if LPC_RTL_SPLIT_STREAMS
        const bool rxTaken = top_->phy_cq_valid && top_->phy_cq_ready;
        const bool rxCmpTaken = top_->phy_rc_valid && top_->phy_rc_ready;
        TxBeat req = SampleTx(top_->phy_rq_valid, top_->phy_rq_dat, top_->phy_rq_be, top_->phy_rq_last);
        TxBeat cmp = SampleTx(top_->phy_cc_valid, top_->phy_cc_dat, top_->phy_cc_be, top_->phy_cc_last);
#else
        const bool rxTaken = top_->phy_rx_valid && top_->phy_rx_ready;
        const bool rxCmpTaken = false;
        TxBeat req = SampleTx(top_->phy_tx_valid, top_->phy_tx_dat, top_->phy_tx_be, top_->phy_tx_last);
        TxBeat cmp{};
#endif
        const bool msi = top_->phy_msi_valid != 0;
        const uint32_t msiDat = top_->phy_msi_dat;
        SampleUser();
        SampleMmap();

        SetClock(1);
        top_->eval();
        ++stats_.cycles;
        ctx_->timeInc(1);

        if (rxTaken) Advance(rx_, rxBeat_);
        if (rxCmpTaken) Advance(rxCmp_, rxCmpBeat_);
        Collect(req, txTlp_, txOverflow_);
        Collect(cmp, txCmpTlp_, txCmpOverflow_);
        if (msi) {
            Message(LPC_RTL_MSG_PHY_MSI, msiDat, 0, 0);
        }
        ServeReads();
    }

    struct TxBeat {
        bool valid = false;
        bool last = false;
        uint32_t be = 0;
        uint32_t dw[kDwPerBeat] = {};
    };

    template <typename Dat, typename Be>
    TxBeat SampleTx(CData valid, const Dat& dat, const Be& be, CData last) {
        TxBeat b;
        b.valid = valid != 0;
        if (b.valid) {
            Get(dat, b.dw);
            b.be = static_cast<uint32_t>(be);
            b.last = last != 0;
        }
        return b;
    }

    static void Advance(std::deque<Tlp>& q, size_t& beat) {
        if (++beat * static_cast<size_t>(kDwPerBeat) >= q.front().dws.size()) {
            q.pop_front();
            beat = 0;
        }
    }

    void Collect(const TxBeat& b, std::vector<uint32_t>& tlp, bool& overflow) {
        if (!b.valid) return;
        for (int i = 0; i < kDwPerBeat; ++i) {
            if (((b.be >> (4 * i)) & 0xFu) != 0) tlp.push_back(b.dw[i]);
        }
        if (tlp.size() > kMaxTlpDws) {
            // A TLP longer than any Length field can say (a descriptor of length 0 makes the writer send ~16 M
            // beats): keep what decodes the header, count the rest; the root port drops it as malformed.
            overflow = true;
            tlp.resize(8);
        }
        if (b.last) {
            if (overflow) {
                ++stats_.tx_tlps;
                ++stats_.malformed_tlps;
            } else {
                OnDeviceTlp(tlp);
            }
            tlp.clear();
            overflow = false;
        }
    }

    template <typename Dat, typename Be>
    void DriveRx(const std::deque<Tlp>& q, size_t beat, CData& valid, Dat& dat, Be& be, CData& first, CData& last) {
        if (q.empty() || q.front().due > stats_.cycles) {
            valid = 0;
            return;
        }
        const Tlp& t = q.front();
        uint32_t dw[kDwPerBeat];
        uint32_t b = 0;
        const size_t base = beat * static_cast<size_t>(kDwPerBeat);
        for (int i = 0; i < kDwPerBeat; ++i) {
            const size_t k = base + static_cast<size_t>(i);
            dw[i] = k < t.dws.size() ? t.dws[k] : 0u;
            if (k < t.dws.size()) b |= 0xFu << (4 * i);
        }
        Put(dat, dw);
        be = static_cast<Be>(b);
        valid = 1;
        first = beat == 0;
        last = base + static_cast<size_t>(kDwPerBeat) >= t.dws.size();
    }

    void Message(uint32_t kind, uint32_t vector, uint64_t address, uint32_t data) {
        lpc_rtl_message m{};
        m.kind = kind;
        m.vector = vector;
        m.address = address;
        m.data = data;
        m.cycle = stats_.cycles;
        messages_.push_back(m);
        ++stats_.messages;
    }

    // ---- the root complex: what the device sends ----
    void OnDeviceTlp(const std::vector<uint32_t>& d) {
        ++stats_.tx_tlps;
        if (trace_ > 0 && d.size() >= 3) {
            --trace_;
            std::fprintf(stderr, "[%llu] device TLP dw0=%08x dw1=%08x dw2=%08x dw3=%08x (%zu DWs)\n", static_cast<unsigned long long>(stats_.cycles),
                         d[0], d[1], d[2], d.size() > 3 ? d[3] : 0u, d.size());
        }
        if (d.size() < 3) {
            ++stats_.unexpected_tlps;
            return;
        }
        const uint32_t fmt = (d[0] >> 29) & 3u, type = (d[0] >> 24) & 0x1Fu;
        uint32_t len = d[0] & 0x3FFu;
        if (len == 0) len = 1024;
        if (type == 0x00) {  // memory request
            const bool four = (fmt & 1u) != 0;
            if (four) ++stats_.four_dw_requests;
            if (four && d.size() < 4) {
                ++stats_.unexpected_tlps;
                return;
            }
            const uint64_t address = four ? ((static_cast<uint64_t>(d[2]) << 32) | (d[3] & ~3u)) : (d[2] & ~3u);
            const size_t header = four ? 4 : 3;
            if (cfg_.bus_master == 0) ++stats_.bus_master_violations;
            if ((address & 0xFFFu) + static_cast<uint64_t>(len) * 4 > 0x1000u) ++stats_.crossing_4k;
            if ((fmt & 2u) != 0) {
                OnMemoryWrite(address, d, header, len);
            } else {
                OnMemoryRead(address, d[1], len);
            }
            return;
        }
        if (type == 0x0A) {  // completion for one of our MMIO reads
            const uint8_t tag = static_cast<uint8_t>((d[2] >> 8) & 0xFFu);
            const uint32_t status = (d[1] >> 13) & 7u;
            if (tag != mmioTag_ || mmioDone_) {
                ++stats_.unexpected_tlps;
                return;
            }
            mmioDone_ = true;
            if (fmt == 2 && status == 0 && d.size() >= 4) {
                mmioValue_ = PayloadToMemory(d[3]);
                mmioStatus_ = 0;
            } else {
                mmioValue_ = 0xFFFFFFFFu;
                mmioStatus_ = 1;
            }
            return;
        }
        ++stats_.unexpected_tlps;
    }

    void OnMemoryWrite(uint64_t address, const std::vector<uint32_t>& d, size_t header, uint32_t len) {
        if (d.size() != header + len) {
            ++stats_.malformed_tlps;  // a root port drops a TLP whose payload disagrees with its Length
            return;
        }
        if (address >= kInterruptWindow && address < kInterruptWindow + 0x100000) {
            Message(LPC_RTL_MSG_WRITE, 0, address, PayloadToMemory(d[header]));
            return;
        }
        const uint32_t bytes = len * 4;
        ++stats_.write_requests;
        uint32_t status = 0;
        uint8_t* p = cb_.translate(cb_.context, address, bytes, 1, &status);
        if (p == nullptr) {
            ++stats_.dropped_writes;
            return;
        }
        for (uint32_t i = 0; i < len; ++i) {
            const uint32_t v = PayloadToMemory(d[header + i]);
            std::memcpy(p + 4 * i, &v, 4);
        }
        stats_.dma_write_bytes += bytes;
    }

    void OnMemoryRead(uint64_t address, uint32_t dw1, uint32_t len) {
        ++stats_.read_requests;
        const uint32_t bytes = len * 4;
        stats_.max_read_request = std::max<uint64_t>(stats_.max_read_request, bytes);
        PendingRead r;
        r.requester = static_cast<uint16_t>(dw1 >> 16);
        r.tag = static_cast<uint8_t>((dw1 >> 8) & 0xFFu);
        r.address = address;
        r.bytes = bytes;
        r.due = stats_.cycles + opt_.completion_latency;
        uint32_t status = 0;
        const uint8_t* p = cb_.translate(cb_.context, address, bytes, 0, &status);
        if (p == nullptr) {
            r.status = status == LPC_RTL_PARTIAL ? 4u : 1u;  // CA : UR
        } else {
            r.data.resize(len);
            for (uint32_t i = 0; i < len; ++i) {
                uint32_t v;
                std::memcpy(&v, p + 4 * i, 4);
                r.data[i] = MemoryToPayload(v);
            }
        }
        pendingReads_.push_back(std::move(r));
    }

    // Completions of pending reads, in request order, split at the read completion boundary.
    void ServeReads() {
        while (!pendingReads_.empty() && pendingReads_.front().due <= stats_.cycles) {
            PendingRead& r = pendingReads_.front();
            const uint32_t cid = static_cast<uint32_t>(cfg_.id) << 16;  // completer: the root port (id 0)
            (void)cid;
            const uint32_t reqTag = (static_cast<uint32_t>(r.requester) << 16) | (static_cast<uint32_t>(r.tag) << 8);
            if (r.status != 0) {
                Tlp t;
                const uint32_t byteCount = r.bytes & 0xFFFu;
                t.dws = {0x0A000000u, (static_cast<uint32_t>(kRootId) << 16) | (r.status << 13) | byteCount,
                         reqTag | static_cast<uint32_t>(r.address & 0x7Fu)};
                t.due = stats_.cycles;
                RxCompletions().push_back(std::move(t));
                ++stats_.rx_tlps;
                ++stats_.completions;
                if (r.status == 1) ++stats_.ur_completions; else ++stats_.ca_completions;
                pendingReads_.pop_front();
                continue;
            }
            const uint64_t split = opt_.rcb != 0 ? opt_.rcb : static_cast<uint64_t>(Mps());
            uint64_t at = r.address;
            uint32_t remaining = r.bytes;
            size_t dw = 0;
            while (remaining > 0) {
                const uint64_t boundary = (at / split + 1) * split;
                const uint32_t chunk = static_cast<uint32_t>(std::min<uint64_t>(remaining, boundary - at));
                const uint32_t n = chunk / 4;
                Tlp t;
                t.dws.reserve(3 + n);
                t.dws.push_back(0x4A000000u | (n & 0x3FFu));
                t.dws.push_back((static_cast<uint32_t>(kRootId) << 16) | (remaining & 0xFFFu));
                t.dws.push_back(reqTag | static_cast<uint32_t>(at & 0x7Fu));
                t.dws.insert(t.dws.end(), r.data.begin() + static_cast<long>(dw), r.data.begin() + static_cast<long>(dw + n));
                t.due = stats_.cycles;
                RxCompletions().push_back(std::move(t));
                ++stats_.rx_tlps;
                ++stats_.completions;
                stats_.dma_read_bytes += chunk;
                at += chunk;
                dw += n;
                remaining -= chunk;
            }
            pendingReads_.pop_front();
        }
    }

    // ---- user logic ----
    void DriveUser() {
#if LPC_RTL_USER_PORTS
#define LPC_DRIVE_CHANNEL(i) DriveChannel(i, top_->dma##i##_writer_axi_tvalid, top_->dma##i##_writer_axi_tdata, \
        top_->dma##i##_writer_axi_tlast, top_->dma##i##_writer_axi_tuser, top_->dma##i##_reader_axi_tready, \
        top_->dma##i##_status_writer_enable)
        LPC_DRIVE_CHANNEL(0);
#if LPC_RTL_CHANNELS > 1
        LPC_DRIVE_CHANNEL(1);
#endif
#if LPC_RTL_CHANNELS > 2
        LPC_DRIVE_CHANNEL(2);
#endif
#if LPC_RTL_CHANNELS > 3
        LPC_DRIVE_CHANNEL(3);
#endif
#undef LPC_DRIVE_CHANNEL
#if LPC_RTL_STANDALONE
        top_->msi_irqs = 0;  // gen.py's user interrupt inputs (a SoC's user logic has none here)
#endif
#endif
    }

    template <typename Data>
    void DriveChannel(int c, CData& valid, Data& data, CData& last, CData& first, CData& readerReady, const CData& writerEnable) {
        readerReady = opt_.user_reader_sink != 0 ? 1 : 0;
        PatternSource& p = patterns_[c];
        // A new writer run restarts the generator's stream from buffer 0 (the user logic sees enable rise).
        if (writerEnable && !writerWasEnabled_[c]) p.Restart();
        writerWasEnabled_[c] = writerEnable != 0;
        if (opt_.user_writer_pattern == 0 || p.prbs.empty()) {
            valid = 0;
            return;
        }
        uint32_t dw[kDwPerBeat];
        bool endOfBuffer = false;
        for (int w = 0; w < kDwPerBeat / 2; ++w) {
            bool e = false;
            const uint64_t v = p.Peek(static_cast<size_t>(w), &e);
            endOfBuffer |= e;
            dw[2 * w] = static_cast<uint32_t>(v);
            dw[2 * w + 1] = static_cast<uint32_t>(v >> 32);
        }
        Put(data, dw);
        valid = 1;
        first = p.word == 0 ? 1 : 0;
        last = endOfBuffer ? 1 : 0;
    }

    void SampleUser() {
#if LPC_RTL_USER_PORTS
#define LPC_SAMPLE_CHANNEL(i) SampleChannel(i, top_->dma##i##_writer_axi_tvalid && top_->dma##i##_writer_axi_tready, \
        top_->dma##i##_reader_axi_tvalid && top_->dma##i##_reader_axi_tready)
        LPC_SAMPLE_CHANNEL(0);
#if LPC_RTL_CHANNELS > 1
        LPC_SAMPLE_CHANNEL(1);
#endif
#if LPC_RTL_CHANNELS > 2
        LPC_SAMPLE_CHANNEL(2);
#endif
#if LPC_RTL_CHANNELS > 3
        LPC_SAMPLE_CHANNEL(3);
#endif
#undef LPC_SAMPLE_CHANNEL
#endif
    }

    void SampleChannel(int c, bool writerBeat, bool readerBeat) {
        if (writerBeat) {
            patterns_[c].Advance(static_cast<size_t>(kDwPerBeat / 2));
            ++userBeats_;
        }
        if (readerBeat) ++userBeats_;
    }

    // ---- the user memory behind the mmap AXI-Lite master (standalone cores with mmap) ----
    void DriveMmap() {
#if LPC_RTL_MMAP
        top_->mmap_axi_lite_awready = !bValid_ && !awHave_;
        top_->mmap_axi_lite_wready = !bValid_ && !wHave_;
        top_->mmap_axi_lite_bvalid = bValid_;
        top_->mmap_axi_lite_bresp = 0;
        top_->mmap_axi_lite_arready = !rValid_;
        top_->mmap_axi_lite_rvalid = rValid_;
        top_->mmap_axi_lite_rdata = rData_;
        top_->mmap_axi_lite_rresp = 0;
#endif
    }

    void SampleMmap() {
#if LPC_RTL_MMAP
        if (top_->mmap_axi_lite_awvalid && top_->mmap_axi_lite_awready) {
            awHave_ = true;
            awAddr_ = top_->mmap_axi_lite_awaddr;
        }
        if (top_->mmap_axi_lite_wvalid && top_->mmap_axi_lite_wready) {
            wHave_ = true;
            wData_ = top_->mmap_axi_lite_wdata;
            wStrb_ = top_->mmap_axi_lite_wstrb;
        }
        if (bValid_ && top_->mmap_axi_lite_bready) bValid_ = false;
        if (awHave_ && wHave_ && !bValid_) {
            uint32_t& word = mmap_[(awAddr_ % LPC_RTL_MMAP_SIZE) / 4];
            for (int b = 0; b < 4; ++b) {
                if ((wStrb_ >> b) & 1u) word = (word & ~(0xFFu << (8 * b))) | (wData_ & (0xFFu << (8 * b)));
            }
            awHave_ = wHave_ = false;
            bValid_ = true;
        }
        if (rValid_ && top_->mmap_axi_lite_rready) rValid_ = false;
        else if (!rValid_ && top_->mmap_axi_lite_arvalid) {
            rData_ = mmap_[(top_->mmap_axi_lite_araddr % LPC_RTL_MMAP_SIZE) / 4];
            rValid_ = true;
        }
#endif
    }

    struct PendingRead {
        uint16_t requester = 0;
        uint8_t tag = 0;
        uint32_t status = 0;
        uint64_t address = 0;
        uint32_t bytes = 0;
        uint64_t due = 0;
        std::vector<uint32_t> data;
    };

    lpc_rtl_callbacks cb_;
    lpc_rtl_options opt_;
    lpc_rtl_config cfg_{};
    std::unique_ptr<VerilatedContext> ctx_;
    std::unique_ptr<Vlitepcie_core> top_;
    std::deque<Tlp> rx_;
    size_t rxBeat_ = 0;
    std::deque<Tlp> rxCmp_;
    size_t rxCmpBeat_ = 0;
    std::vector<uint32_t> txTlp_;
    bool txOverflow_ = false;
    std::vector<uint32_t> txCmpTlp_;
    bool txCmpOverflow_ = false;
    static constexpr size_t kMaxTlpDws = 4 + 1024 + 16;
    std::deque<PendingRead> pendingReads_;
    std::deque<lpc_rtl_message> messages_;
    lpc_rtl_stats stats_{};
    uint8_t nextTag_ = 0;
    uint8_t mmioTag_ = 0;
    bool mmioDone_ = false;
    uint32_t mmioValue_ = 0;
    int32_t mmioStatus_ = 0;
    uint64_t userBeats_ = 0;
    uint64_t trace_ = 0;
    PatternSource patterns_[4];
    bool writerWasEnabled_[4] = {false, false, false, false};
#if LPC_RTL_MMAP
    std::vector<uint32_t> mmap_;
    bool awHave_ = false, wHave_ = false, bValid_ = false, rValid_ = false;
    uint32_t awAddr_ = 0, wData_ = 0, wStrb_ = 0, rData_ = 0;
#endif
};

}  // namespace

extern "C" {

__attribute__((visibility("default"))) void lpc_rtl_get_info(lpc_rtl_info* info) {
    info->abi = LPC_RTL_ABI_VERSION;
    info->data_width = kDataWidth;
    info->channels = LPC_RTL_CHANNELS;
    info->big_endian = kBigEndian ? 1u : 0u;
    info->user_ports = LPC_RTL_USER_PORTS;
    info->soc_reset = LPC_RTL_STANDALONE ? 0u : 1u;
    info->threads = LPC_RTL_THREADS;
    info->reserved = 0;
    info->board = LPC_RTL_BOARD;
}

__attribute__((visibility("default"))) void* lpc_rtl_create(const lpc_rtl_callbacks* callbacks, const lpc_rtl_options* options) {
    if (callbacks == nullptr || callbacks->translate == nullptr || options == nullptr) return nullptr;
    return new (std::nothrow) Host(*callbacks, *options);
}

__attribute__((visibility("default"))) void lpc_rtl_destroy(void* rtl) { delete static_cast<Host*>(rtl); }

__attribute__((visibility("default"))) void lpc_rtl_configure(void* rtl, const lpc_rtl_config* config) {
    static_cast<Host*>(rtl)->Configure(*config);
}

__attribute__((visibility("default"))) void lpc_rtl_power_on(void* rtl) { static_cast<Host*>(rtl)->PowerOn(); }

__attribute__((visibility("default"))) void lpc_rtl_reset(void* rtl) { static_cast<Host*>(rtl)->Reset(); }

__attribute__((visibility("default"))) int32_t lpc_rtl_mmio_read(void* rtl, uint64_t offset, uint32_t* value) {
    return static_cast<Host*>(rtl)->MmioRead(offset, value);
}

__attribute__((visibility("default"))) void lpc_rtl_mmio_write(void* rtl, uint64_t offset, uint32_t value) {
    static_cast<Host*>(rtl)->MmioWrite(offset, value);
}

__attribute__((visibility("default"))) uint64_t lpc_rtl_run(void* rtl, uint64_t cycles, uint32_t stop_when_idle, uint32_t idle_cycles, uint32_t* activity) {
    return static_cast<Host*>(rtl)->Run(cycles, stop_when_idle != 0, idle_cycles, activity);
}

__attribute__((visibility("default"))) uint32_t lpc_rtl_take_messages(void* rtl, lpc_rtl_message* messages, uint32_t capacity) {
    return static_cast<Host*>(rtl)->TakeMessages(messages, capacity);
}

__attribute__((visibility("default"))) void lpc_rtl_get_stats(void* rtl, lpc_rtl_stats* stats) { *stats = static_cast<Host*>(rtl)->Stats(); }

}  // extern "C"
