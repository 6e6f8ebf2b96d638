#!/usr/bin/env bash
# Mutation testing of the checkers that decide verdicts (docs/mutation.md): Stryker.NET, one target at a time
# (tools/mutation/<target>.json names the files to mutate and the framework tests that kill them), then the score of
# every file. Usage: tools/mutation.sh [target...]   (default: every target; e.g. tools/mutation.sh leak-trend)
# Environment: MUTATION_CONCURRENCY (default 1), MUTATION_BREAK (fail below this total score, default 85),
# MUTATION_OUT (reports, default build/mutation). Slow by design (tens of minutes): a nightly job, not .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
out=$(realpath -m "${MUTATION_OUT:-build/mutation}")
tests=framework/tests/LitePcie.Hil.Tests   # Stryker runs from the test project (the repository root holds the solution)
concurrency=${MUTATION_CONCURRENCY:-1}
break_at=${MUTATION_BREAK:-85}

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in tools/mutation/*.json; do targets+=("$(basename "$f" .json)"); done
fi

dotnet tool restore >/dev/null
mkdir -p "$out"
start=$SECONDS
for t in "${targets[@]}"; do
  cfg=tools/mutation/$t.json
  [ -f "$cfg" ] || { echo "mutation: no target '$t' (tools/mutation/*.json)" >&2; exit 2; }
  echo "mutation: $t"
  t0=$SECONDS
  rm -rf "$out/$t"
  (cd "$tests" && dotnet stryker --config-file "$OLDPWD/$cfg" --concurrency "$concurrency" --output "$out/$t" \
    --skip-version-check) > "$out/$t.log" 2>&1 || { tail -40 "$out/$t.log" >&2; echo "mutation: stryker failed on $t ($out/$t.log)" >&2; exit 1; }
  echo "mutation: $t took $((SECONDS - t0)) s"
done

# Score per file from Stryker's JSON reports: killed+timeout over killed+timeout+survived+no-coverage
# (compile errors and ignored mutants do not count, as in Stryker's own score).
node - "$out" "$break_at" "${targets[@]}" <<'EOF'
const fs = require('fs'), path = require('path');
const [out, breakAt, ...targets] = process.argv.slice(2);
const rows = []; let K = 0, N = 0;
for (const t of targets) {
  const report = path.join(out, t, 'reports', 'mutation-report.json');
  const r = JSON.parse(fs.readFileSync(report, 'utf8'));
  for (const [file, f] of Object.entries(r.files)) {
    const c = {}; for (const m of f.mutants) c[m.status] = (c[m.status] || 0) + 1;
    const killed = (c.Killed || 0) + (c.Timeout || 0);
    const live = (c.Survived || 0) + (c.NoCoverage || 0);
    K += killed; N += killed + live;
    rows.push([path.basename(file), killed, c.Survived || 0, c.NoCoverage || 0, c.Ignored || 0,
      killed + live ? (100 * killed / (killed + live)).toFixed(1) : 'n/a']);
    for (const m of f.mutants.filter(m => m.status === 'Survived' || m.status === 'NoCoverage')) {
      console.log(`  ${m.status.padEnd(10)} ${path.basename(file)}:${m.location.start.line} ${m.mutatorName}: ${m.replacement.split('\n')[0].slice(0, 80)}`);
    }
  }
}
console.log('file                          killed survived nocov ignored  score');
for (const r of rows) console.log(`${r[0].padEnd(30)}${String(r[1]).padStart(6)}${String(r[2]).padStart(9)}${String(r[3]).padStart(6)}${String(r[4]).padStart(8)}  ${r[5]}%`);
const total = N ? 100 * K / N : 0;
console.log(`${'total'.padEnd(30)}${String(K).padStart(6)}${String(N - K).padStart(15)}${''.padStart(8)}  ${total.toFixed(1)}%`);
if (total < Number(breakAt)) { console.error(`mutation: total score ${total.toFixed(1)}% is below ${breakAt}%`); process.exit(1); }
EOF
echo "mutation: wall time $((SECONDS - start)) s"
