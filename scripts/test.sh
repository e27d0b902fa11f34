#!/usr/bin/env bash
# Run slipway's whole test suite: install what is missing, check formatting,
# then every unit and integration test against the real tools. Go's, zig's and
# cargo's caches live in their default places and are shared between tests and
# runs, so only the first run on a machine pays for zig's per-target libc.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Peer tools the tests check against, each built once from the Go module proxy
# and cached: cosign (about 4 minutes the first time), notation (about 2) and
# versitygw, the S3 server of the remote-cache tests (about 4). On a fresh
# machine they build in the background while clippy and rustdoc run, and the
# tests start only once all three are there.
peer_logs=$(mktemp -d)
peer_pids=()
for tool in install-cosign.sh install-notation.sh "install-go-tool.sh versitygw"; do
    # shellcheck disable=SC2086 # the tool's arguments are meant to split
    scripts/$tool >/dev/null 2>"$peer_logs/${tool%% *}.log" &
    peer_pids+=("$!")
done
cargo fmt --all -- --check
# Lints and docs fail the run on any warning, so they never pile up.
cargo clippy --workspace --all-targets --locked -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
for pid in "${peer_pids[@]}"; do
    if ! wait "$pid"; then
        cat "$peer_logs"/*.log >&2
        echo "test: building a peer tool failed (logs above)" >&2
        exit 3
    fi
done
cat "$peer_logs"/*.log >&2
rm -rf "$peer_logs"
# The fuzz targets and the wheel are two more builds of the whole dependency
# tree (instrumented, and release). They compile, and then run (each fuzz
# target 15 s on its saved corpus; the wheel installed into a fresh virtualenv
# that runs `slipway doctor` and a pure-Go image build), at the lowest
# priority while the tests run. The tests spend much of their time waiting on
# registries, the Go module proxy and qemu, so a fresh machine does not pay
# for these one after another.
late_logs=$(mktemp -d)
(nice -n 19 scripts/fuzz.sh --build-only && nice -n 19 scripts/fuzz.sh) >"$late_logs/fuzz.log" 2>&1 &
fuzz_run=$!
(nice -n 19 scripts/build-wheel.sh >/dev/null && nice -n 19 scripts/test-wheel.sh) >"$late_logs/wheel.log" 2>&1 &
wheel_run=$!
tests_ok=true
cargo test --workspace --locked --no-run "$@"
# The proof that the shipped inits are what init/ says rebuilds every one of
# them with zig, which compiles musl once per target: ten minutes of CPU on a
# fresh machine, and nothing else in the suite needs those builds. It runs
# beside the rest of the suite instead of after it.
rebuild_test=shipped_inits_are_rebuilt_from_source_byte_for_byte
if [[ $# -eq 0 ]]; then
    (cargo test --locked -p slipway-init --test binary -- --exact "$rebuild_test") >"$late_logs/init.log" 2>&1 &
    init_run=$!
    cargo test --workspace --locked --no-fail-fast -- --skip "$rebuild_test" || tests_ok=false
    if wait "$init_run"; then
        grep -E '^test |test result' "$late_logs/init.log" >&2
    else
        cat "$late_logs/init.log" >&2
        tests_ok=false
    fi
else
    cargo test --workspace --locked --no-fail-fast "$@" || tests_ok=false
fi
fuzz_ok=true wheel_ok=true
wait "$fuzz_run" || fuzz_ok=false
cat "$late_logs/fuzz.log" >&2
wait "$wheel_run" || wheel_ok=false
cat "$late_logs/wheel.log" >&2
rm -rf "$late_logs"
$tests_ok || { echo "test: cargo test failed (see above)" >&2; exit 1; }
$fuzz_ok || { echo "test: a fuzz target failed to build or crashed (see above)" >&2; exit 1; }
$wheel_ok || { echo "test: the pip route failed (see above)" >&2; exit 1; }
