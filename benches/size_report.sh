#!/usr/bin/env bash
# The size reports the issue asks for: the bundled example (musl, cgo) and a
# real 20+ MB module (nats-server v2.15.2 from the Go module proxy, pinned by
# hash), each as a binary and as an image, plus how long `slipway size` takes.
#   benches/size_report.sh [PLATFORM]       default linux/arm64
# Uses target/release/slipway if built, else target/debug/slipway.
set -euo pipefail
cd "$(dirname "$0")/.."
platform="${1:-linux/arm64}"
dir=${platform//\//_}
slipway=target/release/slipway
[[ -x $slipway ]] || slipway=target/debug/slipway
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

timed() { # timed LABEL CMD...: run CMD, print its wall time in ms to stderr
    local label=$1; shift
    local t0 t1
    t0=$(date +%s%N)
    "$@"
    t1=$(date +%s%N)
    printf 'size-bench: %s took %d ms\n' "$label" $(((t1 - t0) / 1000000)) >&2
}

report() { # report NAME MODULE BUILD-FLAGS...
    local name=$1 module=$2; shift 2
    "$slipway" build "$module" --platform "$platform" --out "$work/$name-dist" "$@" >/dev/null
    "$slipway" image "$module" --platform "$platform" --out "$work/$name-image" "$@" >/dev/null
    local bin
    bin=$(find "$work/$name-dist/$dir" -type f ! -name '*.debug' | head -1)
    echo "== $name: $(basename "$bin") for $platform (with its split debug file: $(($(stat -c %s "$bin") + $(stat -c %s "$bin.debug"))) bytes)"
    timed "slipway size $name binary" "$slipway" size "$bin" --top 12
    echo "== $name: image, $platform"
    timed "slipway size $name image" "$slipway" size "oci:$work/$name-image" --platform "$platform" --top 5
}

cp -r examples/hello "$work/hello"
report example "$work/hello"

info=$(GOFLAGS=-mod=mod go mod download -json github.com/nats-io/nats-server/v2@v2.15.2)
grep -q '"Sum": "h1:yLsgt2kslgymvxvjFq1WGWck5hkat2YYfbXvQ145tzU="' <<<"$info" ||
    { echo "nats-server v2.15.2 is not the pinned zip" >&2; exit 1; }
src=$(sed -n 's/.*"Dir": "\(.*\)",/\1/p' <<<"$info")
cp -r "$src" "$work/nats" && chmod -R u+w "$work/nats"
report nats-server "$work/nats" --libc none --name nats-server
