/* Stand-in (dext/typecheck): DriverKit's umbrella header, for the control compile of Apple's own
 * PCIDriverKit/IOPCIDevice.cpp (our glue includes the individual headers). */
#ifndef LPC_STANDIN_DRIVERKIT_H
#define LPC_STANDIN_DRIVERKIT_H

#include <os/log.h>
#include <DriverKit/IOLib.h>
#include <DriverKit/OSObject.h>
#include <DriverKit/OSAction.h>
#include <DriverKit/OSArray.h>
#include <DriverKit/OSBoolean.h>
#include <DriverKit/OSData.h>
#include <DriverKit/OSDictionary.h>
#include <DriverKit/OSNumber.h>
#include <DriverKit/OSString.h>
#include <DriverKit/IOService.h>
#include <DriverKit/IOUserClient.h>
#include <DriverKit/IOMemoryDescriptor.h>
#include <DriverKit/IOMemoryMap.h>
#include <DriverKit/IOBufferMemoryDescriptor.h>
#include <DriverKit/IODMACommand.h>
#include <DriverKit/IODispatchQueue.h>
#include <DriverKit/IOInterruptDispatchSource.h>

#endif
