#!/usr/bin/env bash
# Source coverage of the dext core by a fuzz corpus: builds the harness with clang's source-based
# coverage (no sanitizers, so their never-taken error branches do not count as edges), runs every unit
# of the corpus once and prints llvm-cov's report for dext/core (regions, functions, lines, branches).
#
#   dext/fuzz/coverage.sh <corpus dir> [out dir]      out: <repo>/build/dext-fuzz-coverage
#
# Needs clang++-14, llvm-profdata-14 and llvm-cov-14 (Debian: clang-14, llvm-14).
set -euo pipefail

corpus="${1:?usage: $0 <corpus dir> [out dir]}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dext="$(cd "$here/.." && pwd)"
repo="$(cd "$dext/.." && pwd)"
out="${2:-$repo/build/dext-fuzz-coverage}"
mkdir -p "$out"

clang++-14 -std=c++17 -O0 -g -fno-exceptions -fno-rtti -fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping \
  -I"$dext/core/include" -I"$dext/tests" "$here/FuzzDispatch.cpp" "$dext/tests/FakeDevice.cpp" "$dext"/core/src/*.cpp \
  -o "$out/lpc_fuzz_coverage"
rm -f "$out"/*.profraw
LLVM_PROFILE_FILE="$out/corpus.profraw" "$out/lpc_fuzz_coverage" "$corpus" -runs=0 -max_len=2048 >"$out/run.log" 2>&1
llvm-profdata-14 merge -sparse "$out/corpus.profraw" -o "$out/corpus.profdata"
llvm-cov-14 report "$out/lpc_fuzz_coverage" -instr-profile="$out/corpus.profdata" "$dext/core/src" "$dext/core/include" | tee "$out/report.txt"
