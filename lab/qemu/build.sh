#!/usr/bin/env bash
# Builds qemu-system-x86_64 7.2 from Debian's source package with our LitePCIe device (litepcie-hil.c)
# compiled in, configured down to what the Linux guest of lab/linux-guest needs (q35, PCIe root ports,
# serial, virtio-9p, TCG). Everything is cached under $LITEPCIE_HIL_CACHE (default
# ~/.cache/litepcie-hil): the Debian source is fetched once, the build tree is kept and ninja rebuilds only
# what changed (our device source, on its own, recompiles in seconds).
#
# Prints the path of the binary on its last line. Options: --print-path (no build, path only),
# --force-configure (re-run configure in the kept build tree).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${LITEPCIE_HIL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/litepcie-hil}"
srcdir="$cache/qemu/src"          # pristine Debian source (dpkg-source -x, Debian patches applied)
tree="$cache/qemu/tree"           # source tree with our device added
build="$cache/qemu/build"
bin="$build/qemu-system-x86_64"
log="$cache/qemu/build.log"
force_configure=0
for a in "$@"; do
  case "$a" in
    --print-path) echo "$bin"; exit 0 ;;
    --force-configure) force_configure=1 ;;
    *) echo "lab/qemu/build.sh: unknown option '$a' (accepted: --print-path, --force-configure)" >&2; exit 2 ;;
  esac
done
mkdir -p "$cache/qemu"
say() { echo "qemu-build: $*" >&2; }
# One build at a time per cache (a developer's run and a test run may start together).
exec 9> "$cache/qemu/.lock"
flock -w 3600 9 || { say "another QEMU build holds $cache/qemu/.lock for over an hour"; exit 1; }

# Build dependencies (Debian 12). pkg-config names are how the machine tells us they are present.
need=()
for p in ninja-build meson pkg-config libglib2.0-dev libpixman-1-dev libfdt-dev libcap-ng-dev dpkg-dev python3-venv gcc make; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  say "installing build dependencies: ${need[*]}"
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# 1. Debian's QEMU source, once. deb-src lines for this machine's own suites, passed to apt only for this
#    command (the machine's sources.list is left alone).
if [ ! -f "$srcdir/VERSION" ]; then
  t0=$SECONDS
  dl="$cache/qemu/download"; rm -rf "$dl" "$srcdir"; mkdir -p "$dl/lists/partial"
  . /etc/os-release
  codename="${VERSION_CODENAME:-bookworm}"
  cat > "$dl/sources.list" <<SRC
deb-src http://deb.debian.org/debian $codename main
deb-src http://deb.debian.org/debian $codename-updates main
deb-src http://deb.debian.org/debian-security $codename-security main
SRC
  aptsrc=(-o Dir::Etc::SourceList="$dl/sources.list" -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists="$dl/lists")
  say "fetching Debian's qemu source package"
  apt-get -qq "${aptsrc[@]}" update
  (cd "$dl" && apt-get -qq "${aptsrc[@]}" source --download-only qemu 2>/dev/null)
  dsc=$(ls "$dl"/qemu_*.dsc | head -1)
  dpkg-source -x "$dsc" "$srcdir" >/dev/null
  grep -q '^7\.2' "$srcdir/VERSION" || { say "expected QEMU 7.2, Debian gave $(cat "$srcdir/VERSION")"; exit 1; }
  basename "$dsc" .dsc > "$cache/qemu/debian-version"
  say "source $(cat "$cache/qemu/debian-version") ready in $((SECONDS - t0)) s"
fi

# 2. The tree we build: the pristine source plus our device. Files are copied only when they differ, so
#    ninja sees a change only when there is one.
if [ ! -f "$tree/VERSION" ]; then
  say "preparing the build tree"
  rm -rf "$tree"; cp -a "$srcdir" "$tree"
fi
sync_file() { cmp -s "$1" "$2" 2>/dev/null || cp "$1" "$2"; }
sync_file "$here/litepcie-hil.c" "$tree/hw/misc/litepcie-hil.c"
sync_file "$here/litepcie-hil-proto.h" "$tree/hw/misc/litepcie-hil-proto.h"
grep -q LITEPCIE_HIL "$tree/hw/misc/Kconfig" || printf '\nconfig LITEPCIE_HIL\n    bool\n    default y if PCI_DEVICES\n    depends on PCI\n' >> "$tree/hw/misc/Kconfig"
grep -q litepcie-hil "$tree/hw/misc/meson.build" || echo "softmmu_ss.add(when: 'CONFIG_LITEPCIE_HIL', if_true: files('litepcie-hil.c'))" >> "$tree/hw/misc/meson.build"
# Device set: only what the guest uses (q35 brings its chipset; the rest is listed).
sync_file "$here/devices.mak" "$tree/configs/devices/x86_64-softmmu/litepcie-hil.mak"

# 3. Configure (once, or when its flags change), then ninja.
flags=(--target-list=x86_64-softmmu --without-default-features --without-default-devices
       --with-devices-x86_64=litepcie-hil --enable-tcg --disable-kvm --enable-virtfs --enable-attr
       --enable-cap-ng --disable-docs --disable-werror --disable-install-blobs --disable-debug-info)
stamp="$build/.litepcie-hil-configure"
if [ "$force_configure" = 1 ] || [ ! -f "$build/build.ninja" ] || [ "$(cat "$stamp" 2>/dev/null)" != "${flags[*]}" ] || ! cmp -s "$here/devices.mak" "$build/.devices.mak"; then
  t0=$SECONDS
  rm -rf "$build"; mkdir -p "$build"
  say "configure ${flags[*]}"
  (cd "$build" && "$tree/configure" "${flags[@]}" > "$log" 2>&1) || { tail -30 "$log" >&2; say "configure failed (log: $log)"; exit 1; }
  echo "${flags[*]}" > "$stamp"; cp "$here/devices.mak" "$build/.devices.mak"
  say "configured in $((SECONDS - t0)) s"
fi
t0=$SECONDS
(cd "$build" && ninja qemu-system-x86_64 > "$log" 2>&1) || { sed -n '/FAILED:/,$p' "$log" | grep -v '^\[' | head -40 >&2; say "build failed (log: $log)"; exit 1; }
if [ $((SECONDS - t0)) -gt 5 ]; then say "ninja built qemu-system-x86_64 in $((SECONDS - t0)) s ($(grep -c "^\\[" "$log") steps)"; fi
echo "$bin"
