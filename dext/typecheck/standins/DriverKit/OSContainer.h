/* Stand-in (dext/typecheck): DriverKit's serializable container base class. */
#ifndef LPC_STANDIN_OSCONTAINER_H
#define LPC_STANDIN_OSCONTAINER_H

#include <DriverKit/OSObject.h>

class OSContainer : public OSObject
{
};

#endif
