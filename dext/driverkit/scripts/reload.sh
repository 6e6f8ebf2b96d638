#!/usr/bin/env bash
# Installs the freshly built LitePCIeInstaller.app and (re)activates the dext (development machine).
#
#   scripts/reload.sh [path/to/LitePCIeInstaller.app]   default: build/Build/Products/Debug/…
#   scripts/reload.sh --reset                           systemextensionsctl reset first (SIP off)
#
# Ad-hoc signed dexts need SIP disabled (csrutil disable from Recovery). Developer mode lets the app
# activate extensions from outside /Applications; we still copy it there.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
reset=0
if [[ "${1:-}" == --reset ]]; then
    reset=1
    shift
fi
built="${1:-$root/build/Build/Products/${CONFIGURATION:-Debug}/LitePCIeInstaller.app}"
installed=/Applications/LitePCIeInstaller.app
[[ -d "$built" ]] || { echo "no app at $built (run scripts/build.sh adhoc)" >&2; exit 1; }

systemextensionsctl developer on || true
if [[ $reset == 1 ]]; then
    systemextensionsctl reset
fi

if [[ -d "$installed" ]]; then
    "$installed/Contents/MacOS/LitePCIeInstaller" uninstall || true
    sudo rm -rf "$installed"
fi
sudo cp -R "$built" "$installed"
"$installed/Contents/MacOS/LitePCIeInstaller" install
systemextensionsctl list
echo "check: ioreg -l -w0 -n litepcie   |   scripts/log.sh"
