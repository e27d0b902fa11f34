#!/usr/bin/env python3
"""First push of a multi-platform image to a local registry: `slipway copy
oci:LAYOUT REGISTRY` against `skopeo copy --all oci:LAYOUT docker://REGISTRY`
of the same layout, interleaved A/B in one run, each trial against a freshly
started, empty `docker-registry` on 127.0.0.1. Then the cost of a re-push
(`slipway push` of the unchanged image): requests made and bytes sent.

    python3 benches/push_vs_skopeo.py [--runs 5] [--platforms linux/amd64,linux/arm64,linux/arm/v7]

Target: slipway faster than skopeo; a re-push sends 0 bytes and makes at
most one HEAD per blob plus the manifests.
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Registry:
    """docker-registry serving an empty temporary directory."""

    def __init__(self, tmp: str):
        self.dir = tempfile.mkdtemp(dir=tmp)
        self.port = free_port()
        config = os.path.join(self.dir, "config.yml")
        with open(config, "w") as f:
            f.write(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {self.dir}/data\n"
                    f"http:\n  addr: 127.0.0.1:{self.port}\n")
        self.proc = subprocess.Popen(["docker-registry", "serve", config], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.time() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/v2/", timeout=1)
                break
            except Exception:
                if time.time() > deadline:
                    raise SystemExit("docker-registry did not start")
                time.sleep(0.05)
        self.host = f"127.0.0.1:{self.port}"

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def timed(cmd, **kw) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--platforms", default="linux/amd64,linux/arm64,linux/arm/v7")
    args = ap.parse_args()
    for tool in ("docker-registry", "skopeo"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: run scripts/setup.sh")

    subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "slipway"], cwd=ROOT, check=True)
    slipway = os.path.join(ROOT, "target/release/slipway")
    tmp = tempfile.mkdtemp(prefix="push-bench-")
    example = os.path.join(tmp, "hello")
    shutil.copytree(os.path.join(ROOT, "examples/hello"), example)
    layout = os.path.join(tmp, "layout")
    common = ["--platform", args.platforms, "--libc", "none"]
    subprocess.run([slipway, "image", example, *common, "--out", layout, "--tag", "bench:v1"], check=True,
                   stdout=subprocess.DEVNULL)
    size = sum(os.path.getsize(os.path.join(layout, "blobs/sha256", b))
               for b in os.listdir(os.path.join(layout, "blobs/sha256")))

    sides = {
        "skopeo copy --all": lambda host: ["skopeo", "copy", "-q", "--all", "--dest-tls-verify=false",
                                           f"oci:{layout}:v1", f"docker://{host}/bench/app:v1"],
        "slipway copy": lambda host: [slipway, "copy", f"oci:{layout}:v1", f"{host}/bench/app:v1"],
    }
    times = {name: [] for name in sides}
    for _ in range(args.runs):
        for name, cmd in sides.items():
            reg = Registry(tmp)
            try:
                times[name].append(timed(cmd(reg.host)))
            finally:
                reg.stop()

    print(f"first push of {args.platforms} ({size / 1e6:.1f} MB of blobs), {args.runs} interleaved runs, "
          f"{os.cpu_count()} CPUs, fresh registry per trial")
    base = statistics.median(times["skopeo copy --all"])
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"  {name:<20} median {med:6.3f}s   {base / med:5.2f}x skopeo's speed")

    reg = Registry(tmp)
    try:
        push = [slipway, "push", example, f"{reg.host}/bench/app:v1", *common, "--json"]
        first = json.loads(subprocess.run(push, check=True, capture_output=True, text=True).stdout)
        again = json.loads(subprocess.run(push, check=True, capture_output=True, text=True).stdout)
    finally:
        reg.stop()
    blobs = first["uploaded_blobs"] + first["reused_blobs"]
    print(f"re-push: uploaded_bytes {again['uploaded_bytes']}, request body bytes {again['bytes_sent']}, "
          f"requests {again['requests']} for {blobs} blobs and {again['manifests']} manifests "
          f"(first push: {first['uploaded_bytes']} bytes, {first['requests']})")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
