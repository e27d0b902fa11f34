#!/usr/bin/env bash
# A/B benchmark: `slipway strip --debug-out` against the binutils way of
# splitting debug info, on the same large Go binary, interleaved in one run:
#
#   A: slipway strip BIN -o A/bin --debug-out A/bin.debug --mode debug
#   B: objcopy --only-keep-debug BIN B/bin.debug
#      objcopy --strip-debug --add-gnu-debuglink=B/bin.debug BIN B/bin
#
# --mode debug is the like-for-like mode: objcopy --strip-debug keeps the
# symbol table too. Prints the median wall time of each, the speed-up and the
# output sizes. Usage: benches/strip_vs_objcopy.sh [BINARY]  (RUNS=N to change
# the number of rounds; default: a stdlib-heavy Go test program, built here).
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${RUNS:-15}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
command -v objcopy >/dev/null || { echo "objcopy is required (Debian package binutils)" >&2; exit 3; }

cargo build --release -q -p slipway
slipway=$PWD/target/release/slipway

bin=${1:-}
if [ -z "$bin" ]; then
  bin=$work/bigprog
  (cd crates/slipway/tests/elf_fixtures/bigprog && CGO_ENABLED=0 go build -trimpath -o "$bin" .)
fi
mkdir -p "$work/A" "$work/B"

now() { date +%s%N; }
a_times=() b_times=()
for i in $(seq "$runs"); do
  # Alternate which goes first so neither always gets the warmer page cache.
  for side in $( [ $((i % 2)) = 0 ] && echo "A B" || echo "B A"); do
    rm -f "$work/$side/"*
    t0=$(now)
    if [ "$side" = A ]; then
      "$slipway" strip "$bin" -o "$work/A/bin" --debug-out "$work/A/bin.debug" --mode debug 2>/dev/null
    else
      objcopy --only-keep-debug "$bin" "$work/B/bin.debug"
      objcopy --strip-debug --add-gnu-debuglink="$work/B/bin.debug" "$bin" "$work/B/bin"
    fi
    t1=$(now)
    if [ "$side" = A ]; then a_times+=($((t1 - t0))); else b_times+=($((t1 - t0))); fi
  done
done

median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
a=$(median "${a_times[@]}")
b=$(median "${b_times[@]}")
size() { stat -c %s "$1"; }

echo "input:            $bin ($(size "$bin") bytes), $runs rounds"
awk -v a="$a" -v b="$b" 'BEGIN {
  printf "slipway strip:    %8.2f ms (median)\n", a / 1e6
  printf "objcopy x2:       %8.2f ms (median)\n", b / 1e6
  printf "speed-up:         %8.2fx\n", b / a
}'
echo "stripped binary:  slipway $(size "$work/A/bin")  objcopy $(size "$work/B/bin")"
echo "debug file:       slipway $(size "$work/A/bin.debug")  objcopy $(size "$work/B/bin.debug")"
"$slipway" strip "$bin" -o "$work/A/all" --mode all 2>/dev/null
objcopy --strip-all "$bin" "$work/B/all"
echo "--mode all:       slipway $(size "$work/A/all")  objcopy --strip-all $(size "$work/B/all")"
