#!/usr/bin/env bash
# Build ko (the Go image builder slipway's pure-Go benchmark compares against)
# from the Go module proxy into a cache directory, once; print the binary's
# path. Needs Go and access to the module proxy; a minute or two on 2 cores
# the first time, nothing afterwards.
set -euo pipefail
version="${KO_VERSION:-v0.19.1}"
cache="${SLIPWAY_KO_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/slipway-ko}/$version"
bin="$cache/ko"
if [[ ! -x "$bin" ]]; then
    command -v go >/dev/null || { echo "install-ko: go is required (scripts/setup.sh)" >&2; exit 3; }
    mkdir -p "$cache"
    echo "install-ko: building ko $version into $cache (once)" >&2
    GOFLAGS=-mod=mod GOBIN="$cache" go install "github.com/google/ko@$version" >&2
fi
echo "$bin"
