/* Stand-in (dext/typecheck): the OSNumber calls the glue makes. */
#ifndef LPC_STANDIN_OSNUMBER_H
#define LPC_STANDIN_OSNUMBER_H

#include <DriverKit/OSContainer.h>

class OSNumber : public OSContainer
{
public:
    static OSNumber * withNumber(uint64_t value, size_t numberOfBits);
    uint32_t unsigned32BitValue() const;
    uint64_t unsigned64BitValue() const;
};

#endif
