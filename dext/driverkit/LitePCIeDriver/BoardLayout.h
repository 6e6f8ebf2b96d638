// The board layout the dext is built for: BAR0 register offsets, MSI flavour and interrupt bits,
// BAR sizes, DMA address width, ring geometry and the expected config_identifier.
//
// The definition is NOT written by hand. It comes from a generated file, BoardLayout.generated.cpp,
// produced from the board's LiteX csr.json (or a board profile) by:
//
//   dotnet run --project framework/LitePcie.Hil.Cli -- board-header --board <profile|csr.json> --out dext/driverkit/LitePCIeDriver/BoardLayout.generated.cpp
//
// Regenerate it whenever the bitstream changes: the core compares the identifier ROM with
// expectedIdentifier at Start and flags a mismatch (LPC_FLAG_IDENT_MISMATCH), and refuses a layout
// whose offsets do not fit the BARs. The Xcode target compiles the generated file when it exists;
// without it the link fails on kLitePcieBoardLayout, on purpose.
#ifndef LITEPCIE_DRIVERKIT_BOARD_LAYOUT_H
#define LITEPCIE_DRIVERKIT_BOARD_LAYOUT_H

#include "lpc/LitePcieAbi.h"

extern const LpcBoardLayout kLitePcieBoardLayout;

#endif /* LITEPCIE_DRIVERKIT_BOARD_LAYOUT_H */
