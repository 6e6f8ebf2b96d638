/* Stand-in (dext/typecheck): mach_absolute_time and its timebase. */
#ifndef LPC_STANDIN_MACH_TIME_H
#define LPC_STANDIN_MACH_TIME_H

#include <stdint.h>
#include <DriverKit/IOReturn.h>

struct mach_timebase_info {
    uint32_t numer;
    uint32_t denom;
};
typedef struct mach_timebase_info * mach_timebase_info_t;
typedef struct mach_timebase_info mach_timebase_info_data_t;

extern "C" {
kern_return_t mach_timebase_info(mach_timebase_info_t info);
uint64_t mach_absolute_time(void);
uint64_t mach_continuous_time(void);
}

#endif
