#!/usr/bin/env python3
"""Notary signature verification, whole commands against a local registry:
`slipway verify --trust-policy --trust-store` against `notation verify` of the
same image, the same signature, the same trust policy and trust store,
interleaved A/B in one run, on Debian's registry 2.8 (no referrers API: the
fallback tag) and on go-containerregistry's registry (with the API). The
image is signed once by `notation sign` and
once by `slipway sign --notation` (so each tool verifies the other's too);
the certificates come from a small CA made with openssl here.

    python3 benches/notary_verify.py [--runs 11]
"""

import argparse
import hashlib
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
from referrers import ApiRegistry  # noqa: E402


def request_floor(url: str, runs: int) -> float:
    """The registry's own time for one small GET on a kept-alive connection."""
    import http.client
    import urllib.parse
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.netloc)
    accept = {"Accept": "application/vnd.oci.image.manifest.v1+json"}
    conn.request("GET", u.path, headers=accept)
    conn.getresponse().read()
    times = []
    for _ in range(max(runs, 5) * 4):
        t = time.perf_counter()
        conn.request("GET", u.path, headers=accept)
        conn.getresponse().read()
        times.append(time.perf_counter() - t)
    conn.close()
    return statistics.median(times)


def timed(cmd, env) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], check=True, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_pki(d: str):
    """A P-256 root CA and a code-signing leaf; returns (key, chain, root)."""
    with open(os.path.join(d, "leaf.ext"), "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=codeSigning\n")
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key", cwd=d)
    openssl("req", "-x509", "-new", "-key", "ca.key", "-subj", "/C=US/ST=WA/O=Bench Root/CN=Bench CA",
            "-days", "365", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", "ca.pem", cwd=d)
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "leaf.key", cwd=d)
    openssl("req", "-new", "-key", "leaf.key", "-subj", "/C=US/ST=WA/O=Bench/CN=bench signer", "-out", "leaf.csr", cwd=d)
    openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "30", "-extfile", "leaf.ext", "-out", "leaf.pem", cwd=d)
    with open(os.path.join(d, "chain.pem"), "w") as out:
        for name in ("leaf.pem", "ca.pem"):
            with open(os.path.join(d, name)) as f:
                out.write(f.read())
    return os.path.join(d, "leaf.key"), os.path.join(d, "chain.pem"), os.path.join(d, "ca.pem")


def put(layout: str, data: bytes) -> dict:
    h = hashlib.sha256(data).hexdigest()
    with open(os.path.join(layout, "blobs/sha256", h), "wb") as f:
        f.write(data)
    return {"digest": f"sha256:{h}", "size": len(data)}


def make_layout(layout: str):
    """A one-platform OCI layout with a 1 MiB layer, tagged v1."""
    os.makedirs(os.path.join(layout, "blobs/sha256"))
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    layer = put(layout, os.urandom(1 << 20))
    config = put(layout, json.dumps({"architecture": "amd64", "os": "linux",
                                     "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]}}).encode())
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **layer}]}).encode()
    m = put(layout, manifest)
    index = {"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", **m,
                                                "annotations": {"org.opencontainers.image.ref.name": "v1"}}]}
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump(index, f)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=11)
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "slipway"], cwd=ROOT, check=True)
    slipway = os.path.join(ROOT, "target/release/slipway")
    notation = subprocess.run(["bash", os.path.join(ROOT, "scripts/install-notation.sh")], check=True,
                              capture_output=True, text=True).stdout.strip()
    tmp = tempfile.mkdtemp(prefix="notary-bench-")
    key, chain, root = make_pki(tmp)
    layout = os.path.join(tmp, "layout")
    make_layout(layout)
    config = os.path.join(tmp, "xdg/notation")
    store = os.path.join(config, "truststore")
    os.makedirs(os.path.join(store, "x509/ca/bench"))
    shutil.copy(root, os.path.join(store, "x509/ca/bench/root.pem"))
    with open(os.path.join(config, "signingkeys.json"), "w") as f:
        json.dump({"default": "bench", "keys": [{"name": "bench", "keyPath": key, "certPath": chain}]}, f)
    env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(tmp, "xdg"))
    policy = os.path.join(config, "trustpolicy.json")
    for label, reg in (("Debian's registry 2.8, fallback tag", Registry(tmp)),
                       ("go-containerregistry's registry, referrers API", ApiRegistry())):
        with open(policy, "w") as f:
            json.dump({"version": "1.0", "trustPolicies": [{
                "name": "bench", "registryScopes": [f"{reg.host}/bench/app"],
                "signatureVerification": {"level": "strict"}, "trustStores": ["ca:bench"],
                "trustedIdentities": ["x509.subject: C=US, ST=WA, O=Bench"]}]}, f)
        times = {k: [] for k in ("slipway", "notation")}
        try:
            ref = f"{reg.host}/bench/app:v1"
            out = subprocess.run([slipway, "copy", f"oci:{layout}:v1", ref, "--json"], check=True,
                                 capture_output=True, text=True, env=env).stdout
            digest = json.loads(out)['digest']
            pinned = f"{reg.host}/bench/app@{digest}"
            subprocess.run([notation, "sign", "--insecure-registry", "--key", "bench", pinned], check=True,
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            subprocess.run([slipway, "sign", "--notation", "--key", key, "--cert", chain, pinned], check=True,
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(args.runs):
                times["slipway"].append(timed([slipway, "verify", "--trust-policy", policy, "--trust-store",
                                               store, pinned], env))
                times["notation"].append(timed([notation, "verify", "--insecure-registry", pinned], env))
            floor = request_floor(f"http://{reg.host}/v2/bench/app/manifests/{digest}", args.runs)
        finally:
            reg.stop()
        ours, theirs = statistics.median(times["slipway"]), statistics.median(times["notation"])
        print(f"verify one Notary-signed image (2 signatures: notation's and slipway's), {label}, "
              f"{args.runs} interleaved runs, {os.cpu_count()} CPUs")
        print(f"  slipway verify median {ours * 1000:7.1f} ms   notation verify {theirs * 1000:7.1f} ms   "
              f"slipway {theirs / ours:5.2f}x notation's speed")
        print(f"  the registry answers one manifest GET on a kept-alive connection in {floor * 1000:.2f} ms "
              f"(median); each tool waits for 5 to 6 requests, one after another")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
