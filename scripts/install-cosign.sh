#!/usr/bin/env bash
# Build cosign from the Go module proxy into a per-version cache directory,
# once; print the binary's path. Used by the interoperability tests.
#
#   scripts/install-cosign.sh [VERSION]     (default v3.1.3; also $COSIGN_VERSION)
#
# v3 writes Sigstore bundles as OCI 1.1 referrers; v2 writes `.sig`/`.att` tags.
# Needs Go and access to the module proxy; takes about 6 minutes on 2 cores
# the first time per version, nothing afterwards.
set -euo pipefail
version="${1:-${COSIGN_VERSION:-v3.1.3}}"
[[ "$version" == v* ]] || version="v$version"
major="${version%%.*}"
case "$major" in
    v2 | v3) module="github.com/sigstore/cosign/$major" ;;
    *) echo "install-cosign: unsupported version $version (v2.x or v3.x)" >&2; exit 2 ;;
esac
cache="${SLIPWAY_COSIGN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/slipway-cosign}/$version"
bin="$cache/cosign"
if [[ ! -x "$bin" ]]; then
    command -v go >/dev/null || { echo "install-cosign: go is required (scripts/setup.sh)" >&2; exit 3; }
    mkdir -p "$cache"
    echo "install-cosign: building cosign $version into $cache (a few minutes, once)" >&2
    GOFLAGS=-mod=mod GOBIN="$cache" go install "$module/cmd/cosign@$version" >&2
fi
echo "$bin"
