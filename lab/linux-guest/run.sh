#!/usr/bin/env bash
# The Linux guest tier: the real litepcie.ko and upstream tools in a QEMU (TCG) guest, on a virtual LitePCIe
# board served by our device server (the gateware model). Builds what is missing, boots one guest per driver
# variant, runs the checks in the guest, collects Allure results, journals and kernel logs, and ends with
#   linux-guest: N passed, N failed, N skipped
# (exit 0 only when nothing failed). docs/linux-guest.md explains everything below.
#
#   lab/linux-guest/run.sh                          the tier: upstream and patched driver, default checks
#   lab/linux-guest/run.sh --shell                  a shell in the guest with the board attached (driver developers)
#   options: --board NAME          board profile (default sim-ac701-2ch)
#            --driver V            upstream | patched | both (default both; --shell: upstream)
#            --engine E            model | rtl: the device server's gateware is our model (default) or the board's real
#                                  LitePCIe RTL under Verilator (docs/rtl.md; runs at its own rate: no --dma-rate; --lead
#                                  gates its clock)
#            --faults SPEC         faults injected into the device server (as SimFaults), e.g. dma-bitflip=0.001
#            --tests PROJECT[::ARGS]  also run this published test project in the guest (repeatable): PROJECT is its
#                                  folder (e.g. suites/LitePcie.Hil.Suites; an MTP executable), ARGS its command line
#                                  (e.g. --filter "TestCategory=Dma" --test-parameter Backend=linux)
#            --checks FILTER       the MTP filter of the default guest checks (default: all of them;
#                                  "none" = run only --tests and the kernel log check)
#            --dma-seconds N       duration of each upstream dma_test (default 16; it checks nothing for the first
#                                  256 MiB the board writes)
#            --dma-rate BYTES      DMA rate of the board per direction (default 24MiB per second): the guest runs
#                                  under TCG, tens of times slower than real time, and the board must too
#            --lead BUFFERS        how far a DMA engine may run ahead of what the guest's driver last read of it
#                                  (default 128; 0 = the hardware's behaviour, never wait): keeps a guest that the
#                                  host stalls for a moment from coming back to rings overwritten many times over
#            --out DIR             where this run's files go (default build/linux-guest/run)
#            --allure DIR          where the run's Allure results are added (default allure-results/ at the repo root)
#            --timeout SECONDS     bound on each boot (default 900)
#            --smp N               guest CPUs (default 2: the test runner and the tools do not share one)
#            --guest-env NAME=VALUE  exported to every step in the guest (repeatable)
#            --plan ci|full        what else the boots run (docs/linux-guest.md, "Plans"): ci = what CI boots: both drivers'
#                                  default checks, and on the upstream driver also our CLI (list, info, scratch, dma,
#                                  latency --backend linux), the driver twin and the device contract on the real driver
#                                  (remove/rescan included), and the suites with Backend=linux (Enumeration, Bar, Msi,
#                                  Dma, a short Qualification); full = nightly: all of that on both drivers, dma_test
#                                  for 60 s, the suites' longer DMA and Qualification
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
boot_wait=240
board=sim-ac701-2ch engine=model driver="" faults="" shell=0 dma_seconds="" dma_rate=24MiB lead=128 timeout=900 smp=2 checks="" plan=""
out="$repo/build/linux-guest/run" allure="$repo/allure-results"
tests=()
guest_env=()
die() { echo "linux-guest: $*" >&2; echo "linux-guest: 0 passed, 1 failed, 0 skipped"; exit 1; }
usage() { echo "lab/linux-guest/run.sh: $*" >&2; echo "accepted: --board NAME, --engine model|rtl, --driver upstream|patched|both, --faults SPEC, --tests PROJECT[::ARGS], --checks FILTER|none, --dma-seconds 1..3600, --dma-rate 1MiB..100GiB, --lead 0..65536, --out DIR, --allure DIR, --timeout 60..86400, --smp 1..4, --guest-env NAME=VALUE, --plan ci|full, --shell" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --board) board="${2:?}"; shift 2 ;;
    --driver) driver="${2:?}"; shift 2 ;;
    --engine) engine="${2:?}"; shift 2 ;;
    --faults) faults="${2-}"; shift 2 ;;
    --tests) tests+=("${2:?}"); shift 2 ;;
    --checks) checks="${2:?}"; shift 2 ;;
    --dma-seconds) dma_seconds="${2:?}"; shift 2 ;;
    --dma-rate) dma_rate="${2:?}"; shift 2 ;;
    --lead) lead="${2:?}"; shift 2 ;;
    --out) out="${2:?}"; shift 2 ;;
    --allure) allure="${2:?}"; shift 2 ;;
    --timeout) timeout="${2:?}"; shift 2 ;;
    --smp) smp="${2:?}"; shift 2 ;;
    --guest-env) [[ "${2:?}" =~ ^[A-Za-z_][A-Za-z0-9_]*=[^[:space:]\'\"]*$ ]] || usage "--guest-env '$2': NAME=VALUE without spaces or quotes"
                 guest_env+=("$2"); shift 2 ;;
    --plan) plan="${2:?}"; shift 2 ;;
    --shell) shell=1; shift ;;
    -h|--help) sed -n '2,32p' "$0"; exit 0 ;;
    *) usage "unknown option '$1'" ;;
  esac
