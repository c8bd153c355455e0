#!/usr/bin/env bash
# The suite reads its photos and pretrained weights from ../shared (models/ and data/, each with
# a MANIFEST.md and a SHA256SUMS). Without them a quarter of the tests would skip and CI would
# still be green, so CI checks first: every listed file present with its checksum, or one line
# saying what is wrong and exit 1.
set -euo pipefail
shared="${1:-$(cd "$(dirname "$0")/.." && pwd)/../shared}"
for part in models data; do
  sums="$shared/$part/SHA256SUMS"
  if [ ! -f "$sums" ]; then
    echo "CI needs ../shared/$part (with its SHA256SUMS) beside the checkout: $sums is missing" >&2
    exit 1
  fi
  if ! bad=$(cd "$shared/$part" && sha256sum -c --quiet SHA256SUMS 2>&1); then
    first=$(printf '%s\n' "$bad" | head -n 1)
    count=$(printf '%s\n' "$bad" | grep -c ': FAILED' || true)
    echo "../shared/$part is incomplete or changed ($count file(s) fail SHA256SUMS; first: $first)" >&2
    exit 1
  fi
done
