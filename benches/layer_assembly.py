#!/usr/bin/env python3
"""Layer assembly (tar + compress + digest) of one large binary: slipway's
path against ko's (Go archive/tar + compress/gzip BestSpeed + sha256),
interleaved A/B in one run. Each side times only its in-memory work.

    python3 benches/layer_assembly.py BINARY [--runs 7] [--levels 1,2,3,4,6]

The target is >= 2x ko's throughput at an equal or smaller compressed size.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--levels", default="1,2,3,4,6")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="layer-bench-")
    ko = os.path.join(tmp, "ko-layer")
    subprocess.run(["go", "build", "-o", ko, "."], cwd=os.path.join(ROOT, "benches/ko-layer"), check=True,
                   env=dict(os.environ, GOFLAGS="-buildvcs=false"))
    subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "slipway-oci", "--example", "layer_bench"],
                   cwd=ROOT, check=True)
    ours = os.path.join(ROOT, "target/release/examples/layer_bench")
    levels = [int(x) for x in args.levels.split(",")]

    sides = {"ko (Go BestSpeed)": [ko, args.binary]}
    for level in levels:
        sides[f"slipway gzip -{level}"] = [ours, args.binary, str(level)]
    results = {name: [] for name in sides}
    for _ in range(args.runs):
        for name, cmd in sides.items():
            results[name].append(json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout))

    size_mb = results["ko (Go BestSpeed)"][0]["input"] / 1e6
    print(f"layer assembly of {os.path.basename(args.binary)} ({size_mb:.1f} MB), {args.runs} interleaved runs, "
          f"{os.cpu_count()} CPUs")
    ko_mbs = size_mb / statistics.median(r["seconds"] for r in results["ko (Go BestSpeed)"])
    ko_size = results["ko (Go BestSpeed)"][0]["compressed"]
    print(f"  {'side':<20} {'MB/s (median)':>14} {'compressed':>12} {'vs ko speed':>12} {'vs ko size':>11}")
    for name, rs in results.items():
        mbs = size_mb / statistics.median(r["seconds"] for r in rs)
        size = rs[0]["compressed"]
        print(f"  {name:<20} {mbs:>14.1f} {size:>12} {mbs / ko_mbs:>11.2f}x {size / ko_size:>10.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
