/* Stand-in (dext/typecheck): the OSData calls the glue makes. */
#ifndef LPC_STANDIN_OSDATA_H
#define LPC_STANDIN_OSDATA_H

#include <DriverKit/OSContainer.h>

class OSData : public OSContainer
{
public:
    static OSData * withBytes(const void * bytes, size_t numBytes);
    static OSData * withCapacity(uint32_t capacity);
    size_t getLength() const;
    const void * getBytesNoCopy() const;
    const void * getBytesNoCopy(size_t start, size_t numBytes) const;
    bool appendBytes(const void * bytes, size_t numBytes);
};

#endif
