#!/usr/bin/env bash
# Installs what the workspace needs on a fresh machine: pnpm (from the npm registry), dependencies, and a build.
set -euo pipefail
cd "$(dirname "$0")/.."

node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<20||(a===20&&b<19)) { console.error(`Node ${process.versions.node} is too old: Caracal needs 20.19 or newer`); process.exit(1) }'

if ! command -v pnpm >/dev/null 2>&1; then
  echo "installing pnpm with npm" >&2
  npm install -g pnpm@9 >&2
fi
pnpm install --frozen-lockfile >&2
pnpm run build >&2
