#!/usr/bin/env python3
"""Sign and verify time per image, whole commands against a local registry:
`slipway sign`/`slipway verify` against `cosign sign`/`cosign verify` of the
same image with the same key, interleaved A/B in one run. Each round copies
the image into a repository of its own first, so no signature is there yet.

    python3 benches/sign_verify.py [--runs 7]

The in-process cost (no registry, no key decryption) is in
`cargo run --release -p slipway-attest --example sign_bench`.
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from push_vs_skopeo import ROOT, Registry  # noqa: E402


def timed(cmd, env) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "slipway"], cwd=ROOT, check=True)
    slipway = os.path.join(ROOT, "target/release/slipway")
    # The legacy .sig format on both sides (cosign v2; slipway --format legacy);
    # the bundle format against cosign v3 is in referrers.py.
    cosign = subprocess.run(["bash", os.path.join(ROOT, "scripts/install-cosign.sh"), "v2.6.5"], check=True,
                            capture_output=True, text=True).stdout.strip()
    tmp = tempfile.mkdtemp(prefix="sign-bench-")
    env = dict(os.environ, COSIGN_PASSWORD="bench", COSIGN_YES="true")
    key = os.path.join(tmp, "k")
    subprocess.run([slipway, "keygen", "--prefix", key], check=True, env=env, stderr=subprocess.DEVNULL)
    example = os.path.join(tmp, "hello")
    shutil.copytree(os.path.join(ROOT, "examples/hello"), example)
    layout = os.path.join(tmp, "layout")
    subprocess.run([slipway, "image", example, "--platform", "linux/amd64,linux/arm64", "--libc", "none",
                    "--out", layout, "--tag", "bench:v1"], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    reg = Registry(tmp)
    times = {k: [] for k in ("slipway sign", "cosign sign", "slipway verify", "cosign verify")}
    try:
        for i in range(args.runs):
            for tool in ("slipway", "cosign"):
                # A repository of its own per round and tool: no signature is there yet.
                ref = f"{reg.host}/bench/{tool}{i}:v1"
                out = subprocess.run([slipway, "copy", f"oci:{layout}:v1", ref, "--json"], check=True,
                                     capture_output=True, text=True, env=env).stdout
                pinned = f"{reg.host}/bench/{tool}{i}@{json.loads(out)['digest']}"
                if tool == "slipway":
                    times["slipway sign"].append(timed([slipway, "sign", ref, "--key", key + ".key",
                                                        "--format", "legacy", "--recursive=false"], env))
                    times["slipway verify"].append(timed([slipway, "verify", ref, "--key", key + ".pub"], env))
                else:
                    times["cosign sign"].append(timed(
                        [cosign, "sign", "--key", key + ".key", "--tlog-upload=false",
                         "--allow-insecure-registry", "--allow-http-registry", pinned], env))
                    times["cosign verify"].append(timed(
                        [cosign, "verify", "--key", key + ".pub", "--insecure-ignore-tlog=true",
                         "--allow-insecure-registry", "--allow-http-registry", pinned], env))
    finally:
        reg.stop()
    print(f"sign and verify one 2-platform image in a local registry, {args.runs} interleaved runs, "
          f"{os.cpu_count()} CPUs (each sign includes decrypting the key: scrypt N=65536)")
    for op in ("sign", "verify"):
        ours = statistics.median(times[f"slipway {op}"])
        theirs = statistics.median(times[f"cosign {op}"])
        print(f"  {op:<7} slipway median {ours * 1000:7.1f} ms   cosign {theirs * 1000:7.1f} ms   "
              f"slipway {theirs / ours:5.2f}x cosign's speed")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
