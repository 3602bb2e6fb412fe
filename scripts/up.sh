#!/usr/bin/env bash
# `npm run up`: install what is needed, initialise $CARACAL_HOME (non-interactively) and start the stack.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
node apps/runtime/bin/caracal.js init --yes
node apps/runtime/bin/caracal.js up "$@"
