#!/usr/bin/env bash
# `npm test`: every tier, in order of speed: lint and types, unit, integration (real Synapse x2,
# PostgreSQL), end-to-end (the portal in Debian's Chromium against the running stack).
# Ends with one 'N passed, N failed' line over all tiers.
set -uo pipefail
cd "$(dirname "$0")/.."
results="$(mktemp -d)"
status=0

step() {
  echo
  echo "== $1"
  shift
  "$@" || status=1
}

# The Debian packages the tests need (slapd, qpdf, poppler, Chromium, ...): installed when run
# as root, as .ci/run does; otherwise the exact command is printed and the tiers that need them fail.
step "system packages" bash scripts/system-deps.sh
step "lint and format (biome)" npx biome check .
step "types: appservice" npx tsc -p appservice/tsconfig.json --noEmit
step "types: portal" npm run typecheck -w portal
step "types: tests, bench, scripts" npx tsc -p tsconfig.json --noEmit
step "unit" npx vitest run --project unit --project portal --reporter=default --reporter=json --outputFile.json="$results/unit.json"
step "integration" npx vitest run --project integration --reporter=default --reporter=json --outputFile.json="$results/integration.json"
step "end-to-end" env PLAYWRIGHT_JSON_OUTPUT_NAME="$results/e2e.json" npx playwright test -c tests/e2e/playwright.config.ts --reporter=list,json

node -e '
const fs = require("fs");
let passed = 0, failed = 0;
for (const tier of ["unit", "integration"]) {
  const file = `${process.argv[1]}/${tier}.json`;
  if (!fs.existsSync(file)) { failed++; console.log(`${tier}: no results`); continue; }
  const r = JSON.parse(fs.readFileSync(file, "utf8"));
  passed += r.numPassedTests; failed += r.numFailedTests;
}
const e2e = `${process.argv[1]}/e2e.json`;
if (fs.existsSync(e2e)) {
  const s = JSON.parse(fs.readFileSync(e2e, "utf8")).stats;
  passed += s.expected; failed += s.unexpected + s.flaky;
} else { failed++; console.log("end-to-end: no results"); }
console.log(`\n${passed} passed, ${failed} failed`);
' "$results"
rm -rf "$results"
exit $status
