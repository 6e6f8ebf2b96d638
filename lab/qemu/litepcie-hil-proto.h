/*
 * LitePcie.Hil device-server protocol (version 1): what our QEMU device (litepcie-hil.c) and the device
 * server (framework/LitePcie.Hil.DeviceServer, C#) say to each other over a local (unix) stream socket.
 * The C# side has its own copy of these numbers in DeviceProtocol.cs; docs/linux-guest.md describes the
 * protocol in prose. Keep the three in step (a test compares this header with DeviceProtocol.cs).
 *
 * Two connections per device, both opened by QEMU to the same socket path:
 *   - "mmio": QEMU asks, the server answers, one request at a time (config space, BAR accesses, reset,
 *     the guest memory map with its file descriptors). BAR writes are posted (no answer), as PCIe
 *     memory writes are; everything else is answered.
 *   - "events": the server tells QEMU about interrupts (MSI/MSI-X memory writes) and fatal errors.
 * DMA does not cross the socket: the server maps guest RAM (memory-backend-memfd,share=on; the fds come
 * with LPH_MEMORY_MAP) and reads and writes it in place.
 *
 * Every message is a header followed by `length` bytes of payload. All integers are little-endian.
 * Either side checks every field of every message; a message that breaks a rule is answered (when it
 * expects an answer) with a non-zero status and a text naming the field and its accepted range, or, when
 * the stream itself cannot be trusted any more (unknown type, wrong length), with LPH_ERROR and the
 * connection is closed. Nothing a bad message says is applied to the device.
 */
#ifndef LITEPCIE_HIL_PROTO_H
#define LITEPCIE_HIL_PROTO_H

#include <stdint.h>

#define LPH_PROTOCOL_VERSION 1u
#define LPH_MAX_PAYLOAD 65536u      /* no message carries more */
#define LPH_MAX_TEXT 1024u          /* error texts are cut here */
#define LPH_MAX_REGIONS 16u         /* guest RAM regions in one LPH_MEMORY_MAP */
#define LPH_BARS 6u

enum lph_type {
    LPH_HELLO = 0x01,          /* Q->S, first message on each connection: struct lph_hello */
    LPH_CFG_READ = 0x02,       /* Q->S: struct lph_cfg_read -> LPH_CFG_READ_REPLY */
    LPH_CFG_WRITE = 0x03,      /* Q->S: struct lph_cfg_write -> LPH_STATUS_REPLY */
    LPH_MMIO_READ = 0x04,      /* Q->S: struct lph_mmio -> LPH_MMIO_READ_REPLY */
    LPH_MMIO_WRITE = 0x05,     /* Q->S, posted: struct lph_mmio */
    LPH_RESET = 0x06,          /* Q->S: no payload -> LPH_STATUS_REPLY (machine reset: power-on state) */
    LPH_MEMORY_MAP = 0x07,     /* Q->S: struct lph_memory_map + one fd per region (SCM_RIGHTS) -> LPH_STATUS_REPLY */

    LPH_DEVICE = 0x81,         /* S->Q, answer to the mmio HELLO: struct lph_device */
    LPH_CFG_READ_REPLY = 0x82, /* S->Q: struct lph_value_reply [+ text when status != 0] */
    LPH_MMIO_READ_REPLY = 0x84,/* S->Q: struct lph_value_reply [+ text when status != 0] */
    LPH_STATUS_REPLY = 0x86,   /* S->Q: struct lph_status_reply [+ text when status != 0] */
    LPH_EVENTS_READY = 0x88,   /* S->Q, answer to the events HELLO: no payload */

    LPH_MSI = 0x90,            /* S->Q on events: struct lph_msi (a 32-bit memory write the device posts) */
    LPH_ERROR = 0xFF,          /* either way: UTF-8 text, then the sender closes the connection */
};

enum lph_role { LPH_ROLE_MMIO = 1, LPH_ROLE_EVENTS = 2 };

enum lph_status {
    LPH_OK = 0,
    LPH_E_INVALID = 1,    /* a field out of its range (text names it) */
    LPH_E_STATE = 2,      /* valid, but not now (e.g. MMIO before the device answered HELLO) */
    LPH_E_INTERNAL = 3,   /* the server failed; the device is unchanged */
};

#define LPH_BAR_IO 0x1u
#define LPH_BAR_MEM64 0x2u
#define LPH_BAR_PREFETCH 0x4u

struct lph_header {
    uint16_t type;
    uint16_t reserved;     /* 0 */
    uint32_t length;       /* payload bytes, <= LPH_MAX_PAYLOAD */
};

struct lph_hello {
    uint32_t version;      /* LPH_PROTOCOL_VERSION */
    uint32_t role;         /* enum lph_role */
    uint32_t pid;          /* QEMU's pid, for the server's log */
    uint32_t reserved;     /* 0 */
};

struct lph_bar {
    uint64_t size;         /* bytes, 0 = not implemented, else a power of two >= 16 (IO: >= 4) */
    uint32_t flags;        /* LPH_BAR_* */
    uint32_t reserved;
};

struct lph_device {
    uint32_t version;      /* LPH_PROTOCOL_VERSION */
    uint16_t vendor_id;
    uint16_t device_id;
    uint32_t config_size;  /* 256 or 4096 */
    uint32_t reserved;
    struct lph_bar bars[LPH_BARS];
    char board[64];        /* board profile name, NUL-terminated */
};

struct lph_cfg_read {
    uint16_t offset;       /* < config_size, aligned to size */
    uint8_t size;          /* 1, 2 or 4 */
    uint8_t reserved;
};

struct lph_cfg_write {
    uint16_t offset;
    uint8_t size;
    uint8_t reserved;
    uint32_t value;
};

struct lph_mmio {
    uint8_t bar;           /* an implemented memory BAR */
    uint8_t size;          /* 1, 2 or 4 */
    uint16_t reserved;
    uint32_t reserved2;
    uint64_t offset;       /* < BAR size, aligned to size */
    uint64_t value;        /* writes only (ignored in reads) */
};

struct lph_value_reply {
    uint32_t status;       /* enum lph_status */
    uint32_t reserved;
    uint64_t value;        /* all-ones when status != 0 */
};

struct lph_status_reply {
    uint32_t status;
    uint32_t reserved;
};

struct lph_region {
    uint64_t guest_address; /* guest physical (= bus, no IOMMU) address of the first byte */
    uint64_t size;
    uint64_t fd_offset;     /* offset of the first byte in the region's fd */
};

struct lph_memory_map {
    uint32_t count;         /* 1..LPH_MAX_REGIONS; as many fds come with the message */
    uint32_t reserved;
    /* struct lph_region regions[count]; */
};

struct lph_msi {
    uint64_t address;       /* the message address the function was given (MSI capability or MSI-X table) */
    uint32_t data;
    uint32_t vector;        /* for logs */
};

#endif
