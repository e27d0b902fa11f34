#!/usr/bin/env python3
"""Issue #12's figures, whole commands, interleaved A/B on one machine:

1. verify: `slipway verify` against `cosign verify` (v3.1.3) of the same
   2-platform image signed in the Sigstore bundle format (a referrer), key
   only, no transparency log, on Debian's registry (fallback tag) and on a
   registry with the referrers API.
2. copy: a signed and attested 3-platform image with all its referrers,
   registry -> archive -> registry: `slipway copy` (two commands) against
   `oras copy -r` (registry -> OCI layout -> registry; oras writes no tar)
   and `skopeo copy --all` (docker:// -> oci-archive: -> docker://; skopeo
   carries no referrers, so it moves less).
3. with --big: peak resident memory of `slipway copy` of an image with a
   1 GiB layer, registry -> archive -> registry.

    python3 benches/referrers.py [--runs 7] [--big]
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


def tool(script, *args) -> str:
    return subprocess.run(["bash", os.path.join(ROOT, "scripts", script), *args], check=True,
                          capture_output=True, text=True).stdout.strip()


class ApiRegistry:
    """go-containerregistry's registry with the referrers API (scripts/referrers-registry)."""

    def __init__(self):
        self.proc = subprocess.Popen([tool("install-go-tool.sh", "referrers-registry"), "-addr", "127.0.0.1:0"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.host = self.proc.stdout.readline().strip().removeprefix("listening on ")

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def run(cmd, env) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout


def timed(cmd, env) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t


def report(title, times, baseline_names):
    print(title)
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in med.items():
        print(f"  {k:<34} median {v * 1000:8.1f} ms")
    ours = [k for k in med if k.startswith("slipway")][0]
    best = min(med[b] for b in baseline_names)
    print(f"  slipway is {best / med[ours]:.2f}x the speed of the fastest of {', '.join(baseline_names)}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--big", action="store_true", help="also measure the 1 GiB-layer copy's peak memory")
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "slipway"], cwd=ROOT, check=True)
    slipway = os.path.join(ROOT, "target/release/slipway")
    cosign = tool("install-cosign.sh", "v3.1.3")
    oras = tool("install-go-tool.sh", "oras")
    tmp = tempfile.mkdtemp(prefix="referrers-bench-")
    env = dict(os.environ, COSIGN_PASSWORD="bench", HOME=tmp, DOCKER_CONFIG=os.path.join(tmp, "docker"))
    key = os.path.join(tmp, "k")
    run([slipway, "keygen", "--prefix", key], env)
    example = os.path.join(tmp, "hello")
    shutil.copytree(os.path.join(ROOT, "examples/hello"), example)

    def layout(platforms):
        out = os.path.join(tmp, "layout-" + platforms.replace("/", "_").replace(",", "+"))
        run([slipway, "image", example, "--platform", platforms, "--libc", "none", "--out", out,
             "--tag", "bench:v1"], env)
        return out

    debian, api = Registry(tmp), ApiRegistry()
    try:
        # 1. verify
        two = layout("linux/amd64,linux/arm64")
        times = {}
        for reg, label in ((debian, "registry 2.8, fallback tag"), (api, "referrers API")):
            ref = f"{reg.host}/bench/verify:v1"
            digest = json.loads(run([slipway, "copy", f"oci:{two}:v1", ref, "--json"], env))["digest"]
            run([slipway, "sign", ref, "--key", key + ".key"], env)
            pinned = f"{reg.host}/bench/verify@{digest}"
            t = {f"slipway verify ({label})": [], f"cosign verify ({label})": []}
            for _ in range(args.runs):
                t[f"slipway verify ({label})"].append(timed([slipway, "verify", pinned, "--key", key + ".pub"], env))
                t[f"cosign verify ({label})"].append(timed(
                    [cosign, "verify", "--key", key + ".pub", "--insecure-ignore-tlog=true",
                     "--allow-http-registry", pinned], env))
            report(f"verify one signed 2-platform image ({label}), {args.runs} interleaved runs", t,
                   [f"cosign verify ({label})"])

        # 2. copy with every referrer
        three = layout("linux/amd64,linux/arm64,linux/arm/v7")
        src = f"{api.host}/bench/src:v1"
        run([slipway, "copy", f"oci:{three}:v1", src], env)
        run([slipway, "sign", src, "--key", key + ".key"], env)
        run([slipway, "attest", src, "--key", key + ".key"], env)
        t = {"slipway copy (2 hops)": [], "oras copy -r (2 hops)": [], "skopeo copy --all (2 hops)": []}
        for i in range(args.runs):
            for name in t:
                work = os.path.join(tmp, f"copy{i}")
                os.makedirs(work, exist_ok=True)
                dst = f"{api.host}/bench/{name.split()[0]}{i}:v1"
                if name.startswith("slipway"):
                    archive = os.path.join(work, "s.tar")
                    t[name].append(timed([slipway, "copy", src, f"oci-archive:{archive}"], env)
                                   + timed([slipway, "copy", f"oci-archive:{archive}", dst], env))
                elif name.startswith("oras"):
                    lay = os.path.join(work, "oras")
                    t[name].append(timed([oras, "copy", "-r", "--from-plain-http", src, "--to-oci-layout",
                                          f"{lay}:v1"], env)
                                   + timed([oras, "copy", "-r", "--from-oci-layout", f"{lay}:v1", "--to-plain-http",
                                            dst], env))
                else:
                    archive = os.path.join(work, "k.tar")
                    t[name].append(timed(["skopeo", "copy", "-q", "--all", "--src-tls-verify=false",
                                          f"docker://{src}", f"oci-archive:{archive}:v1"], env)
                                   + timed(["skopeo", "copy", "-q", "--all", "--dest-tls-verify=false",
                                            f"oci-archive:{archive}:v1", f"docker://{dst}"], env))
                shutil.rmtree(work, ignore_errors=True)
        report(f"copy a signed, attested 3-platform image registry -> archive -> registry, {args.runs} "
               "interleaved runs (skopeo leaves the referrers behind)", t,
               ["oras copy -r (2 hops)", "skopeo copy --all (2 hops)"])
    finally:
        debian.stop()
        api.stop()

    if args.big:
        big(slipway, tmp, env)
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


