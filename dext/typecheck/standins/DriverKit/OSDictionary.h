/* Stand-in (dext/typecheck): the OSDictionary calls the glue makes. */
#ifndef LPC_STANDIN_OSDICTIONARY_H
#define LPC_STANDIN_OSDICTIONARY_H

#include <DriverKit/OSContainer.h>

class OSString;

class OSDictionary : public OSContainer
{
public:
    static OSDictionary * withCapacity(uint32_t capacity);
    bool setObject(const char * key, const OSMetaClassBase * anObject);
    bool setObject(const OSString * key, const OSMetaClassBase * anObject);
    OSObject * getObject(const char * key) const;
    uint32_t getCount() const;
};

#endif
