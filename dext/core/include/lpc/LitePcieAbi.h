// LitePCIe dext ABI: everything a client (the C# framework) and the driver agree on.
//
// The same header serves the DriverKit extension (through IOConnectCallMethod) and the
// software-in-the-loop host library (through a direct call). Every struct is fixed-width with
// explicit padding and no bool; sizes and offsets are pinned with static_assert here and
// compared with the C# declarations by the ABI conformance test (tools/abi_probe.cpp).
#ifndef LPC_LITEPCIE_ABI_H
#define LPC_LITEPCIE_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LPC_ABI_MAJOR 1u
#define LPC_ABI_MINOR 0u

#define LPC_MAX_CHANNELS 16u
#define LPC_MAX_BUFFER_COUNT 4096u
#define LPC_MAX_BUFFER_SIZE (1u << 23) /* descriptor length field is 24 bits */
#define LPC_MAX_WAIT_MS 60000u
#define LPC_IDENTIFIER_BYTES 256u
#define LPC_CONFIG_SPACE_BYTES 4096u
#define LPC_NO_REGISTER 0xFFFFFFFFu
#define LPC_MAX_SEGMENTS 32u

/* ---- IOReturn values (IOKit/IOReturn.h: iokit_common_err(x) = 0xE0000000 | x) ---- */
#define LPC_RETURN_SUCCESS 0
#define LPC_RETURN_ERROR ((int32_t)0xE00002BC)
#define LPC_RETURN_NO_MEMORY ((int32_t)0xE00002BD)
#define LPC_RETURN_BAD_ARGUMENT ((int32_t)0xE00002C2)
#define LPC_RETURN_EXCLUSIVE_ACCESS ((int32_t)0xE00002C5)
#define LPC_RETURN_UNSUPPORTED ((int32_t)0xE00002C7)
#define LPC_RETURN_IO_ERROR ((int32_t)0xE00002CA)
#define LPC_RETURN_NOT_OPEN ((int32_t)0xE00002CD)
#define LPC_RETURN_BUSY ((int32_t)0xE00002D5)
#define LPC_RETURN_TIMEOUT ((int32_t)0xE00002D6)
#define LPC_RETURN_OFFLINE ((int32_t)0xE00002D7)
#define LPC_RETURN_NOT_READY ((int32_t)0xE00002D8)
#define LPC_RETURN_NOT_PERMITTED ((int32_t)0xE00002E2)
#define LPC_RETURN_ABORTED ((int32_t)0xE00002EB)

/* ---- Method selectors (IOUserClient external methods) ---- */
enum LpcSelector {
    kLpcGetInfo = 0,        /* in: -                        out: struct LpcInfo */
    kLpcCsrRead32 = 1,      /* in: offset                   out: value */
    kLpcCsrWrite32 = 2,     /* in: offset, value            out: - */
    kLpcBarRead32 = 3,      /* in: bar, offset              out: value (BARs other than the CSR BAR) */
    kLpcBarWrite32 = 4,     /* in: bar, offset, value       out: - */
    kLpcConfigRead32 = 5,   /* in: offset                   out: value */
    kLpcDmaStart = 6,       /* in: channel, dir, irqEvery, flags   out: generation */
    kLpcDmaStop = 7,        /* in: channel, dir             out: - */
    kLpcUpdateSwCount = 8,  /* in: channel, dir, swCount    out: lost */
    kLpcWaitBuffers = 9,    /* in: channel, dir, target, timeoutMs (async) completion: status, hwCount, lost */
    kLpcSetLoopback = 10,   /* in: channel, enable          out: - */
    kLpcReset = 11,         /* in: type                     out: generation */
    kLpcGetDirStatus = 12,  /* in: channel, dir             out: struct LpcDirStatus */
    kLpcGetLastError = 13,  /* in: -                        out: struct LpcErrorInfo (why the last call was refused) */
    kLpcMethodCount = 14
};

/* DMA directions, as the gateware names them. */
enum LpcDirection {
    kLpcDirWriter = 0, /* FPGA -> host (host RX) */
    kLpcDirReader = 1  /* host -> FPGA (host TX) */
};

/* kLpcDmaStart flags */
#define LPC_START_LOOPBACK 0x1u   /* enable internal loopback on the channel first (refused without loopback) */
#define LPC_START_IRQ_MASKED 0x2u /* leave the source's MSI enable bit clear: no interrupts, counts via loop_status */
#define LPC_START_FLAGS_MASK 0x3u

/* kLpcReset types */
enum LpcResetType {
    kLpcResetSoc = 0,      /* ctrl_reset bit 0: SoC reset pulse (all CSRs to reset values) */
    kLpcResetFunction = 1, /* PCIe function-level reset (platform) */
    kLpcResetHot = 2       /* hot reset of the link (platform) */
};

