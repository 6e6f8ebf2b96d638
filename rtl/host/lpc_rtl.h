/*
 * LitePcie.Hil RTL engine: the real LitePCIe RTL of one simulated board (Verilator model of rtl/boards/<board>)
 * behind a root-complex TLP model, as a C ABI the C# engine (LitePcie.Hil.Simulation, RtlEngine) calls.
 *
 * One library per board: liblpc_rtl_<board>.so. Not thread-safe: the caller serialises every call (the
 * simulated board's lock). The engine never dereferences a bus address itself: every DMA access goes through
 * the translate callback, which returns NULL for an address the host did not map (the IOMMU's answer).
 */
#ifndef LPC_RTL_H
#define LPC_RTL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LPC_RTL_ABI_VERSION 1u

/* What our PCI function model reports to the hard IP (the PHY's configuration inputs). */
typedef struct lpc_rtl_config {
    uint16_t id;            /* bus << 8 | device << 3 | function */
    uint8_t mps_code;       /* Device Control bits 7:5 (128 << code bytes) */
    uint8_t mrrs_code;      /* Device Control bits 14:12 */
    uint8_t bus_master;     /* Command bit 2 */
    uint8_t msi_enable;     /* MSI Message Control bit 0 */
    uint8_t msix_enable;    /* MSI-X Message Control bit 15 */
    uint8_t reserved;
    uint32_t link_status;   /* raw value of the PHY family's link_status CSR */
    uint32_t reserved2;
    uint64_t bar0;          /* bus address of BAR0 (the root complex's requests carry it) */
} lpc_rtl_config;

/* How the root complex and the board's user logic behave. */
typedef struct lpc_rtl_options {
    uint32_t rcb;                   /* read completion boundary: 64 or 128 (completions split there), 0 = split at MPS */
    uint32_t completion_latency;    /* cycles from a read request to its first completion */
    uint32_t mmio_timeout;          /* cycles an MMIO read waits for its completion before the root complex gives up */
    uint32_t user_writer_pattern;   /* 1: user logic feeds each writer the SequencePattern (standalone boards) */
    uint32_t user_buffer_size;      /* bytes per pattern buffer */
    uint32_t user_reader_sink;      /* 1: user logic always accepts the reader's stream (and drops it) */
    uint64_t user_seed;             /* SequencePattern seed */
} lpc_rtl_options;

/* Translate callback status when it returns NULL. */
#define LPC_RTL_UNMAPPED 1u         /* no mapping at that bus address: reads complete with UR, writes are dropped */
#define LPC_RTL_PARTIAL 2u          /* the access runs past the end of a mapping: reads complete with CA */

typedef struct lpc_rtl_callbacks {
    void* context;
    /* Host memory behind [bus, bus + length), or NULL (status says why); is_write tells the direction. */
    uint8_t* (*translate)(void* context, uint64_t bus, uint32_t length, uint32_t is_write, uint32_t* status);
} lpc_rtl_callbacks;

/* A message the device sent towards the host's interrupt controller. */
#define LPC_RTL_MSG_PHY_MSI 0u      /* the core raised the PHY's MSI port (vector = the port's data) */
#define LPC_RTL_MSG_WRITE 1u        /* a memory write into the interrupt window 0xFEE00000..0xFEEFFFFF (MSI-X) */

typedef struct lpc_rtl_message {
    uint32_t kind;
    uint32_t vector;
    uint64_t address;
    uint32_t data;
    uint32_t reserved;
    uint64_t cycle;
} lpc_rtl_message;

typedef struct lpc_rtl_stats {
    uint64_t cycles;                /* clock cycles simulated since creation */
    uint64_t rx_tlps;               /* TLPs the root complex sent to the device */
    uint64_t tx_tlps;               /* TLPs the device sent */
    uint64_t dma_write_bytes;       /* device memory-write payload that reached host memory */
    uint64_t dma_read_bytes;        /* completion payload the root complex returned for device reads */
    uint64_t read_requests;         /* device memory-read requests */
    uint64_t completions;           /* completion TLPs the root complex sent (after RCB splitting) */
    uint64_t ur_completions;        /* reads completed with Unsupported Request */
    uint64_t ca_completions;        /* reads completed with Completer Abort */
    uint64_t dropped_writes;        /* device writes to unmapped bus addresses */
    uint64_t mmio_timeouts;         /* MMIO reads that got no completion */
    uint64_t messages;              /* interrupt messages (both kinds) */
    uint64_t bus_master_violations; /* requests the device sent while Bus Master Enable was clear */
    uint64_t unexpected_tlps;       /* TLPs the root complex could not decode or match */
    uint64_t four_dw_requests;      /* device requests with a 4-DW header (64-bit addressing) */
    uint64_t max_read_request;      /* largest read request seen (bytes) */
    uint64_t write_requests;        /* device memory-write requests (interrupt writes excluded) */
    uint64_t crossing_4k;           /* device requests whose bytes cross a 4 KiB boundary (PCIe forbids it) */
    uint64_t malformed_tlps;        /* device TLPs whose payload disagrees with their length field (dropped) */
} lpc_rtl_stats;

/* Board facts compiled into the library. */
typedef struct lpc_rtl_info {
    uint32_t abi;
    uint32_t data_width;
    uint32_t channels;
    uint32_t big_endian;
    uint32_t user_ports;
    uint32_t soc_reset;
    uint32_t threads;               /* Verilator threads the model was built with */
    uint32_t reserved;
    const char* board;
} lpc_rtl_info;

void lpc_rtl_get_info(lpc_rtl_info* info);
void* lpc_rtl_create(const lpc_rtl_callbacks* callbacks, const lpc_rtl_options* options);
void lpc_rtl_destroy(void* rtl);
/* Configuration inputs (sampled from the next cycle on). */
void lpc_rtl_configure(void* rtl, const lpc_rtl_config* config);
/* A fresh FPGA configuration: the model is rebuilt (block RAM back to its init files) and held in reset. */
void lpc_rtl_power_on(void* rtl);
/* The PHY's user reset for some cycles (hot reset / D3hot): registers reset, block RAM keeps its contents. */
void lpc_rtl_reset(void* rtl);
/* MMIO through BAR0: returns 0 with the value, 1 for an error completion, 2 for a completion timeout (value all-ones). */
int32_t lpc_rtl_mmio_read(void* rtl, uint64_t offset, uint32_t* value);
void lpc_rtl_mmio_write(void* rtl, uint64_t offset, uint32_t value);
/* Runs up to `cycles` clock cycles; with stop_when_idle, returns early once nothing moved for `idle_cycles`. */
uint64_t lpc_rtl_run(void* rtl, uint64_t cycles, uint32_t stop_when_idle, uint32_t idle_cycles, uint32_t* activity);
uint32_t lpc_rtl_take_messages(void* rtl, lpc_rtl_message* messages, uint32_t capacity);
void lpc_rtl_get_stats(void* rtl, lpc_rtl_stats* stats);

#ifdef __cplusplus
}
#endif

#endif
