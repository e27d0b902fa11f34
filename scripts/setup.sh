#!/usr/bin/env bash
# Install what slipway's example and tests need on a fresh Debian machine:
# the Debian packages listed in scripts/deps/*.apt, zig and the SBOM validators
# from PyPI, and the qemu-user binfmt registrations. Safe to run again; it
# installs only what is missing. Needs root (or sudo) for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

wanted=$(cat scripts/deps/*.apt | sed 's/#.*//' | tr -s ' \t' '\n' | sed '/^$/d' | sort -u)
missing=()
for pkg in $wanted; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# zig, pinned: slipway's shipped init (init/prebuilt/) is checked byte for byte
# against a build by exactly this version.
zig_version=0.17.1
if ! command -v zig >/dev/null 2>&1 && ! python3 -c 'import ziglang' 2>/dev/null; then
  say "installing zig (pip install ziglang==$zig_version)"
  python3 -m pip install --quiet "ziglang==$zig_version" 2>/dev/null || python3 -m pip install --quiet --break-system-packages "ziglang==$zig_version"
fi

# The SBOM tests check slipway's documents with the formats' own validators.
if ! command -v pyspdxtools >/dev/null 2>&1 || ! python3 -c 'import cyclonedx.validation.json, jsonschema' 2>/dev/null; then
  say "installing SBOM validators (pip install spdx-tools cyclonedx-python-lib[json-validation])"
  pips=(spdx-tools 'cyclonedx-python-lib[json-validation]')
  python3 -m pip install --quiet "${pips[@]}" 2>/dev/null || python3 -m pip install --quiet --break-system-packages "${pips[@]}"
fi

command -v go >/dev/null 2>&1 || { say "go is not installed: install Go 1.22 or newer (https://go.dev/dl)"; exit 3; }
command -v cargo >/dev/null 2>&1 || { say "cargo is not installed: install Rust (https://rustup.rs)"; exit 3; }

# binfmt_misc lets runc start foreign-architecture images through qemu-user-static.
if [ -d /proc/sys/fs/binfmt_misc ] && command -v update-binfmts >/dev/null 2>&1; then
  mountpoint -q /proc/sys/fs/binfmt_misc || as_root mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || true
  as_root update-binfmts --enable >/dev/null 2>&1 || true
  # Debian registers qemu without the C (credentials) flag, so a foreign binary
  # runs with the interpreter's credentials and its file capabilities are
  # ignored: `[image] capabilities` could not be tested on arm64. Register
  # again with POCF, as container hosts do (O comes with C).
  for entry in /proc/sys/fs/binfmt_misc/qemu-*; do
    [ -f "$entry" ] || continue
    grep -q '^flags: .*C' "$entry" && continue
    name=${entry##*/}
    interpreter=$(sed -n 's/^interpreter //p' "$entry")
    offset=$(sed -n 's/^offset //p' "$entry")
    magic=$(sed -n 's/^magic //p' "$entry" | sed 's/../\\x&/g')
    mask=$(sed -n 's/^mask //p' "$entry" | sed 's/../\\x&/g')
    [ -n "$interpreter" ] && [ -n "$magic" ] || continue
    as_root sh -c "echo -1 > $entry && printf '%s' ':$name:M:$offset:$magic:$mask:$interpreter:POCF' > /proc/sys/fs/binfmt_misc/register" \
      || say "could not register $name with the C flag: file capabilities of foreign binaries will not apply"
  done
fi
say "ready"
