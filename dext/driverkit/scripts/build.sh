#!/usr/bin/env bash
# Builds the LitePCIe dext and the LitePCIeInstaller app that embeds it (macOS + Xcode only).
#
#   scripts/build.sh              CI: no signing identity needed (CODE_SIGNING_ALLOWED=NO); proves the
#                                 dext compiles (iig, DriverKit SDK) and the plists are valid.
#   scripts/build.sh adhoc        SIP-off development machine: builds unsigned, then signs the dext
#                                 ad hoc with the Dev entitlements (allow-any-userclient-access) and
#                                 the app ad hoc. Install with scripts/reload.sh.
#   scripts/build.sh devid        Distribution: IDENTITY="Developer ID Application: … (TEAM)",
#                                 DEXT_PROFILE=…provisionprofile, APP_PROFILE=…provisionprofile;
#                                 Release entitlements, hardened runtime, timestamp. Notarize after.
#
# Environment: CONFIGURATION (Debug; devid forces Release), DERIVED_DATA (./build),
#              LPC_APP_BUNDLE_ID (org.litepcie.hil.installer; the dext is <it>.LitePCIeDriver),
#              LPC_PCI_BUILTIN=1 for a board the Mac marks built-in (ioreg shows "built-in" on its
#              IOPCIDevice): signs with com.apple.developer.driverkit.builtin added to transport.pci.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
mode="${1:-ci}"
config="${CONFIGURATION:-Debug}"
[[ "$mode" == devid ]] && config=Release
derived="${DERIVED_DATA:-$root/build}"
app_id="${LPC_APP_BUNDLE_ID:-org.litepcie.hil.installer}"
dext_id="$app_id.LitePCIeDriver"

if [[ ! -f LitePCIeDriver/BoardLayout.generated.cpp ]]; then
    echo "LitePCIeDriver/BoardLayout.generated.cpp is missing. Generate it for your board first:" >&2
    echo "  dotnet run --project framework/LitePcie.Hil.Cli -- board-header --board <profile|csr.json> \\" >&2
    echo "      --out dext/driverkit/LitePCIeDriver/BoardLayout.generated.cpp" >&2
    exit 1
fi

for f in LitePCIeDriver/Info.plist LitePCIeDriver/*.entitlements; do
    plutil -lint "$f"
done

if command -v xcodegen >/dev/null 2>&1; then
    xcodegen generate --spec project.yml
elif [[ ! -d LitePCIe.xcodeproj ]]; then
    echo "xcodegen not found (brew install xcodegen) and no LitePCIe.xcodeproj" >&2
    exit 1
fi

# Always build unsigned; signing is done explicitly below so that it does not depend on Xcode's
# automatic signing or a development team.
xcodebuild -project LitePCIe.xcodeproj -scheme LitePCIeInstaller -configuration "$config" \
    -derivedDataPath "$derived" LPC_APP_BUNDLE_ID="$app_id" \
    CODE_SIGNING_ALLOWED=NO CODE_SIGNING_REQUIRED=NO CODE_SIGN_IDENTITY="" build

app="$derived/Build/Products/$config/LitePCIeInstaller.app"
dext="$app/Contents/Library/SystemExtensions/$dext_id.dext"
[[ -d "$dext" ]] || { echo "expected $dext" >&2; exit 1; }

app_entitlements="$(mktemp -t litepcie-app)"
dev_entitlements=LitePCIeDriver/LitePCIeDriver.Dev.entitlements
release_entitlements=LitePCIeDriver/LitePCIeDriver.entitlements
trap 'rm -f "$app_entitlements" "${builtin_dev:-}" "${builtin_release:-}"' EXIT
if [[ "${LPC_PCI_BUILTIN:-0}" == 1 ]]; then
    # IOPCIFamily (IOPCIDevice::matchPropertyTable) matches a dext to a device that has the "built-in"
    # property only when the transport.pci array also holds this string. Apple grants it, if at all,
    # like the other DriverKit entitlements (docs/dext.md).
    builtin_dev="$(mktemp -t litepcie-dev)"
    builtin_release="$(mktemp -t litepcie-release)"
    cp "$dev_entitlements" "$builtin_dev"
    cp "$release_entitlements" "$builtin_release"
    for f in "$builtin_dev" "$builtin_release"; do
        /usr/libexec/PlistBuddy -c "Add :com.apple.developer.driverkit.transport.pci:0 string com.apple.developer.driverkit.builtin" "$f"
    done
    dev_entitlements="$builtin_dev"
    release_entitlements="$builtin_release"
fi
cat >"$app_entitlements" <<PLIST
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>com.apple.developer.system-extension.install</key>
  <true/>
  <key>com.apple.developer.driverkit.userclient-access</key>
  <array>
    <string>$dext_id</string>
  </array>
</dict>
</plist>
PLIST

case "$mode" in
ci)
    echo "built (unsigned): $app"
    ;;
adhoc)
    codesign --force --sign - --entitlements "$dev_entitlements" "$dext"
    codesign --force --sign - --entitlements "$app_entitlements" "$app"
    codesign --verify --deep --strict --verbose=2 "$app"
    echo "ad-hoc signed (needs SIP off): $app"
    ;;
devid)
    : "${IDENTITY:?set IDENTITY to your Developer ID Application identity}"
    : "${DEXT_PROFILE:?set DEXT_PROFILE to the dext's provisioning profile}"
    : "${APP_PROFILE:?set APP_PROFILE to the app's provisioning profile}"
    cp "$DEXT_PROFILE" "$dext/embedded.provisionprofile"
    cp "$APP_PROFILE" "$app/Contents/embedded.provisionprofile"
    codesign --force --sign "$IDENTITY" --options runtime --timestamp \
        --entitlements "$release_entitlements" "$dext"
    codesign --force --sign "$IDENTITY" --options runtime --timestamp --entitlements "$app_entitlements" "$app"
    codesign --verify --deep --strict --verbose=2 "$app"
    spctl -a -vv "$app" || echo "spctl: not accepted yet (notarize: xcrun notarytool submit … --wait; xcrun stapler staple)"
    echo "Developer ID signed: $app"
    ;;
*)
    echo "usage: scripts/build.sh [ci|adhoc|devid]" >&2
    exit 2
    ;;
esac
