#!/usr/bin/env bash
# Builds the tools the tests need that no npm or Debian package provides, with a pinned `go install` into the
# git-ignored .tools/go-bin: cosign (an independent verifier of release bundles). Idempotent: a tool already at its
# pinned version is kept. Run by scripts/test.sh; on a fresh machine the first build takes several minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

COSIGN_VERSION=v2.6.5
GOBIN="$PWD/.tools/go-bin"
export GOBIN

if ! command -v go >/dev/null 2>&1; then
  echo "setup-tools: the Go toolchain (go on PATH) is required to build cosign $COSIGN_VERSION" >&2
  exit 1
fi

if ! "$GOBIN/cosign" version 2>/dev/null | grep -q "GitVersion: *$COSIGN_VERSION\$"; then
  echo "building cosign $COSIGN_VERSION into .tools/go-bin (go install; several minutes on a fresh machine)" >&2
  # The module proxy can time out now and then: three tries before giving up.
  for attempt in 1 2 3; do
    if go install "github.com/sigstore/cosign/v2/cmd/cosign@$COSIGN_VERSION" >&2; then break; fi
    if [ "$attempt" = 3 ]; then echo "setup-tools: go install of cosign $COSIGN_VERSION failed" >&2; exit 1; fi
    sleep 5
  done
fi
