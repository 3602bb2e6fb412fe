#!/usr/bin/env bash
# Builds the tools the tests need that no npm or Debian package provides, with a pinned `go install` into the
# git-ignored .tools/go-bin: cosign (an independent verifier of release bundles) and opa (compiles Rego policy sets to
# wasm for `caracal policy build`). Idempotent: a tool already at its pinned version is kept. Run by scripts/test.sh;
# on a fresh machine the first build takes several minutes (run under `nice`, the machine is shared).
set -euo pipefail
cd "$(dirname "$0")/.."

COSIGN_VERSION=v2.6.5
OPA_VERSION=v1.22.4
GOBIN="$PWD/.tools/go-bin"
export GOBIN

if ! command -v go >/dev/null 2>&1; then
  echo "setup-tools: the Go toolchain (go on PATH) is required to build cosign $COSIGN_VERSION and opa $OPA_VERSION" >&2
  exit 1
fi

# go_install NAME PACKAGE VERSION: `nice go install PACKAGE@VERSION`; the module proxy can time out now and then, so
# three tries before giving up.
go_install() {
  echo "building $1 $3 into .tools/go-bin (go install; several minutes on a fresh machine)" >&2
  for attempt in 1 2 3; do
    if nice -n 10 go install "$2@$3" >&2; then return 0; fi
    if [ "$attempt" = 3 ]; then echo "setup-tools: go install of $1 $3 failed" >&2; exit 1; fi
    sleep 5
  done
}

if ! "$GOBIN/cosign" version 2>/dev/null | grep -q "GitVersion: *$COSIGN_VERSION\$"; then
  go_install cosign github.com/sigstore/cosign/v2/cmd/cosign "$COSIGN_VERSION"
fi

# `opa version` prints "Version: 1.22.4" (no leading v).
if ! "$GOBIN/opa" version 2>/dev/null | grep -q "^Version: *${OPA_VERSION#v}\$"; then
  go_install opa github.com/open-policy-agent/opa "$OPA_VERSION"
fi
