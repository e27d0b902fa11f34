#!/usr/bin/env python3
"""Warm no-op rebuild: `slipway build` against the bare `go build` commands it wraps.

Both sides build the same 5 cgo (musl) targets of examples/hello with nothing
changed. The bare side runs exactly the commands and environment slipway plans
(taken from `slipway build --dry-run --json`), as many at once as slipway runs
(one per CPU). Runs are interleaved A/B in one process so machine noise hits both.
The figure that matters is the ratio of medians; the target is <= 1.1.

    python3 benches/warm_rebuild.py [--slipway target/release/slipway] [--runs 15]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLATFORMS = "linux/amd64,linux/arm64,linux/arm/v7,linux/riscv64,linux/mipsle/softfloat"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--slipway", default=os.path.join(ROOT, "target/release/slipway"))
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--libc", default="musl")
    args = ap.parse_args()

    module = os.path.join(ROOT, "examples/hello")
    out = tempfile.mkdtemp(prefix="slipway-bench-")
    slipway_cmd = [args.slipway, "build", module, "--platform", PLATFORMS, "--libc", args.libc, "--out", out]

    # Warm everything once: zig's libc, Go's cache, the staged binaries.
    subprocess.run(slipway_cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    plan = json.loads(subprocess.run(slipway_cmd + ["--dry-run", "--json"], check=True, capture_output=True, text=True).stdout)
    base_env = {k: v for k, v in os.environ.items() if k not in plan["dropped_env"]}
    jobs = os.cpu_count() or 1

    def bare_one(target):
        env = dict(base_env, **target["env"])
        subprocess.run([plan["go"]] + target["args"], cwd=plan["dir"], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def bare():
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(bare_one, plan["targets"]))

    def slipway():
        subprocess.run(slipway_cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    times = {"slipway build": [], "bare go build": []}
    for i in range(args.runs):
        # Alternate which side goes first, so neither always follows the other.
        order = [("slipway build", slipway), ("bare go build", bare)]
        if i % 2:
            order.reverse()
        for name, fn in order:
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)

    print(f"warm no-op rebuild, {len(plan['targets'])} targets ({args.libc}), {args.runs} interleaved runs, {jobs} jobs")
    for name, ts in times.items():
        print(f"  {name:<14} median {statistics.median(ts) * 1000:7.1f} ms   min {min(ts) * 1000:7.1f} ms   "
              f"mean {statistics.mean(ts) * 1000:7.1f} ms")
    ratio = statistics.median(times["slipway build"]) / statistics.median(times["bare go build"])
    print(f"  ratio slipway/bare (medians): {ratio:.3f}  (target <= 1.1)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
