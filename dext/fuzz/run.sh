#!/usr/bin/env bash
# Builds lpc_fuzz_dispatch with clang (libFuzzer + ASan + UBSan) and runs it for N seconds (default 60)
# on a temporary copy of the seed corpus, so dext/fuzz/corpus is never modified.
#
#   dext/fuzz/run.sh [seconds]
#
# Environment: LPC_FUZZ_CXX (default clang++-14), LPC_FUZZ_BUILD_DIR (default <repo>/build/dext-fuzz),
# LPC_FUZZ_JOBS (build parallelism, default 2). Exits non-zero on any finding (crash, sanitizer report,
# invariant breach, leak, timeout); reproducers are copied to <build dir>/findings/.
set -euo pipefail

seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "usage: $0 [seconds]" >&2
  exit 2
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dext="$(cd "$here/.." && pwd)"
repo="$(cd "$dext/.." && pwd)"
build="${LPC_FUZZ_BUILD_DIR:-$repo/build/dext-fuzz}"
cxx="${LPC_FUZZ_CXX:-clang++-14}"

if ! command -v "$cxx" >/dev/null 2>&1; then
  echo "run.sh: $cxx not found (set LPC_FUZZ_CXX)" >&2
  exit 2
fi

CXX="$cxx" cmake -S "$dext" -B "$build" -DLPC_BUILD_FUZZ=ON -DLPC_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target lpc_fuzz_dispatch -j"${LPC_FUZZ_JOBS:-2}" >/dev/null

work="$(mktemp -d "${TMPDIR:-/tmp}/lpc-fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$work/artifacts"
if compgen -G "$here/corpus/*" >/dev/null; then
  cp "$here"/corpus/* "$work/corpus/"
fi

set +e
"$build/lpc_fuzz_dispatch" "$work/corpus" \
  -max_total_time="$seconds" \
  -print_final_stats=1 \
  -max_len=2048 \
  -timeout=10 \
  -rss_limit_mb=2048 \
  -artifact_prefix="$work/artifacts/" >"$work/log" 2>&1
rc=$?
set -e

grep -E '^stat::number_of_executed_units' "$work/log" || echo "stat::number_of_executed_units: (not reported)"

findings=$(find "$work/artifacts" -type f | wc -l)
if [ "$rc" -ne 0 ] || [ "$findings" -ne 0 ]; then
  mkdir -p "$build/findings"
  cp "$work"/artifacts/* "$build/findings/" 2>/dev/null || true
  cp "$work/log" "$build/findings/last-run.log"
  tail -n 60 "$work/log" >&2
  echo "run.sh: FINDINGS (exit $rc, $findings artifact(s)); reproducers and log in $build/findings/" >&2
  exit 1
fi
echo "run.sh: no findings in ${seconds}s"
