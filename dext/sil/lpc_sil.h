// Software-in-the-loop host of the dext core: the C API the C# simulation backend calls.
//
// This library plays the part DriverKit plays on macOS: it owns one lpc::Core per simulated device,
// supplies the lock and wait timers, and forwards device access (MMIO, config space, DMA memory) and
// async completions to the C# host through callbacks. The core itself is byte-for-byte the code the
// dext runs.
#ifndef LPC_SIL_H
#define LPC_SIL_H

#include <stdint.h>

#include "lpc/LitePcieAbi.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define LPC_SIL_API __attribute__((visibility("default")))
#else
#define LPC_SIL_API
#endif

typedef struct LpcSilSegment {
    uint64_t busAddress;
    uint64_t length;
} LpcSilSegment;

/* A DMA buffer the host allocated in its simulated IOVA space. */
typedef struct LpcSilDmaBuffer {
    uint64_t cpuAddress;
    uint64_t length;
    uint64_t handle; /* host's identifier, given back to freeDma */
    uint32_t segmentCount;
    uint32_t reserved;
    LpcSilSegment segments[LPC_MAX_SEGMENTS];
} LpcSilDmaBuffer;

typedef struct LpcSilCallbacks {
    void* context;
    uint32_t (*mmioRead32)(void* context, uint32_t bar, uint64_t offset);
    void (*mmioWrite32)(void* context, uint32_t bar, uint64_t offset, uint32_t value);
    uint32_t (*configRead32)(void* context, uint32_t offset);
    void (*configWrite16)(void* context, uint32_t offset, uint16_t value);
    int32_t (*allocateDma)(void* context, uint64_t bytes, uint32_t maxAddressBits, LpcSilDmaBuffer* out);
    void (*freeDma)(void* context, uint64_t handle);
    void (*completeAsync)(void* context, uint64_t token, int32_t status, const uint64_t* args, uint32_t count);
    int32_t (*resetFunction)(void* context, uint32_t type);
    void (*log)(void* context, const char* message);
} LpcSilCallbacks;

/* Driver-side resource counters (what the resource probe samples). */
typedef struct LpcSilStats {
    uint64_t liveDmaBuffers;
    uint64_t liveDmaBytes;
    uint64_t liveSharedBytes;
    uint64_t pendingWaits;
    uint64_t clientsOpened;
    uint64_t interrupts;
    uint64_t liveDevices;  /* lpc_sil_create minus lpc_sil_destroy, process-wide */
    uint64_t liveTimers;   /* armed wait timers of this device */
    uint64_t nativeAllocations; /* live heap allocations of this library (SIL host + dext core), process-wide */
    uint64_t nativeBytes;       /* their usable bytes */
} LpcSilStats;

typedef struct LpcSilDevice LpcSilDevice;

LPC_SIL_API uint32_t lpc_sil_abi_version(void); /* (LPC_ABI_MAJOR << 16) | LPC_ABI_MINOR */
LPC_SIL_API uint64_t lpc_sil_now_ns(void);      /* the clock of lastIrqTime and wait deadlines */

LPC_SIL_API LpcSilDevice* lpc_sil_create(const LpcSilCallbacks* callbacks);
LPC_SIL_API int32_t lpc_sil_start(LpcSilDevice* device, const LpcBoardLayout* layout);
LPC_SIL_API void lpc_sil_stop(LpcSilDevice* device);
LPC_SIL_API void lpc_sil_destroy(LpcSilDevice* device);

LPC_SIL_API int32_t lpc_sil_open(LpcSilDevice* device, uint32_t type, uint32_t* client);
LPC_SIL_API void lpc_sil_close(LpcSilDevice* device, uint32_t client);
LPC_SIL_API int32_t lpc_sil_call(LpcSilDevice* device, uint32_t client, uint64_t selector,
                                 const uint64_t* scalarInput, uint32_t scalarInputCount,
                                 const void* structInput, uint64_t structInputSize,
                                 uint64_t* scalarOutput, uint32_t scalarOutputCount,
                                 void* structOutput, uint64_t structOutputCapacity, uint64_t* structOutputSize,
                                 uint32_t hasCompletion, uint64_t asyncToken, uint32_t* asyncTokenTaken);
LPC_SIL_API int32_t lpc_sil_map(LpcSilDevice* device, uint32_t client, uint64_t type,
                                uint64_t* address, uint64_t* length, uint32_t* readOnly);

LPC_SIL_API void lpc_sil_interrupt(LpcSilDevice* device, uint32_t vector, uint64_t timeNs);
LPC_SIL_API void lpc_sil_set_power(LpcSilDevice* device, uint32_t on);
LPC_SIL_API void lpc_sil_device_removed(LpcSilDevice* device);
LPC_SIL_API void lpc_sil_stats(LpcSilDevice* device, LpcSilStats* out);

/* Fault injection (driver-native-leak): allocates `bytes` in this library's heap and never frees them. */
LPC_SIL_API void lpc_sil_debug_leak(uint64_t bytes);

#ifdef __cplusplus
}
#endif

#endif
