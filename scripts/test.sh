#!/usr/bin/env bash
# `npm test`: build, lint, type-check the tests, validate migrations, then run the unit and integration suites.
# Integration tests find Postgres and Redis (CARACAL_TEST_DATABASE_URL / CARACAL_TEST_REDIS_URL, the default local ports, or
# private servers they start themselves).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
pnpm run lint >&2
pnpm exec tsc -p tsconfig.test.json >&2
node apps/runtime/bin/caracal.js migrate validate
pnpm exec vitest run "$@"