done
case "$engine" in model|rtl) ;; *) usage "--engine '$engine'" ;; esac
engine_args_for() { # RATE: the device server's engine options
  case "$engine" in
    model) printf '%s\n' --dma-rate "$1" --lead "$lead" ;;
    rtl) printf '%s\n' --engine rtl --lead "$lead" ;;   # the RTL sets its own pace; the coupling gates its clock
  esac
}
# Plans: the extra steps (our CLI, the driver twin, the Linux suites) and on which driver variants they run. Explicit
# --tests run on every variant; a plan's run where it says.
plan_tests=() plan_variants="" plan_suite_args="" plan_rate="" plan_dma_seconds=""
case "$plan" in
  "") ;;
  ci|full)
    # The twin's switches as environment: a test parameter the suites' options do not know makes the Allure hook report
    # every test "not run: invalid TestRunParameters" (seen), whatever NUnit ran.
    guest_env+=(LITEPCIE_HIL_TWIN_REMOVAL=1 LITEPCIE_HIL_DRIVER_TWIN=real)
    suites="TestCategory=Enumeration|TestCategory=Bar|TestCategory=Msi|TestCategory=Dma|TestCategory=Qualification"
    if [ "$plan" = ci ]; then
      plan_variants="upstream"
    else
      plan_variants="upstream patched"
      plan_suite_args="--test-parameter DmaSustainedSeconds=30 --test-parameter DmaThroughputSeconds=10 --test-parameter QualificationCycles=20 --test-parameter SessionCycles=100"
      plan_dma_seconds=60
    fi
    plan_tests=(
      "framework/tests/LitePcie.Hil.Linux.Tests::--filter TestCategory=DriverTwin"
      "suites/LitePcie.Hil.Suites::--settings /hil/publish/LitePcie.Hil.Suites/runsettings/linux-guest.runsettings --filter '$suites' --test-parameter Board=$board $plan_suite_args"
    ) ;;
  *) usage "--plan '$plan'" ;;
