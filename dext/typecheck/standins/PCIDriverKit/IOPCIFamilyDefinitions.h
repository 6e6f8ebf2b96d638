/* Stand-in (dext/typecheck): the PCIDriverKit constants the glue uses, with Apple's documented values. */
#ifndef LPC_STANDIN_IOPCIFAMILYDEFINITIONS_H
#define LPC_STANDIN_IOPCIFAMILYDEFINITIONS_H

#include <stdint.h>

enum {
    kIOPCIConfigurationOffsetVendorID = 0x00,
    kIOPCIConfigurationOffsetDeviceID = 0x02,
    kIOPCIConfigurationOffsetCommand = 0x04,
    kIOPCIConfigurationOffsetStatus = 0x06,
    kIOPCIConfigurationOffsetRevisionID = 0x08,
    kIOPCIConfigurationOffsetBaseAddress0 = 0x10,
};

enum {
    kIOPCICommandIOSpace = 0x0001,
    kIOPCICommandMemorySpace = 0x0002,
    kIOPCICommandBusMaster = 0x0004,
};

/* Interrupt types (IOInterruptDispatchSource::GetInterruptType, IOPCIDevice::ConfigureInterrupts). */
enum {
    kIOInterruptTypeEdge = 0x00000000,
    kIOInterruptTypeLevel = 0x00000001,
    kIOInterruptTypePCIMessaged = 0x00010000,
    kIOInterruptTypePCIMessagedX = 0x00020000,
};

enum tIOPCIDeviceResetTypes {
    kIOPCIDeviceResetTypeHotReset = 0x01,
    kIOPCIDeviceResetTypeWarmReset = 0x02,
    kIOPCIDeviceResetTypeWarmResetDisable = 0x04,
    kIOPCIDeviceResetTypeWarmResetEnable = 0x08,
    kIOPCIDeviceResetTypeFunctionReset = 0x10,
};

enum tIOPCIDeviceResetOptions {
    kIOPCIDeviceResetOptionNone = 0x0,
    kIOPCIDeviceResetOptionTerminate = 0x1,
};

/* Access options of the memory accessors. */
enum tIOPCIAccessOptions {
    kIOPCIAccessLatencyTolerantHint = 0x1,
};

/* Registry keys Apple's IOPCIDevice.cpp reads (the control compile); the glue does not use them. */
#define kIOPCIDeviceMemoryArrayKey "IODeviceMemory"
#define kIOPCIKernelMemoryAccess "IOPCIKernelMemoryAccess"

#endif
