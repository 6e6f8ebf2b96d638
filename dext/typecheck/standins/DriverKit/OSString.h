/* Stand-in (dext/typecheck): the OSString calls the glue makes. */
#ifndef LPC_STANDIN_OSSTRING_H
#define LPC_STANDIN_OSSTRING_H

#include <DriverKit/OSContainer.h>

class OSString : public OSContainer
{
public:
    static OSString * withCString(const char * cString);
    const char * getCStringNoCopy() const;
    size_t getLength() const;
};

#endif
