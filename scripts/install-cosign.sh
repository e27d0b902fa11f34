#!/usr/bin/env bash
# Build cosign (v2, the .sig/.att tag format) from the Go module proxy into a
# cache directory, once; print the binary's path. Used by slipway-attest's
# interoperability tests. Needs Go and network access to the module proxy;
# takes about 6 minutes on 2 cores the first time, nothing afterwards.
set -euo pipefail
version="${COSIGN_VERSION:-v2.6.5}"
cache="${SLIPWAY_COSIGN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/slipway-cosign}/$version"
bin="$cache/cosign"
if [[ ! -x "$bin" ]]; then
    command -v go >/dev/null || { echo "install-cosign: go is required (scripts/setup.sh)" >&2; exit 3; }
    mkdir -p "$cache"
    echo "install-cosign: building cosign $version into $cache (a few minutes, once)" >&2
    GOFLAGS=-mod=mod GOBIN="$cache" go install "github.com/sigstore/cosign/v2/cmd/cosign@$version" >&2
fi
echo "$bin"
