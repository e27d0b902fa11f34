#!/usr/bin/env bash
# Build a Go command from the Go module proxy into a per-version cache
# directory, once; print the binary's path. For peer tools the tests run:
#
#   scripts/install-go-tool.sh oras        [VERSION]  oras.land/oras/cmd/oras (default v1.3.6)
#   scripts/install-go-tool.sh ggcr-registry [VERSION]  go-containerregistry's cmd/registry
#                                          (no referrers API; default v0.22.1)
#   scripts/install-go-tool.sh referrers-registry  go-containerregistry's registry package with
#                                          its OCI 1.1 referrers API on (scripts/referrers-registry,
#                                          go-containerregistry v0.22.1)
#   scripts/install-go-tool.sh versitygw   [VERSION]  the S3 server the cache tests run (posix
#                                          backend: objects are plain files; default v1.8.0)
#   scripts/install-go-tool.sh go-cacher   [VERSION]  bradfitz/go-tool-cache's GOCACHEPROG client,
#   scripts/install-go-tool.sh go-cacher-server        and its HTTP server (benches/cache_prog.py)
#
# The binary lands in ${XDG_CACHE_HOME:-~/.cache}/slipway-<tool>/<version>/.
set -euo pipefail
tool="${1:?usage: install-go-tool.sh oras|ggcr-registry|referrers-registry|versitygw|go-cacher|go-cacher-server [VERSION]}"
case "$tool" in
    oras) module="oras.land/oras"; pkg="cmd/oras"; default="v1.3.6"; name="oras" ;;
    ggcr-registry) module="github.com/google/go-containerregistry"; pkg="cmd/registry"; default="v0.22.1"; name="registry" ;;
    referrers-registry) module=""; pkg="."; default="v0.22.1"; name="referrers-registry" ;;
    versitygw) module="github.com/versity/versitygw"; pkg="cmd/versitygw"; default="v1.8.0"; name="versitygw" ;;
    go-cacher | go-cacher-server) module="github.com/bradfitz/go-tool-cache"; pkg="cmd/$tool"
        default="v0.0.0-20260722201841-0bb331e19f64"; name="$tool" ;;
    *) echo "install-go-tool: unknown tool $tool (oras, ggcr-registry, referrers-registry, versitygw, go-cacher, go-cacher-server)" >&2; exit 2 ;;
esac
version="${2:-$default}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/slipway-$tool/$version"
bin="$cache/$name"
if [[ ! -x "$bin" ]]; then
    command -v go >/dev/null || { echo "install-go-tool: go is required (scripts/setup.sh)" >&2; exit 3; }
    mkdir -p "$cache"
    echo "install-go-tool: building $tool $version into $cache (once)" >&2
    if [[ -z "$module" ]]; then
        # A wrapper in this repository around a module from the proxy.
        src="$(cd "$(dirname "$0")" && pwd)/$tool"
        work="$(mktemp -d)"
        trap 'rm -rf "$work"' EXIT
        cp "$src"/*.go "$src"/go.mod "$work/"
        (cd "$work" && GOFLAGS=-mod=mod go mod tidy && GOFLAGS=-mod=mod go build -trimpath -o "$bin" .) >&2
    elif ! GOFLAGS=-mod=mod GOBIN="$cache" go install "$module/$pkg@$version" >&2; then
        # A module with replace directives refuses `go install m@v`: build in a copy.
        dir="$(GOFLAGS=-mod=mod go mod download -json "$module@$version" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
        work="$(mktemp -d)"
        trap 'rm -rf "$work"' EXIT
        cp -r "$dir/." "$work/"
        chmod -R u+w "$work"
        (cd "$work" && GOFLAGS=-mod=mod go build -trimpath -o "$bin" "./$pkg") >&2
    fi
fi
echo "$bin"
