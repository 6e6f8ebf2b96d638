#!/usr/bin/env bash
# Builds what the Linux guest tier needs, each piece only when it is missing or its inputs changed:
#   - QEMU with our litepcie-hil device                    (lab/qemu/build.sh, cached under $LITEPCIE_HIL_CACHE)
#   - Debian's kernel image for the installed linux-headers-amd64 (apt-get download + dpkg-deb -x, cached)
#   - per board: csr.h/soc.h from the board's csr.json (litepcie-hil litex-headers), the real litepcie.ko built
#     unmodified from ../shared/vendor/litepcie (and once more with lab/linux-guest/patches applied to a copy),
#     upstream litepcie_util/litepcie_test linked statically against the same headers
#   - our .NET assemblies published framework-dependent (litepcie-hil, the device server, the guest tests)
#   - the initramfs: busybox-static, our init, the 9p modules, glibc for the .NET runtime (which the guest
#     reads from the host's dotnet root over virtio-9p, read-only)
# Usage: lab/linux-guest/build.sh [--board NAME]... [--publish PROJECT_FOLDER]... (default board sim-ac701-2ch; the
# CLI, the device server and the guest tests are always published). Prints nothing but progress on stderr.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${LITEPCIE_HIL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/litepcie-hil}"
vendor="${LITEPCIE_HIL_VENDOR:-$repo/../shared/vendor}/litepcie/litepcie/software"
out="$repo/build/linux-guest"
boards=()
projects=(framework/LitePcie.Hil.Cli framework/LitePcie.Hil.DeviceServer suites/LitePcie.Hil.GuestTests)
while [ $# -gt 0 ]; do
  case "$1" in
    --board) boards+=("$2"); shift 2 ;;
    --publish) [ -d "$repo/$2" ] || { echo "lab/linux-guest/build.sh: --publish '$2': no such project folder in the repository" >&2; exit 2; }
               [[ " ${projects[*]} " == *" $2 "* ]] || projects+=("$2"); shift 2 ;;
    *) echo "lab/linux-guest/build.sh: unknown option '$1' (accepted: --board NAME, --publish PROJECT_FOLDER)" >&2; exit 2 ;;
  esac
