/* Stand-in (dext/typecheck): the parts of DriverKit's IOLib.h the glue uses. */
#ifndef LPC_STANDIN_IOLIB_H
#define LPC_STANDIN_IOLIB_H

#include <stddef.h>
#include <stdint.h>
#include <DriverKit/IOReturn.h>
#include <mach/mach_time.h>

extern "C" {
void * IOMalloc(size_t length);
void * IOMallocZero(size_t length);
void IOFree(void * address, size_t length);

typedef struct IOLock IOLock;
IOLock * IOLockAlloc(void);
void IOLockFree(IOLock * lock);
void IOLockLock(IOLock * lock);
void IOLockUnlock(IOLock * lock);
bool IOLockTryLock(IOLock * lock);

void IOSleep(uint64_t milliseconds);
void IODelay(uint64_t microseconds);

extern uint64_t IOVMPageSize;
}

#define IONew(type, count) ((type *) IOMalloc(sizeof(type) * (count)))
#define IONewZero(type, count) ((type *) IOMallocZero(sizeof(type) * (count)))
#define IODelete(ptr, type, count) IOFree((ptr), sizeof(type) * (count))
#define IOSafeDeleteNULL(ptr, type, count) do { if (NULL != (ptr)) { IODelete((ptr), type, count); (ptr) = NULL; } } while (0)

#endif
