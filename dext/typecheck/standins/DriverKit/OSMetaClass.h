/* Stand-in (dext/typecheck): the parts of DriverKit's OSMetaClass.h the glue and the published headers use. */
#ifndef LPC_STANDIN_OSMETACLASS_H
#define LPC_STANDIN_OSMETACLASS_H

#include <stddef.h>
#include <stdint.h>
#include <DriverKit/IOReturn.h>
#include <DriverKit/IORPC.h>

class OSObject;
class OSMetaClass;

class OSMetaClassBase
{
public:
    virtual const OSMetaClass * getMetaClass() const;
    virtual void retain() const;
    virtual void release() const;
    virtual bool isEqualTo(const OSMetaClassBase * anObject) const;
    virtual kern_return_t Dispatch(const IORPC rpc);

protected:
    virtual ~OSMetaClassBase();
};

class OSMetaClass : public OSMetaClassBase
{
};

class OSInterface
{
};

/* A checked downcast: `type` must name a class; NULL when inst is not one. */
template <typename T> T * lpc_standin_dynamic_cast(const OSMetaClassBase * inst);
#define OSDynamicCast(type, inst) (lpc_standin_dynamic_cast<type>(inst))
#define OSRequiredCast(type, inst) (lpc_standin_dynamic_cast<type>(inst))

#define OSSafeReleaseNULL(inst) do { if (inst) { (inst)->release(); } (inst) = NULL; } while (0)

/* The superclass's dispatcher, passed as the trailing argument of an RPC wrapper to call super. */
#define SUPERDISPATCH ((OSDispatchMethod) &super::_Dispatch)

#endif
