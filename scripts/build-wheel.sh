#!/usr/bin/env bash
# Build slipway's Python wheel (`pip install slipway`): the release binary for
# x86-64 Linux with glibc 2.17 or newer (manylinux2014), linked by zig so it
# needs no newer glibc whatever this machine has. maturin and zig come from
# PyPI into a cached virtualenv. Prints the wheel's path.
#
#   scripts/build-wheel.sh [OUT_DIR]      (default: target/wheels)
set -euo pipefail
cd "$(dirname "$0")/.."
maturin_version="${MATURIN_VERSION:-1.16.0}"
zig_version="${ZIGLANG_VERSION:-0.17.1}"
venv="${SLIPWAY_MATURIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/slipway-maturin}/$maturin_version-zig$zig_version"
if [[ ! -x "$venv/bin/maturin" ]]; then
    echo "build-wheel: installing maturin $maturin_version and ziglang $zig_version into $venv (once)" >&2
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet "maturin==$maturin_version" "ziglang==$zig_version" >&2
fi
out="${1:-target/wheels}"
mkdir -p "$out"
# maturin finds zig through `python3 -m ziglang`: the venv's python first.
PATH="$venv/bin:$PATH" maturin build --release --zig --compatibility manylinux2014 \
    -m crates/slipway/Cargo.toml --out "$out" >&2
ls -t "$out"/slipway-*manylinux*.whl | head -n 1
