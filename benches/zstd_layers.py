#!/usr/bin/env python3
"""zstd against gzip for slipway's layers: compressed size, compression time,
and decompression time on amd64 and (indicative only) on arm64 under qemu.

Inputs: the layers of the bundled example (examples/hello, linux/amd64, musl)
and of a real module from the Go module proxy, pinned by version and hash
(default: nats-server v2.15.2, from crates/slipway/tests/corpus.rs), each as
`slipway image` lays them out. Every layer is compressed exactly as slipway
does (crates/slipway-oci/examples/compress_bench.rs: pinned libdeflate gzip,
pinned libzstd zstd) and read back through slipway's one layer decoder; the
table sums over the image's layers.

Decompression is timed three ways:
  - slipway's own reader (flate2/zlib-rs, libzstd) on amd64;
  - a Go program with the decoders Go container runtimes pull with
    (compress/gzip, klauspost/compress/zstd; benches/zstd-decode), built
    for amd64 and run natively;
  - the same Go program cross-built for arm64 and run under qemu-aarch64.
    qemu translates every instruction, so this says how the two formats
    compare on arm64 code, not how fast a real arm64 board is: indicative only.

    python3 benches/zstd_layers.py [--runs 3] [--levels gzip:6,gzip:9,zstd:3,zstd:9,zstd:12,zstd:15,zstd:17,zstd:19]
                                   [--strip split|none] [--module-only] [--threads N] [--slipway PATH]

slipway strips binaries in images; nats-server stripped is a 17 MB layer, so
`--strip none` (the binary as linked, 20+ MB) gives the larger case.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODULE = ("github.com/nats-io/nats-server/v2", "v2.15.2",
          "h1:yLsgt2kslgymvxvjFq1WGWck5hkat2YYfbXvQ145tzU=", "nats-server")


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def layer_tars(slipway, module_dir, extra, work, name):
    """Build an amd64 gzip image of module_dir; return its layers as tar files."""
    out = os.path.join(work, f"{name}-image")
    run([slipway, "image", module_dir, "--platform", "linux/amd64", "--out", out, *extra],
        env=dict(os.environ, SOURCE_DATE_EPOCH="0"))
    index = json.load(open(os.path.join(out, "index.json")))
    blob = lambda d: os.path.join(out, "blobs/sha256", d.split(":")[1])
    top = json.load(open(blob(index["manifests"][0]["digest"])))
    manifest = json.load(open(blob(top["manifests"][0]["digest"])))
    tars = []
    import gzip
    for i, layer in enumerate(manifest["layers"]):
        path = os.path.join(work, f"{name}-layer{i}.tar")
        with gzip.open(blob(layer["digest"])) as src, open(path, "wb") as dst:
            shutil.copyfileobj(src, dst)
        tars.append(path)
    return tars


def module_source(work):
    module, version, want, _ = MODULE
    info = json.loads(run(["go", "mod", "download", "-json", f"{module}@{version}"]))
    if info.get("Sum") != want:
        sys.exit(f"{module}@{version}: sum {info.get('Sum')} is not the pinned {want}")
    src = os.path.join(work, "module")
    shutil.copytree(info["Dir"], src)
    for d, _, files in os.walk(src):
        os.chmod(d, 0o755)
        for f in files:
            os.chmod(os.path.join(d, f), 0o644)
    return src


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--levels", default="gzip:6,gzip:9,zstd:3,zstd:9,zstd:12,zstd:15,zstd:17,zstd:19")
    ap.add_argument("--threads", type=int, default=1,
                    help="threads per layer (gzip's chunks, zstd's workers); 1 gives CPU time")
    ap.add_argument("--slipway", help="a built slipway to lay out the images (default: cargo build)")
    ap.add_argument("--qemu-runs", type=int, default=1)
    ap.add_argument("--strip", default="split", help="--strip for the module's build (split|none)")
    ap.add_argument("--module-only", action="store_true", help="skip the example")
    args = ap.parse_args()
    specs = args.levels.split(",")
    qemu = shutil.which("qemu-aarch64-static") or shutil.which("qemu-aarch64")
    if not qemu:
        sys.exit("qemu-aarch64 is required: run scripts/setup.sh (qemu-user-static)")

    if args.slipway:
        slipway = args.slipway
    else:
        run(["cargo", "build", "-q", "-p", "slipway"], cwd=ROOT)
        slipway = os.path.join(ROOT, "target/debug/slipway")
    run(["cargo", "build", "-q", "--release", "-p", "slipway-oci", "--example", "compress_bench"], cwd=ROOT)
    bench = os.path.join(ROOT, "target/release/examples/compress_bench")
    work = tempfile.mkdtemp(prefix="zstd-bench-")
    decode_src = os.path.join(ROOT, "benches/zstd-decode")
    decoders = {}
    for goarch in ["amd64", "arm64"]:
        decoders[goarch] = os.path.join(work, f"zstd-decode-{goarch}")
        run(["go", "build", "-trimpath", "-o", decoders[goarch], "."], cwd=decode_src,
            env=dict(os.environ, GOOS="linux", GOARCH=goarch, CGO_ENABLED="0", GOFLAGS="-mod=readonly"))

    inputs = []
    if not args.module_only:
        inputs.append(("examples/hello", layer_tars(slipway, os.path.join(ROOT, "examples/hello"),
                                                    ["--libc", "musl"], work, "hello")))
    inputs.append((f"{MODULE[0]}@{MODULE[1]} (--strip {args.strip})",
                   layer_tars(slipway, module_source(work),
                              ["--libc", "none", "--name", MODULE[3], "--strip", args.strip], work, "module")))
    threads = args.threads
    for title, tars in inputs:
        total = {s: {"input": 0, "compressed": 0, "c": 0.0, "cpu": 0.0, "d": 0.0, "go64": 0.0, "qemu": 0.0} for s in specs}
        for i, tar in enumerate(tars):
            outdir = os.path.join(work, f"{os.path.basename(tar)}.out")
            os.makedirs(outdir)
            for line in run([bench, tar, outdir, str(args.runs), str(threads), *specs]).splitlines():
                r = json.loads(line)
                t = total[r["spec"]]
                t["input"] += r["input"]
                t["compressed"] += r["compressed"]
                t["c"] += r["compress_seconds"]
                t["cpu"] += r["compress_cpu_seconds"]
                t["d"] += r["decompress_seconds"]
                blob = os.path.join(outdir, r["file"])
                fmt = r["spec"].split(":")[0]
                native = json.loads(run([decoders["amd64"], str(args.runs), f"{fmt}:{blob}"]))
                emulated = json.loads(run([qemu, decoders["arm64"], str(args.qemu_runs), f"{fmt}:{blob}"]))
                assert native["output"] == r["input"] == emulated["output"], (native, emulated, r)
                t["go64"] += native["seconds"]
                t["qemu"] += emulated["seconds"]
        mb = total[specs[0]]["input"] / 1e6
        base = total.get("gzip:6", total[specs[0]])
        print(f"\n{title}: {len(tars)} layers, {mb:.1f} MB of tar; medians of {args.runs} runs, "
              f"{threads} thread(s), {os.cpu_count()} CPUs (shared), load average {os.getloadavg()[0]:.1f}")
        print(f"  {'compression':<12} {'bytes':>11} {'vs gzip:6':>9} {'compress s':>11} {'CPU s':>7} "
              f"{'decomp s (slipway)':>19} {'decomp s (Go amd64)':>20} {'decomp s (Go arm64 qemu*)':>26}")
        for s in specs:
            t = total[s]
            print(f"  {s:<12} {t['compressed']:>11} {t['compressed'] / base['compressed']:>9.3f} {t['c']:>11.3f} {t['cpu']:>7.2f} "
                  f"{t['d']:>19.3f} {t['go64']:>20.3f} {t['qemu']:>26.3f}")
    print("\n* arm64 under qemu-user on an amd64 host: indicative only, not a device's speed.")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