/* MSI controller flavours (cores.pcie_msi) */
enum LpcMsiFlavour { kLpcMsiSingle = 0, kLpcMsiMultiVector = 1, kLpcMsiX = 2 };

/* Shared memory types for CopyClientMemoryForType: type = (kind << 8) | channel. */
enum LpcMemoryKind { kLpcMemStatus = 1, kLpcMemWriterRing = 2, kLpcMemReaderRing = 3 };
#define LPC_MEMORY_TYPE(kind, channel) ((((uint64_t)(kind)) << 8) | (uint64_t)(channel))
#define LPC_STATUS_PAGE_BYTES 16384u

/* LpcInfo.flags and LpcStatusHeader.flags */
#define LPC_FLAG_DEVICE_GONE 0x1u
#define LPC_FLAG_SLEEPING 0x2u
#define LPC_FLAG_STOPPING 0x4u
#define LPC_FLAG_IDENT_MISMATCH 0x8u

/* LpcChannelLayout.features */
#define LPC_FEATURE_LOOPBACK 0x1u
#define LPC_FEATURE_SYNCHRONIZER 0x2u
#define LPC_FEATURE_BUFFERING 0x4u
#define LPC_FEATURE_MONITOR 0x8u
#define LPC_FEATURE_DMA_STATUS 0x10u
#define LPC_FEATURE_DRIVER_OFFSETS 0x20u /* writer/reader at the offsets litepcie.ko assumes */

#define LPC_INFO_MAGIC 0x4950434Cu   /* 'LPCI' */
#define LPC_STATUS_MAGIC 0x5350434Cu /* 'LPCS' */
#define LPC_LAYOUT_MAGIC 0x4C50434Cu /* 'LPCL' */

/* Registers of one DMA engine, as BAR0 offsets. */
typedef struct LpcEngineRegs {
    uint32_t enable;
    uint32_t tableValue; /* 2 words: control|length (MS word), then address lsb */
    uint32_t tableWe;    /* write = address msb + push */
    uint32_t loopProgN;
    uint32_t loopStatus;
    uint32_t level;
    uint32_t tableReset;
    uint32_t reserved;
} LpcEngineRegs;

/* One pcie_dmaN block. Optional registers are LPC_NO_REGISTER. */
typedef struct LpcChannelLayout {
    LpcEngineRegs writer;
    LpcEngineRegs reader;
    uint32_t blockBase;      /* BAR0 offset of the block page */
    uint32_t blockSize;      /* bytes of the block page (0x800) */
    uint32_t loopbackEnable; /* LPC_NO_REGISTER when the design has no loopback: never written */
    uint32_t features;       /* LPC_FEATURE_* */
    uint32_t writerIrq;      /* MSI bit numbers */
    uint32_t readerIrq;
    uint32_t reserved[2];
} LpcChannelLayout;

/*
 * The board layout the core needs, produced from the board's csr.json: by the C# CSR map in the
 * software-in-the-loop host, and by a generated header (litepcie-hil board-header) in the dext.
 */
typedef struct LpcBoardLayout {
    uint32_t magic; /* LPC_LAYOUT_MAGIC */
    uint16_t abiMajor;
    uint16_t abiMinor;
    uint32_t channelCount;
    uint32_t msiFlavour;     /* LpcMsiFlavour */
    uint32_t msiEnable;      /* BAR0 offset of pcie_msi_enable (first word) */
    uint32_t msiEnableWords; /* 1 or 2 (MSI-X with 64 vectors) */
    uint32_t msiClear;       /* single MSI only */
    uint32_t msiVector;      /* single MSI only */
    uint32_t msiPba;         /* MSI-X only */
    uint32_t msixTable;      /* MSI-X table BAR0 offset, or LPC_NO_REGISTER */
    uint32_t msixTableBytes; /* vectors * 16 */
    uint32_t ctrlReset;      /* or LPC_NO_REGISTER */
    uint32_t ctrlScratch;
    uint32_t ctrlBusErrors; /* or LPC_NO_REGISTER */
    uint32_t identifierBase;
    uint32_t dmaAddressWidth; /* 32 or 64 */
    uint32_t bufferCount;     /* ring geometry the driver allocates */
    uint32_t bufferSize;
    uint32_t csrBar;          /* BAR index of the CSRs (0) */
    uint32_t reserved0;
    uint64_t barSizes[6];     /* 0 = not implemented; the upper half of a 64-bit BAR is 0 */
    uint8_t expectedIdentifier[LPC_IDENTIFIER_BYTES]; /* config_identifier, NUL-terminated */
    LpcChannelLayout channels[LPC_MAX_CHANNELS];
} LpcBoardLayout;

