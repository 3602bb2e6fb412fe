#!/bin/sh
# Interoperability check, not part of `npm test` (building cosign takes many minutes): the Sigstore bundle over
# SHA256SUMS verifies with cosign, offline. cosign is built with a pinned `go install` into the git-ignored .tools.
# usage: scripts/release/cosign-check.sh RELEASE_DIR PUBLIC_KEY
set -eu
cd "$(dirname "$0")/../.."
COSIGN_VERSION=v2.6.5
dir=$1
key=$2
cosign=.tools/go-bin/cosign
if ! [ -x "$cosign" ] || ! "$cosign" version 2>/dev/null | grep -q "GitVersion: *$COSIGN_VERSION\$"; then
  echo "building cosign $COSIGN_VERSION into .tools/go-bin" >&2
  GOBIN="$PWD/.tools/go-bin" go install "github.com/sigstore/cosign/v2/cmd/cosign@$COSIGN_VERSION"
fi
# Key-based bundle: no transparency-log entry to check, and an empty trusted root (no CA, log or TSA), so cosign
# needs no network; the signature is checked against the given key alone.
root=$(mktemp)
trap 'rm -f "$root"' EXIT
printf '%s\n' '{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}' >"$root"
"$cosign" verify-blob --key "$key" --bundle "$dir/SHA256SUMS.sigstore.json" --new-bundle-format \
  --insecure-ignore-tlog=true --trusted-root "$root" "$dir/SHA256SUMS"
