#!/usr/bin/env bash
# The pip route, end to end: build the wheel, install it into a fresh
# virtualenv (which pulls zig from PyPI as the `ziglang` dependency), then
# from there run `slipway doctor` and build a 3-platform pure-Go image with a
# PATH of only the virtualenv, Go and the base system. Checks that the binary
# needs nothing newer than glibc 2.17 and that the image reads back.
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "test-wheel: FAILED: $*" >&2; exit 1; }
wheel=$(scripts/build-wheel.sh)
echo "test-wheel: $wheel" >&2
case "$wheel" in *manylinux2014_x86_64*|*manylinux_2_17_x86_64*) ;; *) fail "not a manylinux2014 wheel: $wheel";; esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install --quiet "$wheel"
bin="$tmp/venv/bin"
[[ -x "$bin/slipway" ]] || fail "the wheel installed no slipway executable"

# The binary runs on glibc 2.17: no symbol version above it.
floor=$("$bin/slipway" inspect "$bin/slipway" --json | python3 -c 'import json,sys; print(json.load(sys.stdin).get("glibc_max") or "")')
python3 - "$floor" <<'PY' || fail "the binary needs glibc $floor, above 2.17"
import sys
v = sys.argv[1]
sys.exit(0 if not v or tuple(map(int, v.split("."))) <= (2, 17) else 1)
PY

go_dir=$(dirname "$(readlink -f "$(command -v go)")")
export PATH="$bin:$go_dir:/usr/bin:/bin"
export SLIPWAY_CACHE_DIR="$tmp/cache"
# doctor finds zig through the ziglang package the wheel depends on.
"$bin/slipway" doctor >&2
"$bin/slipway" doctor --json > "$tmp/doctor.json"
python3 - "$tmp/doctor.json" "$tmp/venv" <<'PY' || fail "doctor did not find the wheel's zig"
import json, sys
report = json.load(open(sys.argv[1]))
path = report["zig"]["path"] or ""
sys.exit(0 if path.startswith(sys.argv[2]) else 1)
PY

"$bin/slipway" image examples/hello --platform linux/amd64,linux/arm64,linux/arm/v7 --libc none \
    --out "$tmp/layout" --json > "$tmp/image.json"
python3 - "$tmp/image.json" <<'PY' || fail "the image has not 3 platforms"
import json, sys
sys.exit(0 if len(json.load(open(sys.argv[1]))["manifests"]) == 3 else 1)
PY
skopeo inspect --raw "oci:$tmp/layout:latest" | grep -q '"linux"' || fail "skopeo cannot read the image"
echo "test-wheel: ok" >&2
