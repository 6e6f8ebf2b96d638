#!/usr/bin/env bash
# Turns Allure results of the LitePCIe HIL suites into an HTML report (Allure 3, awesome UI) with history.
#
#   reports/report.sh [--open [--port N]] [--out DIR] [--history FILE] [--name NAME] [RESULTS_DIR...]
#
# RESULTS_DIR defaults to allure-results/ at the repository root; give several to merge hosts or runs.
# The report is one self-contained file, reports/allure-report/index.html: open it in a browser straight
# from disk (or from a CI artifact). --open also serves it on a local port and prints the address.
# Trends: every report appends one entry to the history file (reports/history/history.jsonl unless
# --history is given); keep that file between runs and the next report shows the trend of every test.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
out="$here/allure-report"
history="${LITEPCIE_REPORT_HISTORY:-$here/history/history.jsonl}"
name="${LITEPCIE_REPORT_NAME:-LitePCIe HIL}"
open=0
port=()
results=()

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --open) open=1 ;;
    --port) port=(--port "${2:?--port needs a number}"); shift ;;
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
echo "report: $site/index.html — one self-contained file, open it in a browser (history: $history, $(wc -l < "$history") run(s) so far)"

if [ "$open" = 1 ]; then
  echo "report: serving $site (Ctrl+C stops)"
  (cd "$here" && exec ./node_modules/.bin/allure open "${port[@]}" "$site")
fi
