#!/usr/bin/env bash
# The long method-dispatch fuzz run (the nightly workflow's job; also runs locally): J libFuzzer jobs
# until together they executed at least N inputs, on a corpus directory that is kept between runs
# (seeded from dext/fuzz/corpus), then a report of executions, edge coverage and findings.
#
#   dext/fuzz/nightly.sh [--executions N] [--jobs J] [--corpus DIR] [--out DIR]
#
# Defaults: 10 000 000 executions, 2 jobs, corpus build/dext-fuzz-corpus, output build/dext-fuzz-nightly.
# Writes <out>/report.md and <out>/report.json; reproducers of findings go to <out>/findings/.
# Exits non-zero on any finding (crash, sanitizer report, invariant breach, leak, timeout).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dext="$(cd "$here/.." && pwd)"
repo="$(cd "$dext/.." && pwd)"
executions=10000000
jobs=2
corpus="$repo/build/dext-fuzz-corpus"
out="$repo/build/dext-fuzz-nightly"
while [ $# -gt 0 ]; do
  case "$1" in
    --executions) executions="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --corpus) corpus="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "usage: $0 [--executions N] [--jobs J] [--corpus DIR] [--out DIR]" >&2; exit 2 ;;
  esac
done
[[ "$executions" =~ ^[0-9]+$ && "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "nightly.sh: --executions and --jobs take positive integers" >&2; exit 2; }

build="${LPC_FUZZ_BUILD_DIR:-$repo/build/dext-fuzz}"
cxx="${LPC_FUZZ_CXX:-clang++-14}"
CXX="$cxx" cmake -S "$dext" -B "$build" -DLPC_BUILD_FUZZ=ON -DLPC_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target lpc_fuzz_dispatch -j"${LPC_FUZZ_JOBS:-2}" >/dev/null
fuzzer="$build/lpc_fuzz_dispatch"

mkdir -p "$corpus" "$out"
rm -rf "$out/logs" "$out/findings"
mkdir -p "$out/logs" "$out/findings"
cp -n "$here"/corpus/* "$corpus/" 2>/dev/null || true
before=$(find "$corpus" -type f | wc -l)

per_job=$(( (executions + jobs - 1) / jobs ))
started=$(date +%s)
set +e
# Each job is one process with its own -runs; they share the corpus directory (new units are written
# there and picked up by the others at their next reload).
pids=()
for j in $(seq 1 "$jobs"); do
  "$fuzzer" "$corpus" -runs="$per_job" -seed="$((started + j))" -print_final_stats=1 -max_len=2048 -timeout=10 \
    -rss_limit_mb=2048 -reload=10 -artifact_prefix="$out/findings/" >"$out/logs/job-$j.log" 2>&1 &
  pids+=("$!")
done
status=0
for pid in "${pids[@]}"; do
  wait "$pid" || status=$?
done
set -e
seconds=$(( $(date +%s) - started ))

total=0
for log in "$out"/logs/job-*.log; do
  n=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' | tail -1)
  total=$(( total + ${n:-0} ))
done
# Keep the corpus small between nights: a set-cover merge (same coverage, fewer units). On any
# problem the unmerged corpus stays.
if [ "$status" -eq 0 ]; then
  rm -rf "$corpus.min" && mkdir -p "$corpus.min"
  if "$fuzzer" -merge=1 "$corpus.min" "$corpus" -max_len=2048 >"$out/logs/merge.log" 2>&1 && \
     [ "$(find "$corpus.min" -type f | wc -l)" -gt 0 ]; then
    rm -rf "$corpus" && mv "$corpus.min" "$corpus"
  else
    rm -rf "$corpus.min"
  fi
fi
# Edge coverage of the corpus the run leaves behind: one pass over it, no mutation.
"$fuzzer" "$corpus" -runs=0 -max_len=2048 >"$out/logs/coverage.log" 2>&1 || true
edges=$(grep -Eo 'INITED cov: [0-9]+' "$out/logs/coverage.log" | awk '{print $3}' | tail -1)
instrumented=$(grep -Eo 'Loaded 1 modules +\(([0-9]+) inline 8-bit counters' "$out/logs/coverage.log" | grep -Eo '[0-9]+ inline' | awk '{print $1}')
after=$(find "$corpus" -type f | wc -l)
findings=$(find "$out/findings" -type f | wc -l)
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"

cat >"$out/report.json" <<JSON
{"executions": $total, "jobs": $jobs, "seconds": $seconds, "execPerSecond": $(( total / (seconds > 0 ? seconds : 1) )),
 "edgesCovered": ${edges:-0}, "edgesInstrumented": ${instrumented:-0}, "corpusBefore": $before, "corpusAfter": $after,
 "findings": $findings, "exitStatus": $status, "cpu": "$cpu", "cores": $(nproc)}
JSON
{
  echo "### dext method-dispatch fuzzing"
  echo
  echo "| executions | jobs | wall time | exec/s | edges covered | corpus | findings |"
  echo "|---|---|---|---|---|---|---|"
  echo "| $total | $jobs | ${seconds} s | $(( total / (seconds > 0 ? seconds : 1) )) | ${edges:-?} of ${instrumented:-?} | $before → $after | $findings |"
  echo
  echo "Machine: $cpu, $(nproc) cores. Edges: libFuzzer's covered edges of dext/core and the harness (fuzz/coverage-allowlist.txt)."
} >"$out/report.md"
if command -v llvm-cov-14 >/dev/null && command -v llvm-profdata-14 >/dev/null; then
  # Source coverage of the core (lines, branches) by the corpus, without sanitizer branches.
  if "$here/coverage.sh" "$corpus" "$out/coverage" >"$out/logs/coverage-source.log" 2>&1; then
    total_line="$(grep -E '^TOTAL' "$out/coverage/report.txt" || true)"
    {
      echo
      echo "Source coverage of dext/core by the corpus (llvm-cov, TOTAL: regions, missed, cover, functions, missed,"
      echo "executed, lines, missed, cover, branches, missed, cover):"
      echo
      echo "    $total_line"
    } >>"$out/report.md"
  fi
fi
cat "$out/report.md"

if [ "$status" -ne 0 ] || [ "$findings" -ne 0 ]; then
  for log in "$out"/logs/job-*.log; do tail -n 40 "$log" >&2; done
  echo "nightly.sh: FINDINGS (exit $status, $findings artifact(s)) in $out/findings/" >&2
  exit 1
fi
if [ "$total" -lt "$executions" ]; then
  echo "nightly.sh: only $total of $executions executions ran" >&2
  exit 1
fi
