/* Stand-in (dext/typecheck): os_log with the format checking clang applies to the real one. */
#ifndef LPC_STANDIN_OS_LOG_H
#define LPC_STANDIN_OS_LOG_H

#include <stdint.h>

typedef struct os_log_s * os_log_t;
extern struct os_log_s _os_log_default;
#define OS_LOG_DEFAULT (&_os_log_default)

extern "C" void lpc_standin_os_log(os_log_t log, const char * format, ...) __attribute__((format(os_log, 2, 3)));
#define os_log(log, format, ...) lpc_standin_os_log((log), format, ##__VA_ARGS__)
#define os_log_error(log, format, ...) lpc_standin_os_log((log), format, ##__VA_ARGS__)
#define os_log_debug(log, format, ...) lpc_standin_os_log((log), format, ##__VA_ARGS__)

#endif
