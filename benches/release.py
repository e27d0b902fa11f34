#!/usr/bin/env python3
"""Wall time of `slipway promote` and `slipway rollback` against a local
registry, for 3-platform images signed (Sigstore bundles, index and each
platform) and SBOM-attested by `slipway sign`/`attest`, under a channel
policy that requires the signature and the SPDX attestation. Every command
verifies the image, reads and verifies the channel's audit log and the
repository's mark-bad log, signs an entry (decrypting the operator's key:
scrypt N=65536), and waits slipway-release's race settle time (at least 250 ms).

    python3 benches/release.py [--runs 9] [--slipway target/debug/slipway] [--baseline OLD_SLIPWAY]

With --baseline, each run times the same commands with both binaries, one
after the other, on the same registry and channel, so the noise of a shared
machine hits both alike. `SLIPWAY_TIMINGS=1 slipway rollback ...` shows where
one command spends its time.

Goal (issue #13): rollback under 1 s, verification included.
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

PLATFORMS = ["linux/amd64,linux/arm64,linux/arm/v7", "linux/amd64,linux/arm64,linux/riscv64"]


def run(cmd, env, cwd=None) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, env=env, cwd=cwd).stdout


def timed(cmd, env, cwd) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=cwd)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--slipway", help="a slipway binary to time instead of building target/release/slipway")
    ap.add_argument("--baseline", help="another slipway binary to time alongside (e.g. before a change)")
    args = ap.parse_args()
    if args.slipway:
        slipway = os.path.abspath(args.slipway)
    else:
        subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "slipway"], cwd=ROOT, check=True)
        slipway = os.path.join(ROOT, "target/release/slipway")
    tmp = tempfile.mkdtemp(prefix="release-bench-")
    env = dict(os.environ, COSIGN_PASSWORD="bench")
    env.pop("SOURCE_DATE_EPOCH", None)
    for name in ("release", "ops"):
        run([slipway, "keygen", "--prefix", os.path.join(tmp, name)], env)
    example = os.path.join(tmp, "hello")
    shutil.copytree(os.path.join(ROOT, "examples/hello"), example)
    reg = Registry(tmp)
    repo = f"{reg.host}/bench/hello"
    digests = []
    try:
        for i, platforms in enumerate(PLATFORMS):
            layout = os.path.join(tmp, f"layout{i}")
            run([slipway, "image", example, "--platform", platforms, "--libc", "none", "--out", layout], env)
            ref = f"{repo}:v{i}"
            digests.append(json.loads(run([slipway, "copy", f"oci:{layout}", ref, "--json"], env))["digest"])
            run([slipway, "sign", ref, "--key", os.path.join(tmp, "release.key")], env)
            run([slipway, "attest", ref, "--key", os.path.join(tmp, "release.key")], env)
        with open(os.path.join(tmp, "slipway.toml"), "w") as f:
            f.write(f'[channels.stable]\nrepository = "{repo}"\nkeys = ["release.pub"]\n'
                    f'attestations = ["https://spdx.dev/Document"]\noperators = ["ops.pub"]\n')
        ops = os.path.join(tmp, "ops.key")
        run([slipway, "promote", f"{repo}@{digests[0]}", "--channel", "stable", "--key", ops], env, cwd=tmp)
        binaries = {"": slipway} if not args.baseline else {"": slipway, "baseline ": os.path.abspath(args.baseline)}
        times = {}
        for _ in range(args.runs):
            for label, binary in binaries.items():
                promote = [binary, "promote", f"{repo}@{digests[1]}", "--channel", "stable", "--key", ops]
                for op, cmd in [
                    ("promote", promote),
                    ("promote (already there)", promote),
                    ("rollback", [binary, "rollback", "--channel", "stable", "--key", ops]),
                    ("history", [binary, "history", "--channel", "stable", "--key", "ops.pub"]),
                ]:
                    times.setdefault(label + op, []).append(timed(cmd, env, tmp))
        entries = len(json.loads(run([slipway, "history", "--channel", "stable", "--json"], env, tmp))["entries"])
    finally:
        reg.stop()
    print(f"3-platform signed and attested images in a local docker-registry, {args.runs} runs, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end; the channel's log grew to "
          f"{entries} entries")
    for op, ts in sorted(times.items(), key=lambda kv: (kv[0].startswith("baseline"), kv[0])):
        print(f"  {op:<33} median {statistics.median(ts) * 1000:7.1f} ms   min {min(ts) * 1000:7.1f} ms   "
              f"max {max(ts) * 1000:7.1f} ms")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
