#!/bin/sh
# Interoperability check by hand (npm test runs the same check in release-verify.test.ts): the Sigstore bundle
# over SHA256SUMS verifies with cosign, offline. cosign is built by scripts/setup-tools.sh into the git-ignored .tools.
# usage: scripts/release/cosign-check.sh RELEASE_DIR PUBLIC_KEY
set -eu
cd "$(dirname "$0")/../.."
dir=$1
key=$2
bash scripts/setup-tools.sh
cosign=.tools/go-bin/cosign
# Key-based bundle: no transparency-log entry to check, and an empty trusted root (no CA, log or TSA), so cosign
# needs no network; the signature is checked against the given key alone.
root=$(mktemp)
trap 'rm -f "$root"' EXIT
printf '%s\n' '{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}' >"$root"
"$cosign" verify-blob --key "$key" --bundle "$dir/SHA256SUMS.sigstore.json" --new-bundle-format \
  --insecure-ignore-tlog=true --trusted-root "$root" "$dir/SHA256SUMS"
