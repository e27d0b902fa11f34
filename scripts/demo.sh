#!/usr/bin/env bash
# Set up what is missing, then run slipway's main job on the bundled example:
# cross-compile examples/hello (an HTTP service with a little cgo) for the
# platforms in its slipway.toml, statically against musl, and run each binary
# under qemu-user to show it works on its target.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked --quiet
slipway=target/release/slipway
out=$(mktemp -d)
"$slipway" build examples/hello --out "$out"
echo
for bin in "$out"/linux_*/hello; do
  platform=$(basename "$(dirname "$bin")")
  case "$platform" in
    linux_amd64*) runner=() ;;
    linux_arm64*) runner=(qemu-aarch64) ;;
    linux_arm_*) runner=(qemu-arm) ;;
    linux_riscv64*) runner=(qemu-riscv64) ;;
    linux_mipsle*) runner=(qemu-mipsel) ;;
    linux_mips64le*) runner=(qemu-mips64el) ;;
    linux_mips64*) runner=(qemu-mips64) ;;
    linux_mips*) runner=(qemu-mips) ;;
    *) echo "$platform: no runner in this demo"; continue ;;
  esac
  printf '%-26s %s\n' "$platform:" "$("${runner[@]}" "$bin" --once)"
done
echo
echo "binaries and SHA256SUMS are in $out"
