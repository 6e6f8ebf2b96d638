#!/usr/bin/env bash
# Streams the dext's log: its own os_log lines ("litepcie: …") and the kernel's DriverKit lines about
# it (matching, entitlement and user-client-access failures).
#
#   scripts/log.sh [dext bundle id]      default: org.litepcie.hil.installer.LitePCIeDriver
#   scripts/log.sh --last 10m            the recent past instead of a live stream
set -euo pipefail

if [[ "${1:-}" == --last ]]; then
    window="${2:-5m}"
    dext_id="${3:-${LPC_DEXT_ID:-org.litepcie.hil.installer.LitePCIeDriver}}"
    verb=(show --last "$window" --info --debug)
else
    dext_id="${1:-${LPC_DEXT_ID:-org.litepcie.hil.installer.LitePCIeDriver}}"
    verb=(stream --level debug)
fi

predicate="process == \"$dext_id\" OR sender == \"$dext_id\" OR eventMessage CONTAINS \"litepcie:\" \
OR (process == \"kernel\" AND (eventMessage CONTAINS \"$dext_id\" OR eventMessage CONTAINS \"LitePCIe\"))"
exec log "${verb[@]}" --style compact --predicate "$predicate"
