#!/usr/bin/env bash
# Run every fuzz target in fuzz/ with cargo fuzz on the stable toolchain
# (--sanitizer none), one per CPU at a time, at the lowest CPU priority, on its saved
# corpus (scripts/fuzz-seeds.sh fills it). By default each target runs 15 s: a
# smoke test that the targets build and that nothing in the corpus crashes.
#   scripts/fuzz.sh                      every target, 15 s each
#   FUZZ_SECONDS=3600 scripts/fuzz.sh elf osv   longer runs of some targets
#   scripts/fuzz.sh --build-only         build every target and stop
# Prints one line per target with the number of executions; a crash saves its
# input under fuzz/artifacts/<target>/, the other targets still run, exit 1.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-15}"
build_only=false
if [[ "${1:-}" == --build-only ]]; then build_only=true; shift; fi
cargo_fuzz=$(scripts/install-cargo-fuzz.sh)
if $build_only; then
    exec nice -n 19 "$cargo_fuzz" build --fuzz-dir fuzz --sanitizer none >&2
fi
scripts/fuzz-seeds.sh
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    mapfile -t targets < <("$cargo_fuzz" list --fuzz-dir fuzz)
fi
nice -n 19 "$cargo_fuzz" build --fuzz-dir fuzz --sanitizer none >&2
# Seconds one input may take before libFuzzer calls it a hang. Generous,
# because at nice 19 on a busy machine a 2 ms input can wait seconds for a
# CPU. Key files are opened with scrypt at the work factors cosign accepts
# (up to N = 2^17, 128 MiB), which is slow on purpose.
input_timeout() { case "$1" in cosign_keys) echo 300 ;; *) echo 60 ;; esac; }
# One target on its corpus; prints its line, or the log's tail on a crash.
run_target() {
    local t=$1 log="fuzz/artifacts/$1.log" runs corpus
    mkdir -p "fuzz/artifacts/$t"
    if ! nice -n 19 "$cargo_fuzz" run --fuzz-dir fuzz --sanitizer none "$t" "fuzz/corpus/$t" -- \
        -max_total_time="$seconds" -timeout="$(input_timeout "$t")" -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$t/" >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        echo "fuzz: $t crashed; the input is in fuzz/artifacts/$t/ (log: $log)" >&2
        return 1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    corpus=$(find "fuzz/corpus/$t" -type f | wc -l)
    printf 'fuzz: %-18s %10s executions in %ss, corpus %s files\n' "$t" "${runs:-?}" "$seconds" "$corpus"
}
# Targets run side by side, one per CPU (FUZZ_JOBS), each on one core.
jobs_max="${FUZZ_JOBS:-$(nproc)}"
pids=()
for t in "${targets[@]}"; do
    while [[ $(jobs -rp | wc -l) -ge $jobs_max ]]; do wait -n || true; done
    run_target "$t" &
    pids+=("$!")
done
failed=()
for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || failed+=("${targets[$i]}")
done
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fuzz: failed: ${failed[*]}" >&2
    exit 1
fi
