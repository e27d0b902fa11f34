#!/usr/bin/env python3
"""The real-module corpus (crates/slipway/tests/corpus.rs), timed cold and warm.

Cold: a fresh Go build cache and a fresh slipway cache (so zig compiles each
target's libc again and every cgo package is compiled anew); Go's module cache
stays, since downloads are the network's cost, not the build's. Warm: the same
suite again with those caches. The suite's wall time is measured here.

    python3 benches/corpus.py [--warm-only] [--threads N]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_suite(env, threads):
    cmd = [
        "cargo", "test", "-q", "-p", "slipway", "--test", "corpus", "--",
        f"--test-threads={threads}",
    ]
    start = time.monotonic()
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.monotonic() - start
    if out.returncode != 0:
        sys.stdout.write(out.stdout + out.stderr)
        sys.exit(f"corpus failed (exit {out.returncode})")
    return wall, [l for l in out.stdout.splitlines() if l.startswith("test ")]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--warm-only", action="store_true", help="skip the cold run")
    ap.add_argument("--threads", type=int, default=2, help="tests at once (default 2)")
    args = ap.parse_args()
    # Build the test binary first, so its compile time is not counted.
    subprocess.run(
        ["cargo", "test", "-q", "-p", "slipway", "--test", "corpus", "--no-run"],
        cwd=ROOT, check=True,
    )
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="slipway-corpus-") as tmp:
        if not args.warm_only:
            env["GOCACHE"] = os.path.join(tmp, "go-build")
            env["SLIPWAY_CACHE_DIR"] = os.path.join(tmp, "slipway")
            env["ZIG_GLOBAL_CACHE_DIR"] = os.path.join(tmp, "slipway", "zig")
        runs = [("cold", env)] if not args.warm_only else []
        runs.append(("warm", env))
        for name, run_env in runs:
            wall, lines = run_suite(run_env, args.threads)
            print(f"{name}: {wall:.0f} s wall on {os.cpu_count()} CPUs, {args.threads} tests at once")
            for line in lines:
                print(f"  {line}")


if __name__ == "__main__":
    main()
