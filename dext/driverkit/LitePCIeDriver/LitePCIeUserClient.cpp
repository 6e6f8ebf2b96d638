// LitePCIeUserClient: IOUserClientMethodArguments ↔ lpc::MethodArgs, nothing else.
//
// Argument checking: the core's dispatch table (lpc::validation::Shape, dext/core/src/Validation.cpp)
// applies exactly the IOUserClientMethodDispatch rules (scalar input count, struct input size, scalar
// output count and struct output size must equal the method's, completion required or refused) and
// records which rule refused a call for kLpcGetLastError. That is why ExternalMethod does not pass a
// dispatch table to IOUserClient::ExternalMethod (super is not needed): the same checks would run
// twice and a refusal by super would not be explained to the client. The per-method range checks
// (offsets, channels, counts, ownership) are the core's as well and are unit-tested on Linux.

#include <os/log.h>

#include <DriverKit/IOLib.h>
#include <DriverKit/IOUserClient.h>
#include <DriverKit/OSAction.h>
#include <DriverKit/OSData.h>

#include "LitePCIeUserClient.h"
#include "LitePCIeDriver.h"

#include "lpc/Core.hpp"
#include "lpc/LitePcieAbi.h"
#include "lpc/Validation.hpp"

namespace {

// Largest struct output of any method (LpcInfo); the call's structureOutputMaximumSize must equal the
// method's own size, which the core checks.
constexpr uint64_t kMaxStructOutput = 512;
static_assert(sizeof(LpcInfo) <= kMaxStructOutput, "struct output buffer");
static_assert(sizeof(LpcDirStatus) <= kMaxStructOutput, "struct output buffer");
static_assert(sizeof(LpcErrorInfo) <= kMaxStructOutput, "struct output buffer");

} // namespace

struct LitePCIeUserClient_IVars {
    LitePCIeDriver* driver; // retained from Start to Stop
    uint32_t clientId;      // the core's id for this connection; 0 = not attached
};

bool LitePCIeUserClient::init()
{
    if (!super::init()) {
        return false;
    }
    ivars = IONewZero(LitePCIeUserClient_IVars, 1);
    return ivars != nullptr;
}

void LitePCIeUserClient::free()
{
    if (ivars != nullptr) {
        OSSafeReleaseNULL(ivars->driver);
        IOSafeDeleteNULL(ivars, LitePCIeUserClient_IVars, 1);
    }
    super::free();
}

kern_return_t IMPL(LitePCIeUserClient, Start)
{
    kern_return_t ret = Start(provider, SUPERDISPATCH);
    if (ret != kIOReturnSuccess) {
        return ret;
    }
    if (ivars == nullptr) {
        return kIOReturnNoMemory;
    }
    LitePCIeDriver* driver = OSDynamicCast(LitePCIeDriver, provider);
    if (driver == nullptr) {
        return kIOReturnNoDevice;
    }
    driver->retain();
    uint32_t clientId = 0;
    // Core OpenClient: one client per device (kIOReturnExclusiveAccess), type 0 only.
    ret = driver->AttachClient(this, 0, &clientId);
    if (ret != kIOReturnSuccess) {
        os_log(OS_LOG_DEFAULT, "litepcie: user client refused: 0x%08x", ret);
        driver->release();
        return ret;
    }
    ivars->driver = driver;
    ivars->clientId = clientId;
    return kIOReturnSuccess;
}

kern_return_t IMPL(LitePCIeUserClient, Stop)
{
    // Reached on IOServiceClose and on client death (IOUserUserClient::clientClose → terminate).
    if (ivars != nullptr && ivars->driver != nullptr) {
        if (ivars->clientId != 0) {
            // Stops the channels this client owned and completes its waits (kIOReturnAborted) before
            // returning, so no AsyncCompletion targets this client after super Stop.
            ivars->driver->DetachClient(this, ivars->clientId);
            ivars->clientId = 0;
        }
        OSSafeReleaseNULL(ivars->driver);
    }
    return Stop(provider, SUPERDISPATCH);
}

kern_return_t LitePCIeUserClient::ExternalMethod(uint64_t selector, IOUserClientMethodArguments* arguments,
                                                 const IOUserClientMethodDispatch* dispatch, OSObject* target,
                                                 void* reference)
{
    // No IOUserClientMethodDispatch table and no super::ExternalMethod: see the file comment.
    (void)dispatch;
    (void)target;
    (void)reference;
    if (selector >= kLpcMethodCount) {
        return kIOReturnUnsupported;
    }
    if (arguments == nullptr) {
        return kIOReturnBadArgument;
    }
    if (ivars == nullptr || ivars->driver == nullptr || ivars->clientId == 0) {
        return kIOReturnNotOpen;
    }
    // Every structure of this ABI is inband (≤ 4096 bytes): a descriptor means a client that does
    // not speak it. Refuse rather than map client memory.
    if (arguments->structureInputDescriptor != nullptr || arguments->structureOutputDescriptor != nullptr) {
        return kIOReturnBadArgument;
    }

    lpc::MethodArgs a;
    a.scalarInput = arguments->scalarInput;
    a.scalarInputCount = arguments->scalarInputCount;
    if (arguments->structureInput != nullptr) {
        a.structInput = arguments->structureInput->getBytesNoCopy();
        a.structInputSize = arguments->structureInput->getLength();
    }
    a.scalarOutput = arguments->scalarOutput;
    a.scalarOutputCount = arguments->scalarOutputCount;

    // Struct output: a local buffer of the method's size, returned as OSData. When the caller's
    // maximum is not exactly the method's size, no buffer is passed and the core refuses the call
    // (and says why in kLpcGetLastError).
    uint64_t output[kMaxStructOutput / sizeof(uint64_t)] = {};
    const lpc::validation::MethodShape& shape = lpc::validation::Shape(static_cast<uint32_t>(selector));
    a.structOutputCapacity = arguments->structureOutputMaximumSize;
    if (shape.structOut != 0 && arguments->structureOutputMaximumSize == shape.structOut) {
        a.structOutput = output;
    }

    // Async reference: retained in the driver's token table; the core only sees the token.
    uint64_t token = 0;
    if (arguments->completion != nullptr) {
        const kern_return_t ret = ivars->driver->RegisterCompletion(this, arguments->completion, &token);
        if (ret != kIOReturnSuccess) {
            return ret;
        }
        a.hasCompletion = 1;
        a.asyncToken = token;
    }

    const kern_return_t status = ivars->driver->CallMethod(ivars->clientId, selector, &a);

    if (token != 0 && a.asyncTokenTaken == 0) {
        ivars->driver->DropCompletion(token); // refused: the core will never complete it
    }
    if (status == kIOReturnSuccess && a.structOutputSize != 0) {
        OSData* data = OSData::withBytes(output, static_cast<size_t>(a.structOutputSize));
        if (data == nullptr) {
            return kIOReturnNoMemory;
        }
        arguments->structureOutput = data; // released by the OS
    }
    return status;
}

kern_return_t IMPL(LitePCIeUserClient, CopyClientMemoryForType)
{
    if (options == nullptr || memory == nullptr) {
        return kIOReturnBadArgument;
    }
    *memory = nullptr;
    if (ivars == nullptr || ivars->driver == nullptr || ivars->clientId == 0) {
        return kIOReturnNotOpen;
    }
    // The core decodes `type` strictly and says whether the client may write; the driver returns the
    // descriptor that backs it (retained, the same instance per type) and sets
    // kIOUserClientMemoryReadOnly for the status page and the writer rings.
    return ivars->driver->CopyClientMemory(ivars->clientId, type, options, memory);
}
