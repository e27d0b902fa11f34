#!/usr/bin/env python3
"""The runtime closure check and base images, measured.

1. What the closure check adds to `slipway image`, per platform: a glibc 2.28 build of
   examples/hello with `--runtime glibc` (a dynamic binary: interpreter, libc, libresolv,
   libpthread, symbol versions) and a static musl build. slipway times the check itself
   (merging the layers' file lists included) and reports it in `--json` as
   `closure[].micros`; the median over warm runs is printed. Goal: < 50 ms per platform.
   With a base image the check also needs the base's layers uncompressed
   (`closure[].base_micros`), shown in part 2.
2. A warm build of the same service on a base image against one on slipway's minimal base
   (plus `--runtime glibc`), arm64, interleaved A/B. The base is an OCI layout made with
   umoci from Debian's arm64 cross glibc.

    python3 benches/image_closure.py [--slipway target/release/slipway] [--runs 7]

Needs Debian's libc6-<arch>-cross for each glibc platform (scripts/deps/image.apt) and umoci.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GLIBC_PLATFORMS = {"linux/amd64": "x86_64-linux-gnu", "linux/arm64": "aarch64-linux-gnu",
                   "linux/arm/v7": "arm-linux-gnueabihf"}


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def image(slipway, module, out, *extra):
    started = time.perf_counter()
    done = run([slipway, "image", module, "--out", out, "--json", *extra])
    return time.perf_counter() - started, json.loads(done.stdout)


def make_base(work):
    """An arm64 glibc base: the loader and the libraries hello needs, Debian layout."""
    layout = os.path.join(work, "base")
    ref = f"{layout}:base"
    run(["umoci", "init", "--layout", layout])
    run(["umoci", "new", "--image", ref])
    bundle = os.path.join(work, "base-bundle")
    run(["umoci", "unpack", "--image", ref, bundle])
    lib = os.path.join(bundle, "rootfs/lib/aarch64-linux-gnu")
    os.makedirs(lib)
    for name in ["ld-linux-aarch64.so.1", "libc.so.6", "libresolv.so.2", "libpthread.so.0"]:
        shutil.copy(os.path.join("/usr/aarch64-linux-gnu/lib", name), lib)
    os.symlink("aarch64-linux-gnu/ld-linux-aarch64.so.1",
               os.path.join(bundle, "rootfs/lib/ld-linux-aarch64.so.1"))
    run(["umoci", "repack", "--image", ref, bundle])
    run(["umoci", "config", "--image", ref, "--architecture", "arm64", "--os", "linux"])
    return f"oci:{ref}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--slipway", default=os.path.join(ROOT, "target/release/slipway"))
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    module = os.path.join(ROOT, "examples/hello")
    work = tempfile.mkdtemp(prefix="slipway-bench-closure-")
    out = os.path.join(work, "image")

    print("closure check per platform (median of warm runs):")
    cases = [(p, ["--libc", "glibc:2.28", "--runtime", "glibc"])
             for p, t in GLIBC_PLATFORMS.items() if os.path.isdir(f"/usr/{t}/lib")]
    cases.append(("linux/arm64", ["--libc", "musl"]))
    for platform, flags in cases:
        image(args.slipway, module, out, "--platform", platform, *flags)  # warm
        micros = []
        for _ in range(args.runs):
            _, report = image(args.slipway, module, out, "--platform", platform, *flags)
            micros.append(report["closure"][0]["micros"])
        libs = len(report["closure"][0]["binaries"][0]["libraries"])
        print(f"  {platform:<14} {' '.join(flags):<36} {statistics.median(micros) / 1000:7.2f} ms"
              f"  ({libs} libraries resolved, max {max(micros) / 1000:.2f} ms)")

    if shutil.which("umoci") is None:
        print("umoci is not installed: skipping the base-image comparison", file=sys.stderr)
        return 1
    base = make_base(work)
    glibc = ["--platform", "linux/arm64", "--libc", "glibc:2.28"]
    sides = {"minimal base + runtime": glibc + ["--runtime", "glibc"], "base image": glibc + ["--base", base]}
    for flags in sides.values():
        image(args.slipway, module, out, *flags)  # warm: Go cache, layers, base blobs
    times = {name: [] for name in sides}
    check_ms = {name: [] for name in sides}
    for i in range(args.runs):
        order = list(sides.items())
        if i % 2:
            order.reverse()
        for name, flags in order:
            t, report = image(args.slipway, module, out, *flags)
            times[name].append(t)
            c = report["closure"][0]
            check_ms[name].append((c["micros"] + (c.get("base_micros") or 0)) / 1000)
    print("warm `slipway image`, linux/arm64 glibc:2.28 (median wall time):")
    for name, ts in times.items():
        print(f"  {name:<24} {statistics.median(ts):6.3f} s  (min {min(ts):.3f}, max {max(ts):.3f}); "
              f"closure check incl. reading the base's layers: {statistics.median(check_ms[name]):.2f} ms")
    a, b = (statistics.median(times[n]) for n in sides)
    print(f"  base image / minimal: {b / a:.2f}x")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
