/* Stand-in (dext/typecheck): the OSBoolean singletons. */
#ifndef LPC_STANDIN_OSBOOLEAN_H
#define LPC_STANDIN_OSBOOLEAN_H

#include <DriverKit/OSContainer.h>

class OSBoolean : public OSContainer
{
public:
    bool isTrue() const;
    bool isFalse() const;
};

extern OSBoolean * const kOSBooleanTrue;
extern OSBoolean * const kOSBooleanFalse;

#endif
