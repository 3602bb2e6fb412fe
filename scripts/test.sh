#!/usr/bin/env bash
# `npm test`: build, lint, type-check the tests, validate migrations, then run the unit and integration suites.
# Integration tests find Postgres and Redis (CARACAL_TEST_DATABASE_URL / CARACAL_TEST_REDIS_URL, the default local ports, or
# private servers they start themselves).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/setup-tools.sh
. scripts/pinned-pnpm.sh
"$PNPM" run lint >&2
"$PNPM" exec tsc -p tsconfig.test.json >&2
node apps/runtime/bin/caracal.js migrate validate
report="$(mktemp)"
trap 'rm -f "$report"' EXIT
status=0
"$PNPM" exec vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?
# A plain closing line any CI can read: "N passed, N failed".
node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (r.numPendingTests ? `, ${r.numPendingTests} skipped` : ""))' "$report" || true
exit "$status"
