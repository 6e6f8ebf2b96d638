#!/usr/bin/env bash
# Flakiness series (docs/figures.md, "Flakiness under load"): the whole suite set on every simulated board, run N
# times in a row beside busy-loop processes that compete for the CPU, one line per run.
# Usage: tools/flaky-series.sh [runs] [busy-loops]    (default 10 runs, 2 busy loops)
# Environment: FLAKY_OUT (logs and one TRX per run, default build/flaky), FLAKY_STOP_AFTER (stop after this many
# seconds, 0 = no limit), FLAKY_KEEP_GOING=1 (continue after a failed run; default: stop, the series is broken).
# Prints: run, commit, wall seconds, load average at the end, passed/failed/skipped, the failed tests' names.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-10}
loops=${2:-2}
[[ "$runs" =~ ^[0-9]+$ ]] && [ "$runs" -ge 1 ] && [ "$runs" -le 1000 ] || { echo "flaky-series: runs must be 1..1000 (got '$runs')" >&2; exit 2; }
[[ "$loops" =~ ^[0-9]+$ ]] && [ "$loops" -le 64 ] || { echo "flaky-series: busy-loops must be 0..64 (got '$loops')" >&2; exit 2; }
out=$(realpath -m "${FLAKY_OUT:-build/flaky}")
stop_after=${FLAKY_STOP_AFTER:-0}
mkdir -p "$out"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 LITEPCIE_HIL_CI=1
dotnet build suites/LitePcie.Hil.Suites -v q -nologo > "$out/build.log" 2>&1 || { tail -20 "$out/build.log" >&2; exit 1; }

busy=()
cleanup() { for p in "${busy[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
for _ in $(seq 1 "$loops"); do yes > /dev/null & busy+=("$!"); done

commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo "+dirty")
clean=0 start=$SECONDS
echo "run commit wall_s load_1/5/15 passed failed skipped failed_tests"
for i in $(seq 1 "$runs"); do
  if [ "$stop_after" -gt 0 ] && [ $((SECONDS - start)) -ge "$stop_after" ]; then
    echo "flaky-series: stopped before run $i (FLAKY_STOP_AFTER=$stop_after s)"; break
  fi
  t0=$SECONDS
  rm -rf "$out/run$i"
  rc=0
  dotnet test suites/LitePcie.Hil.Suites --no-build --logger "trx;LogFileName=run.trx" --results-directory "$out/run$i" \
    > "$out/run$i.log" 2>&1 || rc=$?
  wall=$((SECONDS - t0))
  load=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' /)
  counts=$(grep -Eo 'Failed: +[0-9]+, Passed: +[0-9]+, Skipped: +[0-9]+' "$out/run$i.log" | tail -1 | tr -s ' ' || true)
  failed=$(echo "$counts" | sed -E 's/.*Failed: ([0-9]+).*/\1/'); passed=$(echo "$counts" | sed -E 's/.*Passed: ([0-9]+).*/\1/')
  skipped=$(echo "$counts" | sed -E 's/.*Skipped: ([0-9]+).*/\1/')
  names=$(grep -E '^\s+Failed [A-Za-z_]' "$out/run$i.log" | sed -E 's/^\s+Failed //; s/ \[.*//' | sort -u | paste -sd';' - || true)
  [ -n "$counts" ] || { failed="?" passed="?" skipped="?" names="no test summary (exit $rc; $out/run$i.log)"; }
  echo "$i $commit $wall $load ${passed} ${failed} ${skipped} ${names:--}"
  if [ "$rc" -eq 0 ] && [ "$failed" = 0 ]; then
    clean=$((clean + 1))
  else
    [ "${FLAKY_KEEP_GOING:-0}" = 1 ] || { echo "flaky-series: run $i failed after $clean clean consecutive runs"; exit 1; }
    clean=0
  fi
done
echo "flaky-series: $clean clean consecutive runs at the end, $loops busy loops, $((SECONDS - start)) s"
