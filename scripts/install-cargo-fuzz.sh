#!/usr/bin/env bash
# Build cargo-fuzz from crates.io into a cache directory, once; print the
# binary's path. The fuzz smoke tests (scripts/fuzz.sh) run it on the stable
# toolchain with `--sanitizer none`. Takes a few minutes on 2 cores the first
# time, nothing afterwards.
set -euo pipefail
version="${CARGO_FUZZ_VERSION:-0.13.2}"
cache="${SLIPWAY_CARGO_FUZZ_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/slipway-cargo-fuzz}/$version"
bin="$cache/bin/cargo-fuzz"
if [[ ! -x "$bin" ]]; then
    command -v cargo >/dev/null || { echo "install-cargo-fuzz: cargo is required (https://rustup.rs)" >&2; exit 3; }
    mkdir -p "$cache"
    echo "install-cargo-fuzz: building cargo-fuzz $version into $cache (a few minutes, once)" >&2
    cargo install --quiet --locked --root "$cache" --version "$version" cargo-fuzz >&2
fi
echo "$bin"
