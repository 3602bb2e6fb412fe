# Sourced by bootstrap.sh, up.sh and test.sh (from the repository root): the pnpm version package.json pins in
# `packageManager`, installed with npm into the git-ignored .tools/pnpm and always invoked by path, so whichever
# pnpm is on PATH (none, older, or a newer major that refuses this lockfile's settings) never runs here.
PNPM_VERSION="$(node -p 'require("./package.json").packageManager.replace(/^pnpm@/, "").split("+")[0]')"
PNPM_PREFIX="$PWD/.tools/pnpm"
PNPM="$PNPM_PREFIX/bin/pnpm"
# Anything that calls `pnpm` by name below us (package scripts, tests) gets the same binary.
export PATH="$PNPM_PREFIX/bin:$PATH"

ensure_pinned_pnpm() {
  if [ "$("$PNPM" --version 2>/dev/null || true)" = "$PNPM_VERSION" ]; then return 0; fi
  echo "installing pnpm $PNPM_VERSION into .tools/pnpm" >&2
  npm install --global --prefix "$PNPM_PREFIX" --no-audit --no-fund --loglevel=error "pnpm@$PNPM_VERSION" >&2
}
