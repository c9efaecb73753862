#!/usr/bin/env bash
# Measures the file store's encryption against a plain copy of the same bytes, in memory and
# into the local stack's MinIO, and writes bench/results/encryption.md.
#
# Usage: bench/encryption.sh [size-in-MiB]   (default 256)
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
size_mib=${1:-256}
results=$repo_root/bench/results/encryption.md

cd "$repo_root"
scripts/stack.sh up >/dev/null
# shellcheck disable=SC1090
. "$(scripts/stack.sh env)"
cargo build -q --release -p filestore-bench --bin encryption
table=$(target/release/encryption "$size_mib")
{
    printf '# Encryption throughput\n\n'
    printf 'Run on %s with `bench/encryption.sh %s` (release build).\n\n' "$(date -u +%F)" "$size_mib"
    printf '%s\n' "$table"
    printf '\nThe plain MinIO row is a multipart upload of the same bytes with the same part size\n'
    printf 'and one part in flight, so the ratio isolates what encryption adds to the store path.\n'
} >"$results"
cat "$results"
