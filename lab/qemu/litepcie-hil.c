/*
 * litepcie-hil: a PCIe function whose every config access, BAR access and interrupt is served by a
 * LitePcie.Hil device server (our gateware model, later the RTL) over a local socket, so that an
 * unmodified guest driver (litepcie.ko) owns a simulated LitePCIe board.
 *
 *   -object memory-backend-memfd,id=mem,size=1536M,share=on -machine q35,memory-backend=mem
 *   -device pcie-root-port,id=rp0,chassis=1 -device litepcie-hil,bus=rp0,socket=/path/to/server.sock
 *
 * What QEMU keeps: the BARs it maps into the guest (sizes and types from the server) and a copy of the
 * header so its own PCI core follows BAR and command writes. What the server owns: the whole config space
 * as the guest reads it (IDs, class, revision, capabilities, link, power state), the registers behind the
 * BARs, MSI/MSI-X (the server sends the memory write an MSI is; QEMU performs it), and DMA, which the
 * server does in place in guest RAM (the memory map and its fds are sent at every machine reset).
 *
 * The wire protocol is lab/qemu/litepcie-hil-proto.h. Written for the LitePcie.Hil project; GPL-2.0-or-later
 * like the QEMU it is built into.
 */
#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qemu/module.h"
#include "qemu/sockets.h"
#include "qemu/thread.h"
#include "qemu/rcu.h"
#include "exec/memory.h"
#include "exec/address-spaces.h"
#include "hw/pci/pci.h"
#include "hw/pci/msi.h"
#include "hw/qdev-properties.h"
#include "qom/object.h"
#include <sys/socket.h>
#include <sys/un.h>
#include <poll.h>

#include "litepcie-hil-proto.h"

#define TYPE_LITEPCIE_HIL "litepcie-hil"
OBJECT_DECLARE_SIMPLE_TYPE(LphState, LITEPCIE_HIL)

typedef struct LphBar {
    struct LphState *s;
    int index;
    uint64_t size;
    MemoryRegion mr;
} LphBar;

typedef struct LphMsi {
    uint64_t address;
    uint32_t data;
} LphMsi;

struct LphState {
    PCIDevice parent_obj;

    char *socket_path;
    uint32_t timeout_ms;

    int mmio_fd;                 /* request/answer, used under the BQL only */
    int events_fd;               /* read by events_thread */
    bool dead;                   /* the server is gone: reads return all-ones, writes are dropped */
    unsigned reported;           /* errors printed so far (the rest are counted) */
    struct lph_device info;
    LphBar bars[LPH_BARS];

    QemuThread events_thread;
    bool events_running;
    QemuMutex msi_lock;
    LphMsi *msi_queue;
    unsigned msi_count, msi_capacity;
    QEMUBH *msi_bh;
};

/* ---- socket helpers ------------------------------------------------------------------------------ */

static bool lph_write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        p += n;
        len -= n;
    }
    return true;
}

