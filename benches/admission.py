#!/usr/bin/env python3
"""Admission webhook throughput and latency: `slipway admission serve`
(release build) answering AdmissionReview requests over HTTPS.

The load generator is the Go API-server stand-in of the tests
(crates/slipway-admission/testdata/apiserver, `load` mode): an open-loop
sender at a fixed rate (a slow answer does not slow the sender), over up to
32 keep-alive TLS connections, that decodes every answer with the real
k8s.io/api admission/v1 types. It runs on the same machine, so it competes
with the webhook for the CPUs.

  warm:  one signed image, verified once before timing; every request is
         answered from the verification cache (the tag cache is refreshed
         from the registry every 10 s, as in production). Rates 500 and
         1000/s, for /validate and /mutate.
  cold:  a fresh server, and N signed repositories in a local registry each
         asked about once: every request resolves the tag, fetches the
         manifest, lists the referrers and verifies the signature.

    python3 benches/admission.py [--seconds 10] [--cold 40]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from push_vs_skopeo import ROOT, Registry  # noqa: E402


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, **kw)


class Webhook:
    def __init__(self, slipway, policy, cert, key):
        self.proc = subprocess.Popen([slipway, "admission", "serve", "--policy", policy, "--tls-cert", cert,
                                      "--tls-key", key, "--listen", "127.0.0.1:0"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.addr = json.loads(self.proc.stdout.readline())["listening"]

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def load(client, url, ca, rate, seconds, images):
    cmd = [client, "load", "-url", url, "-ca", ca, "-rate", str(rate), "-duration", f"{seconds}s",
           "-namespace", "prod"]
    for i in images:
        cmd += ["-image", i]
    return json.loads(run(cmd).stdout)


def line(name, r):
    print(f"{name:34} sent {r['sent']:6}  answered {r['answered']:6}  errors {r['errors']:3}  "
          f"denied {r['denied']:3}  {r['throughput_rps']:8.1f}/s  p50 {r['p50_ms']:7.2f} ms  "
          f"p99 {r['p99_ms']:8.2f} ms  max {r['max_ms']:8.2f} ms", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=10, help="length of each warm run")
    ap.add_argument("--cold", type=int, default=40, help="signed repositories for the cold run")
    ap.add_argument("--slipway", help="the slipway binary to measure (default: a release build, built first)")
    args = ap.parse_args()
    slipway = args.slipway
    if not slipway:
        subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "slipway"], cwd=ROOT, check=True)
        slipway = os.path.join(ROOT, "target/release/slipway")
    tmp = tempfile.mkdtemp(prefix="admission-bench-")
    client = os.path.join(tmp, "apiserver")
    subprocess.run(["go", "build", "-o", client, "."], check=True,
                   cwd=os.path.join(ROOT, "crates/slipway-admission/testdata/apiserver"))
    env = dict(os.environ, COSIGN_PASSWORD="bench")
    key = os.path.join(tmp, "team")
    run([slipway, "keygen", "--prefix", key], env=env)
    cert, tls_key = os.path.join(tmp, "tls.crt"), os.path.join(tmp, "tls.key")
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", tls_key, "-out", cert])
    example = os.path.join(tmp, "hello")
    shutil.copytree(os.path.join(ROOT, "examples/hello"), example)
    layout = os.path.join(tmp, "layout")
    run([slipway, "image", example, "--platform", "linux/amd64,linux/arm64", "--out", layout, "--tag", "bench:v1"])
    reg = Registry(tmp)
    hooks = []
    try:
        images = []
        for i in range(args.cold + 1):
            ref = f"{reg.host}/bench/app{i}:v1"
            run([slipway, "copy", f"oci:{layout}:v1", ref])
            run([slipway, "sign", ref, "--key", key + ".key"], env=env)
            images.append(ref)
        policy = os.path.join(tmp, "policy.toml")
        with open(policy, "w") as f:
            f.write(f'[[rules]]\nname = "bench"\nnamespaces = ["prod"]\nimages = ["{reg.host}/bench/*"]\n'
                    f'cosignKeys = ["{key}.pub"]\n')
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start", flush=True)

        hook = Webhook(slipway, policy, cert, tls_key)
        hooks.append(hook)
        warm = images[0]
        # Verify once; from here on the verdict comes from the cache.
        load(client, f"https://{hook.addr}/validate", cert, 1, 1, [warm])
        results = {}
        for path in ("validate", "mutate"):
            for rate in (500, 1000):
                r = load(client, f"https://{hook.addr}/{path}", cert, rate, args.seconds, [warm])
                results[f"warm {path} {rate}/s"] = r
                line(f"warm /{path} at {rate}/s", r)
        hook.stop()

        # Cold: a fresh server; each repository once, 20 per second.
        hook = Webhook(slipway, policy, cert, tls_key)
        hooks.append(hook)
        cold = images[1:]
        rate = 20
        r = load(client, f"https://{hook.addr}/validate", cert, rate, len(cold) / rate, cold)
        results[f"cold validate {rate}/s"] = r
        line(f"cold /validate, {len(cold)} repos at {rate}/s", r)
        print(f"machine: load average {os.getloadavg()[0]:.1f} at the end", flush=True)
        print(json.dumps(results, indent=1))
    finally:
        for h in hooks:
            if h.proc.poll() is None:
                h.stop()
        reg.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
