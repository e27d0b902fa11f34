#!/usr/bin/env python3
"""A cold 3-platform pure-Go image: slipway against ko, side by side.

Both build examples/hello with CGO_ENABLED=0 for three platforms and push the
multi-platform image to a freshly started, empty `docker-registry` on
127.0.0.1, from cold: a fresh GOCACHE for each run of either tool, and for
slipway an empty slipway cache (so an empty zig cache too; a pure-Go image
needs neither zig nor a C compiler, the init ships inside slipway). ko gets
its base image from the same registry (a one-layer /etc/passwd image pushed
before timing; ko's default base lives on the internet) and runs with
`--sbom=none`, since slipway makes no SBOM unless asked. slipway is also timed
writing an OCI layout (`slipway image`), which needs no registry at all.

Runs are interleaved (ko, slipway push, slipway image, ko, ...) so the noise
of a shared machine hits all alike. Read the ratios.

    python3 benches/pure_go_vs_ko.py [--runs 3] [--platforms linux/amd64,linux/arm64,linux/arm/v7]

Goal: slipway no slower than ko (ratio slipway/ko <= 1.0).
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from push_vs_skopeo import Registry  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def blob(layout: str, data: bytes) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    path = os.path.join(layout, "blobs", "sha256", digest)
    with open(path, "wb") as f:
        f.write(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def base_layout(dir: str, platforms: list) -> str:
    """A minimal multi-platform base image (one layer: /etc/passwd) as an OCI layout."""
    layout = os.path.join(dir, "base")
    os.makedirs(os.path.join(layout, "blobs", "sha256"))
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        data = b"nonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n"
        info = tarfile.TarInfo("etc/passwd")
        info.size, info.mode, info.mtime = len(data), 0o644, 0
        t.addfile(info, io.BytesIO(data))
    layer_raw = raw.getvalue()
    layer_gz = gzip.compress(layer_raw, mtime=0)
    layer = blob(layout, layer_gz)
    layer["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip"
    manifests = []
    for p in platforms:
        parts = p.split("/")
        plat = {"os": parts[0], "architecture": parts[1]}
        if len(parts) > 2:
            plat["variant"] = parts[2]
        config = dict(plat, rootfs={"type": "layers",
                                    "diff_ids": ["sha256:" + hashlib.sha256(layer_raw).hexdigest()]},
                      config={})
        cfg = blob(layout, json.dumps(config).encode())
        cfg["mediaType"] = "application/vnd.oci.image.config.v1+json"
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": cfg, "layers": [layer]}
        m = blob(layout, json.dumps(manifest).encode())
        m["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
        m["platform"] = plat
        manifests.append(m)
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": manifests}
    top = blob(layout, json.dumps(index).encode())
    top["mediaType"] = "application/vnd.oci.image.index.v1+json"
    top["annotations"] = {"org.opencontainers.image.ref.name": "latest"}
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [top]}, f)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion": "1.0.0"}')
    return layout


def timed(cmd, env, cwd=None) -> float:
    t = time.perf_counter()
    r = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    took = time.perf_counter() - t
    if r.returncode != 0:
        sys.stderr.write(r.stderr.decode(errors="replace"))
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return took


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--platforms", default="linux/amd64,linux/arm64,linux/arm/v7")
    ap.add_argument("--slipway", default=None, help="a slipway binary (default: cargo build --release)")
    args = ap.parse_args()
    platforms = args.platforms.split(",")
    for tool in ("docker-registry", "go"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: run scripts/setup.sh")
    slipway = args.slipway
    if slipway is None:
        subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "slipway"], cwd=ROOT, check=True)
        slipway = os.path.join(ROOT, "target/release/slipway")
    ko = subprocess.run([os.path.join(ROOT, "scripts/install-ko.sh")], check=True,
                        stdout=subprocess.PIPE, text=True).stdout.strip()

    times = {"ko build (push)": [], "slipway push": [], "slipway image (layout)": []}
    with tempfile.TemporaryDirectory() as tmp:
        module = os.path.join(tmp, "hello")
        shutil.copytree(os.path.join(ROOT, "examples/hello"), module)
        os.remove(os.path.join(module, "slipway.toml"))
        base = base_layout(tmp, platforms)
        reg = Registry(tmp)
        try:
            subprocess.run([slipway, "copy", f"oci:{base}:latest", f"{reg.host}/base:latest", "--insecure"],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            gomodcache = subprocess.run(["go", "env", "GOMODCACHE"], check=True, stdout=subprocess.PIPE,
                                        text=True).stdout.strip()
            for run in range(args.runs):
                for name in times:
                    fresh = tempfile.mkdtemp(dir=tmp)
                    env = {
                        "PATH": os.environ["PATH"],
                        "HOME": os.environ.get("HOME", tmp),
                        "GOCACHE": os.path.join(fresh, "gocache"),
                        "GOMODCACHE": gomodcache,
                        "SLIPWAY_CACHE_DIR": os.path.join(fresh, "slipway"),
                        "ZIG_GLOBAL_CACHE_DIR": os.path.join(fresh, "zig"),
                        "TMPDIR": fresh,
                    }
                    if name.startswith("ko"):
                        env.update({
                            "KO_DOCKER_REPO": f"{reg.host}/ko",
                            "KO_DEFAULTBASEIMAGE": f"{reg.host}/base:latest",
                            "CGO_ENABLED": "0",
                        })
                        cmd = [ko, "build", "--bare", "--sbom=none", "--platform", args.platforms, "."]
                    elif name == "slipway push":
                        cmd = [slipway, "push", ".", f"{reg.host}/slipway/hello:run{run}", "--insecure",
                               "--platform", args.platforms, "--libc", "none"]
                    else:
                        cmd = [slipway, "image", ".", "--platform", args.platforms, "--libc", "none",
                               "--out", os.path.join(fresh, "layout")]
                    t = timed(cmd, env, cwd=module)
                    times[name].append(t)
                    print(f"run {run + 1}: {name:<24} {t:6.1f}s", flush=True)
                    shutil.rmtree(fresh, ignore_errors=True)
        finally:
            reg.stop()

    ko_median = statistics.median(times["ko build (push)"])
    print(f"\ncold {len(platforms)}-platform pure-Go image, fresh GOCACHE, empty slipway/zig caches, "
          f"{os.cpu_count()} CPUs, medians of {args.runs}:")
    for name, ts in times.items():
        m = statistics.median(ts)
        print(f"  {name:<24} {m:6.1f}s  (ratio to ko {m / ko_median:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
