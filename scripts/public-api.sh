#!/usr/bin/env bash
# Regenerates the public API baselines (PublicAPI.Shipped.txt / PublicAPI.Unshipped.txt) of every library after a
# deliberate change of its public surface (docs/architecture.md, "Enforcement"). The build fails with RS0016 (a public
# symbol missing from the baseline) or RS0017 (a baseline line whose symbol is gone) until the files say what changed.
#
#   scripts/public-api.sh          new symbols go to PublicAPI.Unshipped.txt, removed ones leave either file
#   scripts/public-api.sh --ship   then everything moves into PublicAPI.Shipped.txt (the baseline of a release)
#   scripts/public-api.sh --check  change nothing; exit 1 and name the symbols when a baseline is out of date
#
# The entries are the analyzer's own words for each symbol (from its RS0016/RS0017 diagnostics), so they are exactly what the
# analyzer expects; each file is then sorted (the analyzer ignores order; sorted files merge cleanly). Review the diff of
# the PublicAPI.*.txt files like code: it is the change of the public surface.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-}
case "$mode" in ""|--ship|--check) ;; *) echo "usage: $0 [--ship|--check]" >&2; exit 2 ;; esac

# Every library (not a test project, not an executable): the projects Directory.Build.targets gives the analyzer.
libraries=(
  framework/LitePcie.Hil/LitePcie.Hil.csproj
  framework/LitePcie.Hil.Simulation/LitePcie.Hil.Simulation.csproj
  framework/LitePcie.Hil.Linux/LitePcie.Hil.Linux.csproj
  framework/LitePcie.Hil.MacOS/LitePcie.Hil.MacOS.csproj
  framework/LitePcie.Hil.Backends/LitePcie.Hil.Backends.csproj
  fixtures/LitePcie.Hil.Fixtures/LitePcie.Hil.Fixtures.csproj
)

if [ "$mode" = --check ]; then
  status=0
  for p in "${libraries[@]}"; do
    # --no-incremental: an up-to-date project is not analysed again and would pass unchecked; only its own lines.
    out=$(dotnet build "$p" --no-incremental -nologo -v quiet -p:TreatWarningsAsErrors=false 2>&1 | grep -E ': (warning|error) RS00(16|17|36|37)' |
          grep -F "[$(realpath "$p")]" | sort -u || true)
    if [ -n "$out" ]; then echo "$out"; status=1; fi
  done
  [ $status -eq 0 ] && echo "public-api: every baseline is up to date" || echo "public-api: out of date; run scripts/public-api.sh" >&2
  exit $status
fi

sort_file() { # the '#nullable enable' header first, then the entries sorted and unique
  local f=$1
  { echo '#nullable enable'; grep -v -e '^#nullable enable$' -e '^$' "$f" | LC_ALL=C sort -u || true; } > "$f.tmp"
  mv "$f.tmp" "$f"
}

for p in "${libraries[@]}"; do
  dir=$(dirname "$p")
  for f in PublicAPI.Shipped.txt PublicAPI.Unshipped.txt; do
    [ -f "$dir/$f" ] || echo '#nullable enable' > "$dir/$f"
  done
  echo "public-api: $p"
  # The analyzer names each symbol missing from the baseline (RS0016) and each baseline line whose symbol is gone
  # (RS0017) in the exact form the baseline takes: build, add and remove what it names, until it names nothing. (The
  # analyzer's code fix through `dotnet format analyzers` reported no diagnostic here and changed nothing.)
  for round in 1 2 3; do
    log=$(mktemp)
    # --no-incremental: an up-to-date project is not analysed again, so it would report nothing.
    dotnet build "$p" --no-incremental -nologo -v quiet -p:TreatWarningsAsErrors=false > "$log" 2>&1 || true
    python3 - "$dir" "$log" "$(realpath "$p")" <<'PY' || { rm -f "$log"; break; }
import re, sys
d, project = sys.argv[1], sys.argv[3]
# Only this project's own diagnostics: a build also reports those of the libraries it references.
log = "\n".join(l for l in open(sys.argv[2]).read().splitlines() if l.rstrip().endswith(f"[{project}]"))
add = sorted({m for m in re.findall(r"RS0016: Symbol '(.+?)' is not part of the declared public API", log)})
gone = {m for m in re.findall(r"RS0017: Symbol '(.+?)' is part of the declared API", log)}
if not add and not gone:
    sys.exit(1)
unshipped = f"{d}/PublicAPI.Unshipped.txt"
for f in (f"{d}/PublicAPI.Shipped.txt", unshipped):
    lines = open(f).read().split("\n")
    keep = [l for l in lines if l.strip() not in gone]
    if f == unshipped:
        keep += add
    open(f, "w").write("\n".join(keep))
print(f"public-api:   {len(add)} added, {len(gone)} removed")
PY
    rm -f "$log"
  done
  if [ "$mode" = --ship ]; then
    grep -v -e '^#nullable enable$' -e '^$' "$dir/PublicAPI.Unshipped.txt" >> "$dir/PublicAPI.Shipped.txt" || true
    echo '#nullable enable' > "$dir/PublicAPI.Unshipped.txt"
  fi
  sort_file "$dir/PublicAPI.Shipped.txt"
  sort_file "$dir/PublicAPI.Unshipped.txt"
done
echo "public-api: done; review 'git diff -- \"*PublicAPI.*.txt\"' and build (a remaining RS0016/RS0017 names the symbol)"
