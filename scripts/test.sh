#!/usr/bin/env bash
# Run slipway's whole test suite: install what is missing, check formatting,
# then every unit and integration test against the real tools. Go's, zig's and
# cargo's caches live in their default places and are shared between tests and
# runs, so only the first run on a machine pays for zig's per-target libc.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The signing tests check against a real cosign, built once from the Go module
# proxy (several minutes the first time); build it before tests run in parallel.
scripts/install-cosign.sh >/dev/null
# The Notary tests check against a real notation, built the same way (about 2 minutes).
scripts/install-notation.sh >/dev/null
# The remote-cache tests run versitygw, an S3 server built the same way (about 4 minutes once).
scripts/install-go-tool.sh versitygw >/dev/null
cargo fmt --all -- --check
# Lints and docs fail the run on any warning, so they never pile up.
cargo clippy --workspace --all-targets --locked -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
cargo test --workspace --locked --no-fail-fast "$@"
# Every fuzz target, 15 s each on its saved corpus (scripts/fuzz.sh).
scripts/fuzz.sh
# The pip route: build the wheel, install it into a fresh virtualenv, and run
# slipway doctor and a pure-Go image build from there.
scripts/test-wheel.sh
