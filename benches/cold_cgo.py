#!/usr/bin/env python3
"""Cold cgo matrix: how long zig's per-target libc warm-up takes, and that a
second project reuses it.

1. A fresh slipway cache (so a fresh zig cache and fresh CC wrapper paths) builds
   examples/hello for the musl targets, one target at a time, so each target's
   time is its own: zig compiles musl and compiler-rt for it, cgo compiles.
2. A second, different cgo module is built with the same cache: zig's libc is
   reused, so only that module's own work remains.

Go's build cache stays shared (pure-Go packages are compiled already); the new
wrapper paths make Go recompile every cgo package, as on a first use.

    python3 benches/cold_cgo.py [--slipway target/release/slipway]
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLATFORMS = "linux/amd64,linux/arm64,linux/arm/v7,linux/riscv64,linux/mipsle/softfloat"

SECOND_PROJECT = """package main

/*
#include <stdlib.h>
#include <string.h>
static int count_vowels(const char *s) { int n = 0; for (; *s; s++) n += strchr("aeiou", *s) != NULL; return n; }
*/
import "C"

import (
	"fmt"
	"unsafe"
)

func main() {
	s := C.CString("second project reuses zig's libc")
	defer C.free(unsafe.Pointer(s))
	fmt.Println(C.count_vowels(s))
}
"""


def build(slipway, module, cache, out):
    env = dict(os.environ, SLIPWAY_CACHE_DIR=cache, CI="true")
    start = time.perf_counter()
    proc = subprocess.run([slipway, "build", module, "--platform", PLATFORMS, "--libc", "musl", "--jobs", "1",
                           "--out", out], env=env, capture_output=True, text=True)
    total = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"slipway build failed:\n{proc.stderr}")
    per_target = dict(re.findall(r"built (\S+) \(musl\) in ([0-9.]+)s", proc.stderr))
    return total, {k: float(v) for k, v in per_target.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--slipway", default=os.path.join(ROOT, "target/release/slipway"))
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="slipway-cold-")
    try:
        cache = os.path.join(work, "cache")
        second = os.path.join(work, "second")
        os.makedirs(second)
        with open(os.path.join(second, "go.mod"), "w") as f:
            f.write("module example.com/second\n\ngo 1.22\n")
        with open(os.path.join(second, "main.go"), "w") as f:
            f.write(SECOND_PROJECT)

        cold_total, cold = build(args.slipway, os.path.join(ROOT, "examples/hello"), cache, os.path.join(work, "out1"))
        warm_total, warm = build(args.slipway, second, cache, os.path.join(work, "out2"))

        print("cold cgo matrix (musl, one target at a time)")
        print(f"  {'platform':<26} {'first project':>14} {'second project':>15} {'ratio':>7}")
        for platform, t in cold.items():
            w = warm.get(platform, float("nan"))
            print(f"  {platform:<26} {t:>12.1f} s {w:>13.1f} s {t / w:>6.1f}x")
        print(f"  {'total':<26} {cold_total:>12.1f} s {warm_total:>13.1f} s {cold_total / warm_total:>6.1f}x")
        print("  (first project: zig builds musl + compiler-rt per target; second: reused from the cache)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
