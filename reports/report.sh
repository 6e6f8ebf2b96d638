#!/usr/bin/env bash
# Turns Allure results of the LitePCIe HIL suites into an HTML report (Allure 3, awesome UI) with history.
#
#   reports/report.sh [--open] [--out DIR] [--history FILE] [--name NAME] [RESULTS_DIR...]
#
# RESULTS_DIR defaults to allure-results/ at the repository root; give several to merge hosts or runs.
# The report goes to reports/allure-report/ (index.html). Trends: every report appends one
# entry to the history file (reports/history/history.jsonl unless --history is given); keep that file
# between runs and the next report shows the run-to-run trend of every test.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
out="$here/allure-report"
history="${LITEPCIE_REPORT_HISTORY:-$here/history/history.jsonl}"
name="${LITEPCIE_REPORT_NAME:-LitePCIe HIL}"
open=0
results=()

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --open) open=1 ;;
    --out) out="$(realpath -m "${2:?--out needs a directory}")"; shift ;;
    --history) history="$(realpath -m "${2:?--history needs a file}")"; shift ;;
    --name) name="${2:?--name needs a value}"; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "report.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    *) results+=("$(realpath -m "$1")") ;;
  esac
  shift
done
[ ${#results[@]} -gt 0 ] || results=("$root/allure-results")

for dir in "${results[@]}"; do
  if ! compgen -G "$dir/*-result.json" >/dev/null; then
    echo "report.sh: no Allure results in $dir (run the suites first: dotnet test LitePcie.Hil.sln --filter Category=Dma)" >&2
    exit 1
  fi
done

if [ ! -x "$here/node_modules/.bin/allure" ]; then
  echo "report.sh: installing the pinned Allure CLI (npm ci in reports/)"
  npm ci --prefix "$here" --no-audit --no-fund --loglevel=error
fi

mkdir -p "$(dirname "$history")"
export LITEPCIE_REPORT_HISTORY="$history" LITEPCIE_REPORT_NAME="$name"
rm -rf "$out"
(cd "$here" && ./node_modules/.bin/allure generate --config "$here/allurerc.mjs" --output "$out" "${results[@]}")
site="$out"; [ -f "$out/awesome/index.html" ] && site="$out/awesome"
echo "report: $site/index.html (history: $history, $(wc -l < "$history") run(s) so far)"

if [ "$open" = 1 ]; then
  (cd "$here" && ./node_modules/.bin/allure open "$site")
fi
