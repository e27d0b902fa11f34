#!/usr/bin/env bash
# What slipway-fs's durability costs: write_atomic (fsync of the file and of
# its directory) against the plain temp-and-rename it replaced, on small
# files (cache records, manifests) and on a 4 MiB one (a layer), in a
# directory on the same file system as slipway's cache.
#   benches/fsync.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/slipway-fsync-bench}"
cargo build --quiet --release -p slipway-fs --example fsync_cost
bin=target/release/examples/fsync_cost
for spec in "200 200" "200 65536" "20 4194304"; do
    set -- $spec
    rm -rf "$dir"
    echo "== $1 files of $2 bytes in $dir"
    "$bin" "$dir" "$1" "$2"
done
rm -rf "$dir"
