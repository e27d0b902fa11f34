#!/usr/bin/env bash
# Build notation (the Notary Project CLI) from the Go module proxy into a cache
# directory, once; print the binary's path. Used by slipway-notary's
# interoperability tests and benches/notary_verify.py. Needs Go and access to
# the module proxy; a few minutes on 2 cores the first time, nothing afterwards.
set -euo pipefail
version="${NOTATION_VERSION:-v1.3.2}"
cache="${SLIPWAY_NOTATION_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/slipway-notation}/$version"
bin="$cache/notation"
if [[ ! -x "$bin" ]]; then
    command -v go >/dev/null || { echo "install-notation: go is required (scripts/setup.sh)" >&2; exit 3; }
    mkdir -p "$cache"
    echo "install-notation: building notation $version into $cache (a few minutes, once)" >&2
    module="github.com/notaryproject/notation"
    if ! GOFLAGS=-mod=mod GOBIN="$cache" go install "$module/cmd/notation@$version" >&2; then
        # `go install m@v` is refused when the module's go.mod has replace
        # directives: build inside a copy of the downloaded module instead.
        dir="$(go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
        [[ -n "$dir" ]] || { echo "install-notation: cannot download $module@$version" >&2; exit 3; }
        work="$(mktemp -d)"
        trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
        cp -r "$dir/." "$work/"
        chmod -R u+w "$work"
        (cd "$work" && GOFLAGS=-mod=mod go build -trimpath -o "$bin.tmp" ./cmd/notation) >&2
        mv "$bin.tmp" "$bin"
    fi
fi
echo "$bin"