done
[ ${#boards[@]} -gt 0 ] || boards=(sim-ac701-2ch)
say() { echo "linux-guest build: $*" >&2; }
# Under errexit a failing command ends the build; say which one (a command whose output goes to /dev/null, or a pipeline
# that died of SIGPIPE under pipefail, would otherwise end it with nothing printed).
set -E
trap 'rc=$?; [ "$BASHPID" != "$$" ] || say "failed (exit $rc) at build.sh line $LINENO: $BASH_COMMAND"' ERR
t_all=$SECONDS

[ -d "$vendor/kernel" ] && [ -d "$vendor/user" ] || { say "the vendor LitePCIe tree is missing: expected $vendor/{kernel,user} (../shared/vendor beside the repository)"; exit 3; }

# Packages: the kernel headers we build against, busybox for the initramfs, a C toolchain, cpio.
need=()
for p in linux-headers-amd64 busybox-static gcc make libc6-dev cpio patch qemu-system-data seabios; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# 1. QEMU.
"$repo/lab/qemu/build.sh" > /dev/null

# 2. The kernel matching linux-headers-amd64.
kver=$(dpkg-query -W -f='${Depends}' linux-headers-amd64 | sed -n 's/.*linux-headers-\([^ ,]*\).*/\1/p')
[ -n "$kver" ] && [ -d "/usr/src/linux-headers-$kver" ] || { say "cannot tell the kernel version from linux-headers-amd64 ('$kver')"; exit 3; }
kdir="$cache/guest/kernel-$kver"
if [ ! -f "$kdir/vmlinuz" ]; then
  t0=$SECONDS
  rm -rf "$kdir"; mkdir -p "$kdir/deb"
  (cd "$kdir/deb" && apt-get download -qq "linux-image-$kver" 2>/dev/null)
  dpkg-deb -x "$kdir"/deb/linux-image-*.deb "$kdir/root"
  cp "$kdir/root/boot/vmlinuz-$kver" "$kdir/vmlinuz.tmp" && mv "$kdir/vmlinuz.tmp" "$kdir/vmlinuz"
  rm -rf "$kdir/deb"
  say "kernel $kver extracted in $((SECONDS - t0)) s"
fi
mods="$kdir/root/lib/modules/$kver"

# Modules the guest loads, dependencies first (from each module's .modinfo "depends=", as depmod would).
module_path() {
  local f
  f=$(find "$mods/kernel" \( -name "$1.ko" -o -name "${1//_/-}.ko" \) -print -quit)
  [ -n "$f" ] || { say "module $1 is not in kernel $kver"; exit 3; }
  echo "${f#"$mods/"}"
}
module_order() {
  local seen=" " order=()
  visit() {
    local name="$1" path d
    case "$seen" in *" $name "*) return ;; esac
    seen="$seen$name "
    path=$(module_path "$name")
    for d in $(objcopy -O binary --only-section=.modinfo "$mods/$path" /dev/stdout | tr '\0' '\n' | sed -n 's/^depends=//p' | tr ',' ' '); do
      visit "$d"
    done
    order+=("$path")
  }
  for m in "$@"; do visit "$m"; done
  printf '%s\n' "${order[@]}"
}

# 3. Our .NET assemblies (framework-dependent; the guest runs them on the host's runtime over 9p).
pub="$out/publish"
stamp_of() { find "$@" -type f \( -name '*.cs' -o -name '*.csproj' -o -name '*.props' -o -name '*.targets' -o -name '*.json' -o -name '*.runsettings' \) -not -path '*/bin/*' -not -path '*/obj/*' -not -path '*/framework/tests/*' -not -path '*/framework/benchmarks/*' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16; }
src_stamp=$(stamp_of "$repo/framework" "$repo/fixtures" "$repo/suites" "$repo/Directory.Build.props" "$repo/Directory.Packages.props" "$repo/Directory.Build.targets")
# Test projects under framework/tests are left out above (the guest does not run them by default); when one is published
# here, framework/tests counts (its projects link each other's files), so a change to it is published again.
if [[ " ${projects[*]}" == *" framework/tests/"* ]]; then
  src_stamp="$src_stamp $(find "$repo/framework/tests" -type f \( -name '*.cs' -o -name '*.csproj' \) -not -path '*/bin/*' -not -path '*/obj/*' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)"
fi
src_stamp="$src_stamp $(sha256sum "$repo"/runsettings/*.runsettings | sha256sum | cut -c1-16) ${projects[*]}"
if [ "$(cat "$pub/.stamp" 2>/dev/null)" != "$src_stamp" ]; then
  t0=$SECONDS
  rm -rf "$pub"; mkdir -p "$pub"
  for p in "${projects[@]}"; do
    name=$(basename "$p")
    # Debug, as `dotnet test` builds the solution: inside a test run the publish mostly copies what is up to date.
    # LitePcieGuestRunner=true makes a guest test project a Microsoft.Testing.Platform executable (its csproj).
    dotnet publish "$repo/$p" -c Debug --no-self-contained -o "$pub/$name" -v q -nologo -p:LitePcieGuestRunner=true > "$out/publish-$name.log" 2>&1 \
      || { tail -20 "$out/publish-$name.log" >&2; say "dotnet publish $p failed"; exit 1; }
  done
  echo "$src_stamp" > "$pub/.stamp"
  say "published .NET assemblies in $((SECONDS - t0)) s"
fi

# 4. Per board: headers, the module (upstream and patched), the user tools.
hil() { dotnet "$pub/LitePcie.Hil.Cli/litepcie-hil.dll" "$@"; }
patches=("$here"/patches/*.patch)
for board in "${boards[@]}"; do
  bdir="$out/boards/$board"
  mkdir -p "$bdir/headers"
  hil litex-headers --board "$board" --out "$bdir/headers.new" > /dev/null
  for f in csr.h soc.h; do cmp -s "$bdir/headers.new/$f" "$bdir/headers/$f" || cp "$bdir/headers.new/$f" "$bdir/headers/$f"; done
  rm -rf "$bdir/headers.new"
  key=$( (cd "$vendor" && find kernel user -type f -print0 | sort -z | xargs -0 sha256sum; sha256sum "$bdir"/headers/*.h "${patches[@]}"; echo "$kver") | sha256sum | cut -c1-16)
  if [ "$(cat "$bdir/.stamp" 2>/dev/null)" != "$key" ]; then
    t0=$SECONDS
    for variant in upstream patched; do
      w="$bdir/$variant"
      rm -rf "$w"; mkdir -p "$w"
      cp -r "$vendor/kernel" "$vendor/user" "$w/"
      chmod -R u+w "$w"
      cp "$bdir"/headers/csr.h "$bdir"/headers/soc.h "$w/kernel/"
      if [ "$variant" = patched ]; then
        for p in "${patches[@]}"; do patch -s -d "$w/kernel" -p1 < "$p"; done
      fi
      make -s -C "$w/kernel" KERNEL_PATH="/usr/src/linux-headers-$kver" > "$w/kernel/build.log" 2>&1 \
        || { tail -30 "$w/kernel/build.log" >&2; say "litepcie.ko ($variant) failed to build for $board"; exit 1; }
    done
    # The user tools, static (the initramfs has no libc of their own), against the board's headers.
    make -s -C "$bdir/upstream/user" LDFLAGS="-static" litepcie_util litepcie_test > "$bdir/upstream/user/build.log" 2>&1 \
      || { tail -30 "$bdir/upstream/user/build.log" >&2; say "litepcie_util/litepcie_test failed to build for $board"; exit 1; }
    echo "$key" > "$bdir/.stamp"
    say "$board: litepcie.ko (upstream, patched), litepcie_util, litepcie_test built in $((SECONDS - t0)) s"
  fi
done

# 5. The initramfs.
initrd="$out/initramfs.cpio.gz"
dotnet_root="$(dirname "$(readlink -f "$(command -v dotnet)")")"
mod_list=$(module_order virtio_pci 9pnet_virtio 9p)
ikey=$( (sha256sum "$here/init.sh" "$here/build.sh" /bin/busybox; for b in "${boards[@]}"; do cat "$out/boards/$b/.stamp"; done; echo "$mod_list $kver $dotnet_root") | sha256sum | cut -c1-16)
if [ "$(cat "$initrd.stamp" 2>/dev/null)" != "$ikey" ] || [ ! -f "$initrd" ]; then
  t0=$SECONDS
  r="$out/initramfs"; rm -rf "$r"; mkdir -p "$r"/{bin,dev,proc,sys,tmp,hil/run,hil/publish,usr/share/dotnet,lib/modules,boards,etc,root}
  cp /bin/busybox "$r/bin/busybox"
  cp "$here/init.sh" "$r/init"; chmod +x "$r/init"
  : > "$r/etc/modules.order"
  while read -r m; do cp "$mods/$m" "$r/lib/modules/"; basename "$m" >> "$r/etc/modules.order"; done <<< "$mod_list"
  for b in "${boards[@]}"; do
    mkdir -p "$r/boards/$b"
    cp "$out/boards/$b/upstream/kernel/litepcie.ko" "$r/boards/$b/litepcie-upstream.ko"
    cp "$out/boards/$b/patched/kernel/litepcie.ko" "$r/boards/$b/litepcie-patched.ko"
    cp "$out/boards/$b/upstream/user/litepcie_util" "$out/boards/$b/upstream/user/litepcie_test" "$r/boards/$b/"
  done
  # glibc and the C++ runtime for dotnet (the runtime itself comes over 9p).
  for lib in $(ldd "$dotnet_root/dotnet" "$dotnet_root"/shared/Microsoft.NETCore.App/*/*.so 2>/dev/null | awk '/=> \//{print $3} /^[[:space:]]*\/[^ ]* \(0x/{print $1}' | grep -v "^$dotnet_root/" | sort -u); do
    mkdir -p "$r$(dirname "$lib")"; cp -L "$lib" "$r$lib"
  done
  # OpenSSL, which the runtime loads on demand (hashing: Allure's history and test-case IDs are MD5s).
  for lib in libssl.so.3 libcrypto.so.3; do
    # awk reads to the end: an early exit can kill ldconfig with SIGPIPE, which pipefail turns into a silent failure.
    path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64/ && !p {p = $NF} END {print p}')
    [ -n "$path" ] || { say "$lib not found on this machine (package libssl3)"; exit 3; }
    mkdir -p "$r$(dirname "$path")"; cp -L "$path" "$r$path"
  done
  echo "root:x:0:0:root:/root:/bin/sh" > "$r/etc/passwd"
  (cd "$r" && find . | cpio -o -H newc --quiet | gzip -1) > "$initrd.tmp" && mv "$initrd.tmp" "$initrd"
  echo "$ikey" > "$initrd.stamp"
  say "initramfs $(du -h "$initrd" | cut -f1) in $((SECONDS - t0)) s"
fi
printf '%s\n' "kernel=$kdir/vmlinuz" "initrd=$initrd" "qemu=$("$repo/lab/qemu/build.sh" --print-path)" "publish=$pub" "dotnet_root=$dotnet_root" "kver=$kver" > "$out/artifacts.env"
say "ready in $((SECONDS - t_all)) s"
