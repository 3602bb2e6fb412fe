#!/usr/bin/env bash
# Installs what the workspace needs on a fresh machine: the pinned pnpm (see pinned-pnpm.sh), dependencies, a build.
set -euo pipefail
cd "$(dirname "$0")/.."

node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<20||(a===20&&b<19)) { console.error(`Node ${process.versions.node} is too old: Caracal needs 20.19 or newer`); process.exit(1) }'

. scripts/pinned-pnpm.sh
ensure_pinned_pnpm
"$PNPM" install --frozen-lockfile >&2
"$PNPM" run build >&2