def big(slipway, tmp, env):
    """Peak RSS of each hop of a 1 GiB-layer copy (getrusage of the child)."""
    import hashlib
    lay = os.path.join(tmp, "big")
    os.makedirs(os.path.join(lay, "blobs/sha256"))
    with open(os.path.join(lay, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    h = hashlib.sha256()
    tmpl = os.path.join(lay, "layer")
    block = os.urandom(1 << 20)
    with open(tmpl, "wb") as f:
        for i in range(1024):
            chunk = i.to_bytes(8, "little") + block[8:]
            h.update(chunk)
            f.write(chunk)
    layer = h.hexdigest()
    os.rename(tmpl, os.path.join(lay, "blobs/sha256", layer))

    def put(data: bytes) -> str:
        d = hashlib.sha256(data).hexdigest()
        with open(os.path.join(lay, "blobs/sha256", d), "wb") as f:
            f.write(data)
        return d

    cfg = json.dumps({"architecture": "amd64", "os": "linux",
                      "rootfs": {"type": "layers", "diff_ids": ["sha256:" + layer]}}).encode()
    man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                 "digest": "sha256:" + put(cfg), "size": len(cfg)},
                      "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                  "digest": "sha256:" + layer, "size": 1 << 30}]}).encode()
    idx = {"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                              "digest": "sha256:" + put(man), "size": len(man),
                                              "annotations": {"org.opencontainers.image.ref.name": "v1"}}]}
    with open(os.path.join(lay, "index.json"), "w") as f:
        json.dump(idx, f)
    reg = Registry(tmp)
    archive = os.path.join(tmp, "big.tar")
    try:
        print("peak resident memory of slipway copy, image with one 1 GiB layer:")
        for src, dst in ((f"oci:{lay}:v1", f"{reg.host}/big/one:v1"),
                         (f"{reg.host}/big/one:v1", f"oci-archive:{archive}"),
                         (f"oci-archive:{archive}", f"{reg.host}/big/two:v1")):
            started = time.perf_counter()
            proc = subprocess.Popen([slipway, "copy", src, dst], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, env=env)
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            if proc.returncode != 0:
                raise SystemExit(f"slipway copy {src} {dst} failed")
            t = time.perf_counter() - started
            print(f"  {src.split(':')[0]:<11} -> {dst.split(':')[0]:<11} {t:6.1f} s, peak RSS "
                  f"{usage.ru_maxrss / 1024:6.1f} MiB")
    finally:
        reg.stop()


if __name__ == "__main__":
    sys.exit(main())
