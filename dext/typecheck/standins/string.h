/* Stand-in (dext/typecheck): the C string functions DriverKit's OSObject.h includes <string.h> for. */
#ifndef LPC_STANDIN_STRING_H
#define LPC_STANDIN_STRING_H

#include <stddef.h>

extern "C" {
void * memcpy(void * dst, const void * src, size_t n);
void * memmove(void * dst, const void * src, size_t n);
void * memset(void * b, int c, size_t len);
int memcmp(const void * s1, const void * s2, size_t n);
size_t strlen(const char * s);
int strcmp(const char * s1, const char * s2);
int strncmp(const char * s1, const char * s2, size_t n);
size_t strlcpy(char * dst, const char * src, size_t size);
size_t strlcat(char * dst, const char * src, size_t size);
}

#endif
