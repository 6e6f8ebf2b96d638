// Prints the size and field offsets of every ABI struct as JSON, for the C# ABI conformance test.
#include <stddef.h>
#include <stdio.h>

#include "lpc/LitePcieAbi.h"
#include "lpc_sil.h"

#define FIELD(type, field) printf("%s\"%s\":%zu", first ? "" : ",", #field, offsetof(type, field)), first = 0
#define BEGIN(type) printf("%s\"%s\":{\"size\":%zu,\"fields\":{", firstType ? "" : ",", #type, sizeof(type)), firstType = 0, first = 1
#define END() printf("}}")

int main() {
    int firstType = 1;
    int first = 1;
    printf("{\"abi\":%u,", (LPC_ABI_MAJOR << 16) | LPC_ABI_MINOR);
    printf("\"constants\":{\"methodCount\":%d,\"maxChannels\":%u,\"statusPageBytes\":%u,\"identifierBytes\":%u,\"maxSegments\":%u},",
           (int)kLpcMethodCount, LPC_MAX_CHANNELS, LPC_STATUS_PAGE_BYTES, LPC_IDENTIFIER_BYTES, LPC_MAX_SEGMENTS);
    printf("\"structs\":{");

    BEGIN(LpcEngineRegs);
    FIELD(LpcEngineRegs, enable); FIELD(LpcEngineRegs, tableValue); FIELD(LpcEngineRegs, tableWe);
    FIELD(LpcEngineRegs, loopProgN); FIELD(LpcEngineRegs, loopStatus); FIELD(LpcEngineRegs, level);
    FIELD(LpcEngineRegs, tableReset); FIELD(LpcEngineRegs, reserved);
    END();

    BEGIN(LpcChannelLayout);
    FIELD(LpcChannelLayout, writer); FIELD(LpcChannelLayout, reader); FIELD(LpcChannelLayout, blockBase);
    FIELD(LpcChannelLayout, blockSize); FIELD(LpcChannelLayout, loopbackEnable); FIELD(LpcChannelLayout, features);
    FIELD(LpcChannelLayout, writerIrq); FIELD(LpcChannelLayout, readerIrq); FIELD(LpcChannelLayout, reserved);
    END();

    BEGIN(LpcBoardLayout);
    FIELD(LpcBoardLayout, magic); FIELD(LpcBoardLayout, abiMajor); FIELD(LpcBoardLayout, abiMinor);
    FIELD(LpcBoardLayout, channelCount); FIELD(LpcBoardLayout, msiFlavour); FIELD(LpcBoardLayout, msiEnable);
    FIELD(LpcBoardLayout, msiEnableWords); FIELD(LpcBoardLayout, msiClear); FIELD(LpcBoardLayout, msiVector);
    FIELD(LpcBoardLayout, msiPba); FIELD(LpcBoardLayout, msixTable); FIELD(LpcBoardLayout, msixTableBytes);
    FIELD(LpcBoardLayout, ctrlReset); FIELD(LpcBoardLayout, ctrlScratch); FIELD(LpcBoardLayout, ctrlBusErrors);
    FIELD(LpcBoardLayout, identifierBase); FIELD(LpcBoardLayout, dmaAddressWidth); FIELD(LpcBoardLayout, bufferCount);
    FIELD(LpcBoardLayout, bufferSize); FIELD(LpcBoardLayout, csrBar); FIELD(LpcBoardLayout, reserved0);
    FIELD(LpcBoardLayout, barSizes); FIELD(LpcBoardLayout, expectedIdentifier); FIELD(LpcBoardLayout, channels);
    END();

    BEGIN(LpcInfo);
    FIELD(LpcInfo, magic); FIELD(LpcInfo, abiMajor); FIELD(LpcInfo, abiMinor); FIELD(LpcInfo, channelCount);
    FIELD(LpcInfo, bufferCount); FIELD(LpcInfo, bufferSize); FIELD(LpcInfo, dmaAddressWidth); FIELD(LpcInfo, msiFlavour);
    FIELD(LpcInfo, flags); FIELD(LpcInfo, vendorId); FIELD(LpcInfo, deviceId); FIELD(LpcInfo, revision);
    FIELD(LpcInfo, reserved0); FIELD(LpcInfo, classCode); FIELD(LpcInfo, channelFeatures); FIELD(LpcInfo, reserved1);
    FIELD(LpcInfo, generation); FIELD(LpcInfo, barSizes); FIELD(LpcInfo, identifier);
    END();

    BEGIN(LpcStatusHeader);
    FIELD(LpcStatusHeader, magic); FIELD(LpcStatusHeader, abiMajor); FIELD(LpcStatusHeader, abiMinor);
    FIELD(LpcStatusHeader, channelCount); FIELD(LpcStatusHeader, bufferCount); FIELD(LpcStatusHeader, bufferSize);
    FIELD(LpcStatusHeader, reserved0); FIELD(LpcStatusHeader, generation); FIELD(LpcStatusHeader, flags);
    FIELD(LpcStatusHeader, msiCount); FIELD(LpcStatusHeader, spuriousCount); FIELD(LpcStatusHeader, reserved1);
    END();

    BEGIN(LpcDirStatus);
    FIELD(LpcDirStatus, hwCount); FIELD(LpcDirStatus, lostCount); FIELD(LpcDirStatus, clientAck);
    FIELD(LpcDirStatus, lastIrqTime); FIELD(LpcDirStatus, irqCount); FIELD(LpcDirStatus, running);
    FIELD(LpcDirStatus, irqEvery); FIELD(LpcDirStatus, generation); FIELD(LpcDirStatus, reserved);
    END();

    BEGIN(LpcErrorInfo);
    FIELD(LpcErrorInfo, selector); FIELD(LpcErrorInfo, argument); FIELD(LpcErrorInfo, status);
    FIELD(LpcErrorInfo, reserved); FIELD(LpcErrorInfo, message);
    END();

    BEGIN(LpcSilDmaBuffer);
    FIELD(LpcSilDmaBuffer, cpuAddress); FIELD(LpcSilDmaBuffer, length); FIELD(LpcSilDmaBuffer, handle);
    FIELD(LpcSilDmaBuffer, segmentCount); FIELD(LpcSilDmaBuffer, reserved); FIELD(LpcSilDmaBuffer, segments);
    END();

    BEGIN(LpcSilStats);
    FIELD(LpcSilStats, liveDmaBuffers); FIELD(LpcSilStats, liveDmaBytes); FIELD(LpcSilStats, liveSharedBytes);
    FIELD(LpcSilStats, pendingWaits); FIELD(LpcSilStats, clientsOpened); FIELD(LpcSilStats, interrupts);
    FIELD(LpcSilStats, liveDevices); FIELD(LpcSilStats, liveTimers); FIELD(LpcSilStats, nativeAllocations); FIELD(LpcSilStats, nativeBytes);
    END();

    printf("}}\n");
    return 0;
}