/* Reads exactly len bytes; timeout_ms < 0 waits for ever (the events thread). */
static bool lph_read_all(int fd, void *buf, size_t len, int timeout_ms)
{
    uint8_t *p = buf;
    while (len > 0) {
        if (timeout_ms >= 0) {
            struct pollfd pfd = { .fd = fd, .events = POLLIN };
            int r = poll(&pfd, 1, timeout_ms);
            if (r < 0 && errno == EINTR) {
                continue;
            }
            if (r <= 0) {
                return false;
            }
        }
        ssize_t n = recv(fd, p, len, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        p += n;
        len -= n;
    }
    return true;
}

static bool lph_send(int fd, uint16_t type, const void *payload, uint32_t len, const int *fds, unsigned nfds)
{
    struct lph_header h = { .type = cpu_to_le16(type), .reserved = 0, .length = cpu_to_le32(len) };
    if (nfds == 0) {
        return lph_write_all(fd, &h, sizeof(h)) && (len == 0 || lph_write_all(fd, payload, len));
    }
    /* The fds travel with the header's first byte. */
    struct iovec iov = { .iov_base = &h, .iov_len = sizeof(h) };
    char control[CMSG_SPACE(sizeof(int) * LPH_MAX_REGIONS)];
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                          .msg_controllen = CMSG_SPACE(sizeof(int) * nfds) };
    memset(control, 0, sizeof(control));
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    ssize_t n;
    do {
        n = sendmsg(fd, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return false;
    }
    if ((size_t)n < sizeof(h) && !lph_write_all(fd, (uint8_t *)&h + n, sizeof(h) - n)) {
        return false;
    }
    return len == 0 || lph_write_all(fd, payload, len);
}

static void G_GNUC_PRINTF(2, 3) lph_report(LphState *s, const char *fmt, ...)
{
    if (s->reported++ >= 20) {
        if (s->reported == 21) {
            error_report("litepcie-hil: further errors are not printed");
        }
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    char *text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    error_report("litepcie-hil (%s): %s", s->socket_path, text);
    g_free(text);
}

static void lph_mark_dead(LphState *s, const char *why)
{
    if (!s->dead) {
        s->dead = true;
        lph_report(s, "device server connection lost (%s): the function now reads all-ones, "
                   "as a board that left the bus", why);
    }
}

/*
 * Receives one answer of the given type on the mmio connection. fixed = the size of its fixed part;
 * a longer payload carries the server's error text (printed). Returns false (and marks the server dead)
 * when the stream breaks a rule.
 */
static bool lph_receive(LphState *s, uint16_t want, void *out, uint32_t fixed)
{
    struct lph_header h;
    if (!lph_read_all(s->mmio_fd, &h, sizeof(h), s->timeout_ms)) {
        lph_mark_dead(s, "no answer within timeout-ms or connection closed");
        return false;
    }
    uint16_t type = le16_to_cpu(h.type);
    uint32_t len = le32_to_cpu(h.length);
    if (len > LPH_MAX_PAYLOAD) {
        lph_mark_dead(s, "answer longer than LPH_MAX_PAYLOAD");
        return false;
    }
    g_autofree uint8_t *buf = g_malloc0(len + 1);
    if (len > 0 && !lph_read_all(s->mmio_fd, buf, len, s->timeout_ms)) {
        lph_mark_dead(s, "answer cut short");
        return false;
    }
    if (type == LPH_ERROR) {
        lph_report(s, "server error: %.*s", (int)MIN(len, LPH_MAX_TEXT), (char *)buf);
        lph_mark_dead(s, "the server reported a protocol error");
        return false;
    }
    if (type != want || len < fixed || len > fixed + LPH_MAX_TEXT) {
        g_autofree char *why = g_strdup_printf("answer type 0x%02x length %u, expected type 0x%02x length %u..%u",
                                               type, len, want, fixed, fixed + LPH_MAX_TEXT);
        lph_mark_dead(s, why);
        return false;
    }
    memcpy(out, buf, fixed);
    uint32_t status = le32_to_cpu(*(uint32_t *)buf);
    if (status != LPH_OK) {
        lph_report(s, "server refused a request (status %u): %.*s", status, (int)(len - fixed), (char *)buf + fixed);
    }
    return true;
}

static bool lph_value_request(LphState *s, uint16_t type, const void *req, uint32_t len, uint16_t reply, uint64_t *value)
{
    struct lph_value_reply r;
    if (s->dead || !lph_send(s->mmio_fd, type, req, len, NULL, 0)) {
        lph_mark_dead(s, "send failed");
        return false;
    }
    if (!lph_receive(s, reply, &r, sizeof(r))) {
        return false;
    }
    if (le32_to_cpu(r.status) != LPH_OK) {
        return false;
    }
    *value = le64_to_cpu(r.value);
    return true;
}

static bool lph_status_request(LphState *s, uint16_t type, const void *req, uint32_t len, const int *fds, unsigned nfds)
{
    struct lph_status_reply r;
    if (s->dead || !lph_send(s->mmio_fd, type, req, len, fds, nfds)) {
        lph_mark_dead(s, "send failed");
        return false;
    }
    return lph_receive(s, LPH_STATUS_REPLY, &r, sizeof(r)) && le32_to_cpu(r.status) == LPH_OK;
}

/* ---- config space: the server's, with QEMU's copy following writes ---------------------------------- */

static uint32_t lph_config_read_one(LphState *s, uint32_t address, int len)
{
    struct lph_cfg_read req = { .offset = cpu_to_le16(address), .size = len };
    uint64_t v;
    if (!lph_value_request(s, LPH_CFG_READ, &req, sizeof(req), LPH_CFG_READ_REPLY, &v)) {
        return len == 4 ? 0xffffffffu : (1u << (8 * len)) - 1;
    }
    return (uint32_t)v;
}

static uint32_t lph_config_read(PCIDevice *pdev, uint32_t address, int len)
{
    LphState *s = LITEPCIE_HIL(pdev);
    if (address % len == 0) {
        return lph_config_read_one(s, address, len);
    }
    uint32_t v = 0;   /* an unaligned access becomes byte accesses, as a root complex splits it */
    for (int i = 0; i < len; i++) {
        v |= lph_config_read_one(s, address + i, 1) << (8 * i);
    }
    return v;
}

static void lph_config_write_one(LphState *s, uint32_t address, uint32_t value, int len)
{
    struct lph_cfg_write req = { .offset = cpu_to_le16(address), .size = len, .value = cpu_to_le32(value) };
    lph_status_request(s, LPH_CFG_WRITE, &req, sizeof(req), NULL, 0);
}

static void lph_config_write(PCIDevice *pdev, uint32_t address, uint32_t value, int len)
{
    LphState *s = LITEPCIE_HIL(pdev);
    if (address % len == 0) {
        lph_config_write_one(s, address, value, len);
    } else {
        for (int i = 0; i < len; i++) {
            lph_config_write_one(s, address + i, (value >> (8 * i)) & 0xff, 1);
        }
    }
    /* QEMU's own copy: BAR addresses, command (memory/bus-master enable) -> its mappings. */
    pci_default_write_config(pdev, address, value, len);
}

/* ---- BARs ------------------------------------------------------------------------------------------ */

static uint64_t lph_bar_read(void *opaque, hwaddr addr, unsigned size)
{
    LphBar *b = opaque;
    struct lph_mmio req = { .bar = b->index, .size = size, .offset = cpu_to_le64(addr) };
    uint64_t v;
    if (!lph_value_request(b->s, LPH_MMIO_READ, &req, sizeof(req), LPH_MMIO_READ_REPLY, &v)) {
        return size == 4 ? 0xffffffffu : (1ull << (8 * size)) - 1;
    }
    return v;
}

static void lph_bar_write(void *opaque, hwaddr addr, uint64_t value, unsigned size)
{
    LphBar *b = opaque;
    LphState *s = b->s;
    struct lph_mmio req = { .bar = b->index, .size = size, .offset = cpu_to_le64(addr), .value = cpu_to_le64(value) };
    if (!s->dead && !lph_send(s->mmio_fd, LPH_MMIO_WRITE, &req, sizeof(req), NULL, 0)) {
        lph_mark_dead(s, "send failed");
    }
}

static const MemoryRegionOps lph_bar_ops = {
    .read = lph_bar_read,
    .write = lph_bar_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 8 },
    .impl = { .min_access_size = 1, .max_access_size = 4 },  /* 8-byte accesses arrive as two dwords */
};

/* ---- interrupts: the server's memory writes, performed in the main loop ------------------------------ */

static void lph_msi_bh(void *opaque)
{
    LphState *s = opaque;
    PCIDevice *pdev = PCI_DEVICE(s);
    for (;;) {
        LphMsi m;
        qemu_mutex_lock(&s->msi_lock);
        if (s->msi_count == 0) {
            qemu_mutex_unlock(&s->msi_lock);
            return;
        }
        m = s->msi_queue[0];
        memmove(s->msi_queue, s->msi_queue + 1, (s->msi_count - 1) * sizeof(LphMsi));
        s->msi_count--;
        qemu_mutex_unlock(&s->msi_lock);
        MSIMessage msg = { .address = m.address, .data = m.data };
        msi_send_message(pdev, msg);   /* a DWORD write on the function's bus-master address space */
    }
}

static void *lph_events_thread(void *opaque)
{
    LphState *s = opaque;
    for (;;) {
        struct lph_header h;
        if (!lph_read_all(s->events_fd, &h, sizeof(h), -1)) {
            break;
        }
        uint16_t type = le16_to_cpu(h.type);
        uint32_t len = le32_to_cpu(h.length);
        if (len > LPH_MAX_PAYLOAD) {
            error_report("litepcie-hil: event length %u above %u: closing the events connection", len, LPH_MAX_PAYLOAD);
            break;
        }
        g_autofree uint8_t *buf = g_malloc0(len + 1);
        if (len > 0 && !lph_read_all(s->events_fd, buf, len, -1)) {
            break;
        }
        if (type == LPH_MSI && len == sizeof(struct lph_msi)) {
            struct lph_msi *m = (struct lph_msi *)buf;
            qemu_mutex_lock(&s->msi_lock);
            if (s->msi_count == s->msi_capacity) {
                s->msi_capacity = MAX(64u, s->msi_capacity * 2);
                s->msi_queue = g_renew(LphMsi, s->msi_queue, s->msi_capacity);
            }
            s->msi_queue[s->msi_count++] = (LphMsi){ le64_to_cpu(m->address), le32_to_cpu(m->data) };
            qemu_mutex_unlock(&s->msi_lock);
            qemu_bh_schedule(s->msi_bh);
        } else if (type == LPH_ERROR) {
            error_report("litepcie-hil: device server error: %.*s", (int)MIN(len, LPH_MAX_TEXT), (char *)buf);
            break;
        } else {
            error_report("litepcie-hil: unexpected event type 0x%02x length %u (expected MSI 0x%02x length %zu): "
                         "closing the events connection", type, len, LPH_MSI, sizeof(struct lph_msi));
            break;
        }
    }
    return NULL;
}

/* ---- guest memory map ------------------------------------------------------------------------------ */

typedef struct LphMapBuild {
    struct lph_region regions[LPH_MAX_REGIONS];
    int fds[LPH_MAX_REGIONS];
    unsigned count;
    uint64_t shared_bytes, private_bytes;
    bool overflow;
} LphMapBuild;

static bool lph_map_range(Int128 start, Int128 len, const MemoryRegion *mr, hwaddr offset_in_region, void *opaque)
{
    LphMapBuild *m = opaque;
    MemoryRegion *region = (MemoryRegion *)mr;
    if (!memory_region_is_ram(region) || memory_region_is_rom(region)) {
        return false;
    }
    int fd = memory_region_get_fd(region);
    uint64_t gpa = int128_get64(start), size = int128_get64(len);
    if (fd < 0) {
        m->private_bytes += size;
        return false;
    }
    m->shared_bytes += size;
    if (m->count > 0) {   /* merge with the previous range when contiguous in both spaces */
        struct lph_region *p = &m->regions[m->count - 1];
        if (m->fds[m->count - 1] == fd && p->guest_address + p->size == gpa && p->fd_offset + p->size == offset_in_region) {
            p->size += size;
            return false;
        }
    }
    if (m->count == LPH_MAX_REGIONS) {
        m->overflow = true;
        return true;
    }
    m->regions[m->count] = (struct lph_region){ gpa, size, offset_in_region };
    m->fds[m->count] = fd;
    m->count++;
    return false;
}

static bool lph_send_memory_map(LphState *s, Error **errp)
{
    LphMapBuild m = { 0 };
    WITH_RCU_READ_LOCK_GUARD() {
        flatview_for_each_range(address_space_to_flatview(&address_space_memory), lph_map_range, &m);
    }
    if (m.count == 0 || m.overflow || m.private_bytes > m.shared_bytes) {
        error_setg(errp, "litepcie-hil: guest RAM is not shareable with the device server (%" PRIu64 " bytes in "
                   "fd-backed regions, %" PRIu64 " not, %u regions%s): start QEMU with "
                   "-object memory-backend-memfd,id=mem,size=<RAM>,share=on -machine q35,memory-backend=mem",
                   m.shared_bytes, m.private_bytes, m.count, m.overflow ? ", too many" : "");
        return false;
    }
    size_t len = sizeof(struct lph_memory_map) + m.count * sizeof(struct lph_region);
    g_autofree uint8_t *buf = g_malloc0(len);
    ((struct lph_memory_map *)buf)->count = cpu_to_le32(m.count);
    struct lph_region *r = (struct lph_region *)(buf + sizeof(struct lph_memory_map));
    for (unsigned i = 0; i < m.count; i++) {
        r[i].guest_address = cpu_to_le64(m.regions[i].guest_address);
        r[i].size = cpu_to_le64(m.regions[i].size);
        r[i].fd_offset = cpu_to_le64(m.regions[i].fd_offset);
    }
    if (!lph_status_request(s, LPH_MEMORY_MAP, buf, len, m.fds, m.count)) {
        error_setg(errp, "litepcie-hil: the device server did not accept the guest memory map");
        return false;
    }
    return true;
}

/* ---- lifecycle ------------------------------------------------------------------------------------- */

static int lph_connect(LphState *s, uint32_t role, Error **errp)
{
    int fd = unix_connect(s->socket_path, errp);
    if (fd < 0) {
        error_prepend(errp, "litepcie-hil: no device server at socket=%s: ", s->socket_path);
        return -1;
    }
    struct lph_hello hello = { .version = cpu_to_le32(LPH_PROTOCOL_VERSION), .role = cpu_to_le32(role),
                               .pid = cpu_to_le32(getpid()) };
    if (!lph_send(fd, LPH_HELLO, &hello, sizeof(hello), NULL, 0)) {
        error_setg_errno(errp, errno, "litepcie-hil: sending HELLO to %s", s->socket_path);
        close(fd);
        return -1;
    }
    return fd;
}

static bool lph_check_device(LphState *s, Error **errp)
{
    struct lph_device *d = &s->info;
    if (le32_to_cpu(d->version) != LPH_PROTOCOL_VERSION) {
        error_setg(errp, "litepcie-hil: server speaks protocol %u, this QEMU device %u", le32_to_cpu(d->version), LPH_PROTOCOL_VERSION);
        return false;
    }
    uint32_t cs = le32_to_cpu(d->config_size);
    if (cs != PCIE_CONFIG_SPACE_SIZE) {
        error_setg(errp, "litepcie-hil: device.config_size %u: accepted 4096 (a PCIe function)", cs);
        return false;
    }
    d->board[sizeof(d->board) - 1] = 0;
    for (unsigned i = 0; i < LPH_BARS; i++) {
        uint64_t size = le64_to_cpu(d->bars[i].size);
        uint32_t flags = le32_to_cpu(d->bars[i].flags);
        if (size == 0) {
            continue;
        }
        bool io = flags & LPH_BAR_IO, mem64 = flags & LPH_BAR_MEM64;
        if ((size & (size - 1)) || size < (io ? 4 : 16) || (io && size > 256) || (!mem64 && !io && size > 0x80000000ull)
            || (flags & ~(LPH_BAR_IO | LPH_BAR_MEM64 | LPH_BAR_PREFETCH)) || (io && (flags & ~LPH_BAR_IO))
            || (mem64 && (i == LPH_BARS - 1 || d->bars[i + 1].size != 0))) {
            error_setg(errp, "litepcie-hil: device.bars[%u] size 0x%" PRIx64 " flags 0x%x: accepted a power of two "
                       "(memory 16 B..2 GiB, 64-bit any, IO 4..256 B), flags io|mem64|prefetch, a 64-bit BAR "
                       "followed by an unused slot", i, size, flags);
            return false;
        }
        if (mem64) {
            i++;
        }
    }
    return true;
}

static void lph_realize(PCIDevice *pdev, Error **errp)
{
    LphState *s = LITEPCIE_HIL(pdev);
    if (!s->socket_path || !*s->socket_path) {
        error_setg(errp, "litepcie-hil: socket=<path of the device server's unix socket> is required");
        return;
    }
    if (s->timeout_ms < 10 || s->timeout_ms > 600000) {
        error_setg(errp, "litepcie-hil: timeout-ms=%u: accepted 10..600000", s->timeout_ms);
        return;
    }
    s->mmio_fd = lph_connect(s, LPH_ROLE_MMIO, errp);
    if (s->mmio_fd < 0) {
        return;
    }
    struct lph_header h;
    if (!lph_read_all(s->mmio_fd, &h, sizeof(h), s->timeout_ms) || le16_to_cpu(h.type) != LPH_DEVICE
        || le32_to_cpu(h.length) != sizeof(s->info) || !lph_read_all(s->mmio_fd, &s->info, sizeof(s->info), s->timeout_ms)) {
        error_setg(errp, "litepcie-hil: the device server at %s did not describe its device (expected type 0x%02x, "
                   "%zu bytes, within %u ms)", s->socket_path, LPH_DEVICE, sizeof(s->info), s->timeout_ms);
        goto fail;
    }
    if (!lph_check_device(s, errp)) {
        goto fail;
    }
    s->events_fd = lph_connect(s, LPH_ROLE_EVENTS, errp);
    if (s->events_fd < 0) {
        goto fail;
    }
    if (!lph_read_all(s->events_fd, &h, sizeof(h), s->timeout_ms) || le16_to_cpu(h.type) != LPH_EVENTS_READY
        || le32_to_cpu(h.length) != 0) {
        error_setg(errp, "litepcie-hil: the device server did not accept the events connection");
        goto fail;
    }

    pci_config_set_vendor_id(pdev->config, le16_to_cpu(s->info.vendor_id));
    pci_config_set_device_id(pdev->config, le16_to_cpu(s->info.device_id));
    for (unsigned i = 0; i < LPH_BARS; i++) {
        uint64_t size = le64_to_cpu(s->info.bars[i].size);
        uint32_t flags = le32_to_cpu(s->info.bars[i].flags);
        if (size == 0) {
            continue;
        }
        LphBar *b = &s->bars[i];
        b->s = s;
        b->index = i;
        b->size = size;
        g_autofree char *name = g_strdup_printf("litepcie-hil-bar%u", i);
        memory_region_init_io(&b->mr, OBJECT(s), &lph_bar_ops, b, name, size);
        uint8_t type = (flags & LPH_BAR_IO) ? PCI_BASE_ADDRESS_SPACE_IO
            : PCI_BASE_ADDRESS_SPACE_MEMORY | ((flags & LPH_BAR_MEM64) ? PCI_BASE_ADDRESS_MEM_TYPE_64 : 0)
              | ((flags & LPH_BAR_PREFETCH) ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0);
        pci_register_bar(pdev, i, type, &b->mr);
        if (flags & LPH_BAR_MEM64) {
            i++;
        }
    }

    qemu_mutex_init(&s->msi_lock);
    s->msi_bh = qemu_bh_new(lph_msi_bh, s);
    qemu_thread_create(&s->events_thread, "litepcie-hil-ev", lph_events_thread, s, QEMU_THREAD_JOINABLE);
    s->events_running = true;
    info_report("litepcie-hil: board %s (%04x:%04x) from %s", s->info.board, le16_to_cpu(s->info.vendor_id),
                le16_to_cpu(s->info.device_id), s->socket_path);
    return;

fail:
    if (s->mmio_fd >= 0) {
        close(s->mmio_fd);
        s->mmio_fd = -1;
    }
    if (s->events_fd >= 0) {
        close(s->events_fd);
        s->events_fd = -1;
    }
}

static void lph_exit(PCIDevice *pdev)
{
    LphState *s = LITEPCIE_HIL(pdev);
    if (s->events_running) {
        shutdown(s->events_fd, SHUT_RDWR);
        qemu_thread_join(&s->events_thread);
        s->events_running = false;
        qemu_bh_delete(s->msi_bh);
        qemu_mutex_destroy(&s->msi_lock);
        g_free(s->msi_queue);
    }
    if (s->events_fd >= 0) {
        close(s->events_fd);
    }
    if (s->mmio_fd >= 0) {
        close(s->mmio_fd);
    }
}

static void lph_reset(DeviceState *dev)
{
    LphState *s = LITEPCIE_HIL(dev);
    Error *err = NULL;
    if (s->mmio_fd < 0 || s->dead) {
        return;
    }
    lph_status_request(s, LPH_RESET, NULL, 0, NULL, 0);
    /* The memory map can only change across a machine reset; the server replaces its mapping. */
    if (!lph_send_memory_map(s, &err)) {
        error_report_err(err);
        lph_mark_dead(s, "no DMA path");
    }
}

static void lph_instance_init(Object *obj)
{
    LphState *s = LITEPCIE_HIL(obj);
    s->mmio_fd = -1;
    s->events_fd = -1;
}

static Property lph_properties[] = {
    DEFINE_PROP_STRING("socket", LphState, socket_path),
    DEFINE_PROP_UINT32("timeout-ms", LphState, timeout_ms, 10000),
    DEFINE_PROP_END_OF_LIST(),
};

static void lph_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);
    k->realize = lph_realize;
    k->exit = lph_exit;
    k->config_read = lph_config_read;
    k->config_write = lph_config_write;
    k->vendor_id = 0xffff;   /* replaced at realize by the server's answer */
    k->device_id = 0xffff;
    k->class_id = PCI_CLASS_OTHERS;
    dc->reset = lph_reset;
    dc->desc = "LitePCIe board served by a LitePcie.Hil device server";
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
    device_class_set_props(dc, lph_properties);
}

static const TypeInfo lph_info = {
    .name = TYPE_LITEPCIE_HIL,
    .parent = TYPE_PCI_DEVICE,
    .instance_size = sizeof(LphState),
    .instance_init = lph_instance_init,
    .class_init = lph_class_init,
    .interfaces = (InterfaceInfo[]) { { INTERFACE_PCIE_DEVICE }, { } },
};

static void lph_register_types(void)
{
    type_register_static(&lph_info);
}

type_init(lph_register_types)
