/* Stand-in (dext/typecheck): the OSArray calls Apple's IOPCIDevice.cpp makes (the control compile). */
#ifndef LPC_STANDIN_OSARRAY_H
#define LPC_STANDIN_OSARRAY_H

#include <DriverKit/OSContainer.h>

class OSArray : public OSContainer
{
public:
    static OSArray * withCapacity(uint32_t capacity);
    uint32_t getCount() const;
    OSObject * getObject(uint32_t index) const;
    bool setObject(const OSMetaClassBase * anObject);
};

#endif
