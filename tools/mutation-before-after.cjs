// Score per file from one Stryker JSON report run with --disable-bail (every covering test runs against every
// mutant, so killedBy lists every killer): "after" counts every killer, "before" only the tests whose name does not
// match the given pattern (the tests added to kill mutants). Usage: node tools/mutation-before-after.cjs REPORT PATTERN
const fs = require('fs'), path = require('path');
const [report, pattern] = process.argv.slice(2);
const r = JSON.parse(fs.readFileSync(report, 'utf8'));
const names = new Map();
for (const f of Object.values(r.testFiles || {})) for (const t of f.tests) names.set(t.id, t.name);
const isNew = id => new RegExp(pattern).test(names.get(id) || '');
let tb = 0, ta = 0, tn = 0;
console.log('file                          mutants  before   after  (survivors after)');
for (const [file, f] of Object.entries(r.files)) {
  const counted = f.mutants.filter(m => ['Killed', 'Survived', 'NoCoverage', 'Timeout'].includes(m.status));
  const after = counted.filter(m => m.status === 'Killed' || m.status === 'Timeout').length;
  const before = counted.filter(m => m.status === 'Timeout' ||
    (m.status === 'Killed' && (m.killedBy || []).some(id => !isNew(id)))).length;
  tb += before; ta += after; tn += counted.length;
  const pct = x => (counted.length ? (100 * x / counted.length).toFixed(1) : 'n/a').padStart(6) + '%';
  console.log(`${path.basename(file).padEnd(30)}${String(counted.length).padStart(7)} ${pct(before)} ${pct(after)}  (${counted.length - after})`);
}
console.log(`${'total'.padEnd(30)}${String(tn).padStart(7)} ${(100 * tb / tn).toFixed(1).padStart(6)}% ${(100 * ta / tn).toFixed(1).padStart(6)}%`);
