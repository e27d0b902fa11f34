#!/usr/bin/env bash
# Set up what is missing, then run slipway's main job on the bundled example:
# build examples/hello (an HTTP service with a little cgo) for the platforms in
# its slipway.toml into one multi-arch OCI image, with no Docker daemon and no
# registry, then run two of its platforms under runc (arm64 through qemu).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked --quiet
slipway=target/release/slipway
work=$(mktemp -d)
"$slipway" image examples/hello --out "$work/image"
echo
skopeo inspect --raw "oci:$work/image:latest" | python3 -c '
import json, sys
for m in json.load(sys.stdin)["manifests"]:
    p = m["platform"]
    print("  %-16s %s" % (p["architecture"] + ("/" + p["variant"] if "variant" in p else ""), m["digest"]))'
echo
for arch in amd64 arm64; do
  skopeo copy -q --override-arch "$arch" "oci:$work/image:latest" "oci:$work/$arch:latest"
  umoci unpack --image "$work/$arch:latest" "$work/bundle-$arch" >/dev/null
  python3 - "$work/bundle-$arch/config.json" <<'PY'
import json, sys
path = sys.argv[1]
config = json.load(open(path))
config["process"]["args"].append("--once")
config["process"]["terminal"] = False
json.dump(config, open(path, "w"))
PY
  printf 'runc, %-6s %s\n' "$arch:" "$(runc run -b "$work/bundle-$arch" "slipway-demo-$arch-$$")"
done
echo
echo "the OCI layout is in $work/image"