/* kLpcGetInfo output. */
typedef struct LpcInfo {
    uint32_t magic; /* LPC_INFO_MAGIC */
    uint16_t abiMajor;
    uint16_t abiMinor;
    uint32_t channelCount;
    uint32_t bufferCount;
    uint32_t bufferSize;
    uint32_t dmaAddressWidth;
    uint32_t msiFlavour;
    uint32_t flags; /* LPC_FLAG_* */
    uint16_t vendorId;
    uint16_t deviceId;
    uint8_t revision;
    uint8_t reserved0[3];
    uint32_t classCode;
    uint32_t channelFeatures[LPC_MAX_CHANNELS];
    uint32_t reserved1; /* explicit padding to the 8-byte fields */
    uint64_t generation;
    uint64_t barSizes[6];
    uint8_t identifier[LPC_IDENTIFIER_BYTES]; /* read from the identifier ROM at start, NUL-terminated */
} LpcInfo;

/* Status page header (shared memory kind kLpcMemStatus, read-only to the client). */
typedef struct LpcStatusHeader {
    uint32_t magic; /* LPC_STATUS_MAGIC */
    uint16_t abiMajor;
    uint16_t abiMinor;
    uint32_t channelCount;
    uint32_t bufferCount;
    uint32_t bufferSize;
    uint32_t reserved0;
    uint64_t generation;    /* ++ on every DmaStart, reset and power transition */
    uint64_t flags;         /* LPC_FLAG_* */
    uint64_t msiCount;      /* interrupt messages handled */
    uint64_t spuriousCount; /* messages with no enabled source pending */
    uint64_t reserved1;
} LpcStatusHeader;

/* One per (channel, direction) at 64 + 64 * (channel * 2 + dir), each on its own cache line. */
typedef struct LpcDirStatus {
    uint64_t hwCount;     /* buffers completed by the hardware (monotonic; release-stored) */
    uint64_t lostCount;   /* overruns (writer) / underruns (reader) the driver detected */
    uint64_t clientAck;   /* last swCount the client reported */
    uint64_t lastIrqTime; /* platform timestamp (ns) of the last interrupt for this source */
    uint64_t irqCount;    /* interrupts handled for this source since start */
    uint32_t running;
    uint32_t irqEvery;
    uint64_t generation; /* generation at which this direction was started */
    uint64_t reserved;
} LpcDirStatus;

/* kLpcGetLastError output: which argument of which call was refused, and the rule, in words. */
typedef struct LpcErrorInfo {
    uint32_t selector;
    uint32_t argument; /* index of the offending scalar, or 0xFFFFFFFF */
    int32_t status;
    uint32_t reserved;
    char message[112];
} LpcErrorInfo;

#define LPC_DIR_STATUS_OFFSET(channel, dir) (64u + 64u * ((channel) * 2u + (dir)))

#ifdef __cplusplus
} /* extern "C" */

static_assert(sizeof(LpcEngineRegs) == 32, "LpcEngineRegs ABI");
static_assert(sizeof(LpcChannelLayout) == 96, "LpcChannelLayout ABI");
static_assert(offsetof(LpcChannelLayout, loopbackEnable) == 72, "LpcChannelLayout ABI");
static_assert(offsetof(LpcBoardLayout, barSizes) == 80, "LpcBoardLayout ABI");
static_assert(offsetof(LpcBoardLayout, expectedIdentifier) == 128, "LpcBoardLayout ABI");
static_assert(offsetof(LpcBoardLayout, channels) == 384, "LpcBoardLayout ABI");
static_assert(sizeof(LpcBoardLayout) == 384 + 96 * LPC_MAX_CHANNELS, "LpcBoardLayout ABI");
static_assert(offsetof(LpcInfo, vendorId) == 32, "LpcInfo ABI");
static_assert(offsetof(LpcInfo, classCode) == 40, "LpcInfo ABI");
static_assert(offsetof(LpcInfo, reserved1) == 108, "LpcInfo ABI");
static_assert(offsetof(LpcInfo, generation) == 112, "LpcInfo ABI");
static_assert(offsetof(LpcInfo, barSizes) == 120, "LpcInfo ABI");
static_assert(offsetof(LpcInfo, identifier) == 168, "LpcInfo ABI");
static_assert(sizeof(LpcInfo) == 424, "LpcInfo ABI");
static_assert(sizeof(LpcStatusHeader) == 64, "LpcStatusHeader ABI");
static_assert(offsetof(LpcStatusHeader, generation) == 24, "LpcStatusHeader ABI");
static_assert(sizeof(LpcDirStatus) == 64, "LpcDirStatus ABI");
static_assert(sizeof(LpcErrorInfo) == 128, "LpcErrorInfo ABI");
static_assert(offsetof(LpcDirStatus, running) == 40, "LpcDirStatus ABI");
static_assert(offsetof(LpcDirStatus, generation) == 48, "LpcDirStatus ABI");
static_assert(LPC_DIR_STATUS_OFFSET(LPC_MAX_CHANNELS - 1, 1) + sizeof(LpcDirStatus) <= LPC_STATUS_PAGE_BYTES, "status page size");
#endif

#endif /* LPC_LITEPCIE_ABI_H */