esac
dma_seconds="${dma_seconds:-16}"
[ -z "$driver" ] && { [ "$shell" = 1 ] && driver=upstream || driver=both; }
case "$driver" in upstream) variants=(upstream) ;; patched) variants=(patched) ;; both) variants=(upstream patched) ;; *) usage "--driver '$driver'" ;; esac
[[ "$dma_seconds" =~ ^[0-9]+$ ]] && [ "$dma_seconds" -ge 1 ] && [ "$dma_seconds" -le 3600 ] || usage "--dma-seconds '$dma_seconds'"
[[ "$timeout" =~ ^[0-9]+$ ]] && [ "$timeout" -ge 60 ] && [ "$timeout" -le 86400 ] || usage "--timeout '$timeout'"
[[ "$smp" =~ ^[1-4]$ ]] || usage "--smp '$smp'"
[ "$shell" = 1 ] && [ ${#variants[@]} -gt 1 ] && usage "--shell boots one guest: --driver upstream or patched"
t_start=$SECONDS
# One tier run at a time per checkout: runs share build/linux-guest (a dotnet test run and a developer's run may overlap).
mkdir -p "$repo/build/linux-guest"
exec 8> "$repo/build/linux-guest/.lock"
if ! flock -n 8; then
  echo "linux-guest: another run.sh holds $repo/build/linux-guest/.lock; waiting for it" >&2
  flock -w 7200 8 || die "another run.sh has held $repo/build/linux-guest/.lock for two hours"
fi

# 1. Build what is missing (QEMU, kernel, module, tools, initramfs, our assemblies).
publish_projects=()
for spec in "${tests[@]}" "${plan_tests[@]}"; do publish_projects+=(--publish "${spec%%::*}"); done
"$here/build.sh" --board "$board" "${publish_projects[@]}" || die "building the guest failed (see above)"
# shellcheck disable=SC1091
. "$repo/build/linux-guest/artifacts.env"
t_built=$SECONDS

mkdir -p "$out"
rm -rf "${out:?}"/*
server="$publish/LitePcie.Hil.DeviceServer/litepcie-hil-device-server.dll"

# The steps each boot runs (init.sh runs them in order from the run folder's out/): the default checks (with the plan,
# on its variants, our CLI too), the --tests, the plan's test assemblies, the kernel log last.
guest_tests="/hil/publish/LitePcie.Hil.GuestTests/LitePcie.Hil.GuestTests.dll"
common="--test-parameter Board=$board --test-parameter AllureResultsDirectory=/hil/run/out/allure-results --test-parameter AllureClean=false --progress off --no-ansi"
test_step() { # NAME SPEC
  local project="${2%%::*}" args="" name entry
  [[ "$2" == *::* ]] && args="${2#*::}"
  name=$(basename "$project")
  entry=$(cd "$publish/$name" && ls ./*.runtimeconfig.json 2>/dev/null | head -1 | sed 's|^\./||; s|\.runtimeconfig\.json$||')
  [ -n "$entry" ] || die "--tests $project: no published entry assembly in $publish/$name"
  printf '%s\n' "$1-$name|/usr/share/dotnet/dotnet /hil/publish/$name/$entry.dll $args --test-parameter AllureResultsDirectory=/hil/run/out/allure-results --test-parameter AllureClean=false --progress off --no-ansi --results-directory /hil/run/out/mtp/$1"
}
for spec in "${tests[@]}" "${plan_tests[@]}"; do test_step check "$spec" > /dev/null; done   # dies here, not in a subshell
steps_for() { # VARIANT
  local steps="" i=0 spec in_plan=0 filter
  [[ " $plan_variants " == *" $1 "* ]] && in_plan=1
  if [ "$checks" != none ]; then
    filter="${checks:-TestCategory=VirtualBoard|TestCategory=UpstreamTools}"
    [ "$in_plan" = 1 ] && [ -z "$checks" ] && filter+="|TestCategory=Cli"
    steps+="checks|/usr/share/dotnet/dotnet $guest_tests --filter '$filter' $common --results-directory /hil/run/out/mtp/checks"$'\n'
  fi
  for spec in "${tests[@]}"; do i=$((i + 1)); steps+="$(test_step "tests$i" "$spec")"$'\n'; done
  if [ "$in_plan" = 1 ]; then
    for spec in "${plan_tests[@]}"; do i=$((i + 1)); steps+="$(test_step "plan$i" "$spec")"$'\n'; done
  fi
  steps+="kernel-log|/usr/share/dotnet/dotnet $guest_tests --filter 'TestCategory=KernelLog' $common --results-directory /hil/run/out/mtp/kernel-log"$'\n'
  printf '%s' "$steps"
}

boot() {
  local variant="$1" rc
  local dir="$out/$variant" rate="$dma_rate" seconds="$dma_seconds"
  if [[ " $plan_variants " == *" $variant "* ]]; then rate="${plan_rate:-$dma_rate}" seconds="${plan_dma_seconds:-$dma_seconds}"; fi
  local engine_args; mapfile -t engine_args < <(engine_args_for "$rate")
  mkdir -p "$dir/run/out"
  {
    echo "BOARD='$board'"
    echo "DRIVER='$variant'"
    echo "SHELL_MODE=$shell"
    echo "GUEST_ENV='LITEPCIE_GUEST_DMA_SECONDS=$seconds ${guest_env[*]}'"
    printf "STEPS=%q\n" "$(steps_for "$variant")"
  } > "$dir/run/plan.env"
  local sock="/tmp/litepcie-hil-$$-$variant.sock"
  local t0=$SECONDS
  dotnet "$server" --socket "$sock" --board "$board" --faults "$faults" "${engine_args[@]}" --summary "$dir/device-server.json" \
    --root-port-file "$dir/root-port.txt" --connect-timeout 120 > "$dir/device-server.log" 2>&1 &
  local server_pid=$!
  for _ in $(seq 1 300); do [ -S "$sock" ] && break; kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
  [ -S "$sock" ] || { cat "$dir/device-server.log" >&2; echo "server-failed" > "$dir/boot.status"; return 1; }
  local qemu_args=(
    -accel tcg -machine q35,memory-backend=mem -m 1536 -smp "$smp"
    -object memory-backend-memfd,id=mem,size=1536M,share=on
    -L /usr/share/qemu -L /usr/share/seabios
    -nodefaults -no-reboot
    -kernel "$kernel" -initrd "$initrd" -append "console=ttyS0 panic=-1 oops=panic loglevel=4 log_buf_len=16M"
    -device "pcie-root-port,id=rp0,chassis=1,slot=1,$(cat "$dir/root-port.txt")"
    -device "litepcie-hil,bus=rp0,socket=$sock"
    -fsdev "local,id=fsrun,path=$dir/run,security_model=none" -device virtio-9p-pci,fsdev=fsrun,mount_tag=hilrun
    -fsdev "local,id=fspub,path=$publish,security_model=none,readonly=on" -device virtio-9p-pci,fsdev=fspub,mount_tag=hilpub
    -fsdev "local,id=fsnet,path=$dotnet_root,security_model=none,readonly=on" -device virtio-9p-pci,fsdev=fsnet,mount_tag=dotnet
  )
  if [ "$shell" = 1 ]; then
    echo "linux-guest: booting the $variant driver on $board (TCG, about 20 s); Ctrl-A X quits QEMU" >&2
    "$qemu" "${qemu_args[@]}" -nographic -serial mon:stdio
    rc=$?
  else
    echo "linux-guest: booting the $variant driver on $board${faults:+ with faults '$faults'} (board DMA $rate per direction, dma_test $seconds s)" >&2
    timeout --kill-after=10 "$timeout" "$qemu" "${qemu_args[@]}" -display none -serial "file:$dir/console.log" -monitor none > "$dir/qemu.log" 2>&1 &
    local qemu_pid=$!
    # The guest's init writes guest.status as soon as it has the run folder. A TCG guest on a loaded host can hang in
    # early boot (RCU stalls, before init): that is the emulator, not the driver; such a boot is retried once.
    local waited=0
    while [ ! -f "$dir/run/out/guest.status" ] && kill -0 "$qemu_pid" 2>/dev/null && [ "$waited" -lt "$boot_wait" ]; do
      sleep 1; waited=$((waited + 1))
    done
    if [ ! -f "$dir/run/out/guest.status" ] && kill -0 "$qemu_pid" 2>/dev/null; then
      kill "$qemu_pid" 2>/dev/null
      wait "$qemu_pid"
      rc=75
    else
      wait "$qemu_pid"
      rc=$?
    fi
  fi
  local t_boot=$((SECONDS - t0))
  # The server exits once QEMU's device has gone; bounded.
  for _ in $(seq 1 300); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
  kill "$server_pid" 2>/dev/null
  wait "$server_pid"; local server_rc=$?
  rm -f "$sock"
  if [ "$rc" = 75 ]; then
    echo "linux-guest: $variant: the guest did not reach its init within $boot_wait s ($(grep -m1 -o 'rcu: INFO: .*\|BUG: .*\|Kernel panic.*' "$dir/console.log" || echo 'no console message')): an emulator hang before any check; retrying the boot once" >&2
    return 75
  fi
  printf 'qemu_exit=%s\ntimed_out=%s\nserver_exit=%s\nseconds=%s\n' "$rc" "$([ "$rc" = 124 ] || [ "$rc" = 137 ] && echo 1 || echo 0)" "$server_rc" "$t_boot" > "$dir/boot.status"
  echo "linux-guest: $variant boot done in $t_boot s (qemu exit $rc, device server exit $server_rc)" >&2
}

for v in "${variants[@]}"; do
  boot "$v" || {
    if [ $? = 75 ] && [ "$shell" = 0 ]; then
      mkdir -p "$out/retries" && mv "$out/$v" "$out/retries/$v-attempt1"
      boot "$v" || true
    fi
  }
done
[ "$shell" = 1 ] && exit 0

# 2. Collect: every boot's guest results and the host's view of each boot into the run's Allure results.
echo "linux-guest: built in $((t_built - t_start)) s, ran in $((SECONDS - t_built)) s" >&2
mkdir -p "$allure"
dotnet "$publish/LitePcie.Hil.Cli/litepcie-hil.dll" guest-report --run "$out" --allure "$allure" --board "$board" ${faults:+--faults "$faults"}
