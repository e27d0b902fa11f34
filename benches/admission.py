#!/usr/bin/env python3
"""Admission webhook throughput and latency: `slipway admission serve`
(release build) answering AdmissionReview requests over HTTPS.

The load generator is the Go API-server stand-in of the tests
(crates/slipway-admission/testdata/apiserver, `load` mode): an open-loop
sender at a fixed rate over up to 32 keep-alive TLS connections, opened
before timing as a running API server has them. Each request's latency is
counted from the time it was due, not from when the sender got round to it,
so a stalled sender shows as latency (no coordinated omission). Every answer
is decoded with the real k8s.io/api admission/v1 types. It runs on the same
machine and competes with the webhook for the CPUs, so each line also shows
the generator's CPU time per request, the webhook's, how many sends started
over 1 ms late, the webhook's own p99 (from its /metrics histogram: time
from the request's body to its answer, an upper bucket bound), and the load
average.

  warm:  one signed image, verified once before timing; every request is
         answered from the verification cache (the tag cache is refreshed
         from the registry every 10 s, as in production). Rates 500 and
         1000/s, for /validate and /mutate.
  cold:  a fresh server, and N signed repositories in a local registry each
         asked about once: every request resolves the tag, fetches the
         manifest, lists the referrers and verifies the signature.

    python3 benches/admission.py [--seconds 10] [--cold 40] [--baseline OLD_SLIPWAY]

With --baseline, every warm run is made against both binaries, alternating,
so the noise of a shared machine hits both alike.
"""

import argparse
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import urllib.request

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
        self.cert = cert
        self.ctx = ssl.create_default_context(cafile=cert)

    def cpu_seconds(self):
        """User + system CPU time of the webhook process so far."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def histogram(self, endpoint):
        """The review-duration histogram of `endpoint`: [(bound_s, cumulative count)]."""
        text = urllib.request.urlopen(f"https://{self.addr}/metrics", context=self.ctx, timeout=10).read().decode()
        out = []
        prefix = f'slipway_admission_review_duration_seconds_bucket{{endpoint="{endpoint}",le="'
        for line in text.splitlines():
            if line.startswith(prefix):
                bound, count = line[len(prefix):].split('"} ')
                out.append((float("inf") if bound == "+Inf" else float(bound), int(count)))
        return out

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def server_p99_ms(before, after):
    """The smallest bucket bound under which 99 % of the reviews between the two scrapes were answered."""
    deltas = [(bound, a - b) for (bound, b), (_, a) in zip(before, after)]
    total = deltas[-1][1] if deltas else 0
    for bound, cumulative in deltas:
        if total and cumulative >= 0.99 * total:
            return bound * 1000
    return float("nan")


def load(client, url, ca, rate, seconds, images):
    cmd = [client, "load", "-url", url, "-ca", ca, "-rate", str(rate), "-duration", f"{seconds}s",
           "-namespace", "prod"]
    for i in images:
        cmd += ["-image", i]
    return json.loads(run(cmd).stdout)


def measured(hook, client, path, rate, seconds, images):
    """One load run, with the webhook's CPU time and its own p99 added to the generator's figures."""
    before, cpu = hook.histogram(path), hook.cpu_seconds()
    r = load(client, f"https://{hook.addr}/{path}", hook.cert, rate, seconds, images)
    r["webhook_cpu_us_per_request"] = (hook.cpu_seconds() - cpu) / max(r["sent"], 1) * 1e6
    r["webhook_p99_ms_at_most"] = server_p99_ms(before, hook.histogram(path))
    r["load_average"] = os.getloadavg()[0]
    return r


def line(name, r):
    print(f"{name:40} {r['answered']:5}/{r['sent']:<5} err {r['errors']:2} den {r['denied']:2} "
          f"{r['throughput_rps']:6.1f}/s  p50 {r['p50_ms']:6.2f}  p90 {r['p90_ms']:6.2f}  "
          f"p99 {r['p99_ms']:7.2f}  max {r['max_ms']:7.2f} ms | webhook p99 <= {r['webhook_p99_ms_at_most']:g} ms, "
          f"cpu/req: webhook {r['webhook_cpu_us_per_request']:4.0f} us, generator "
          f"{r['generator_cpu_us_per_request']:4.0f} us | late sends {r['late_sends']:3}  new conns "
          f"{r['connections_opened']:2}  load {r['load_average']:.1f}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=10, help="length of each warm run")
    ap.add_argument("--cold", type=int, default=40, help="signed repositories for the cold run")
    ap.add_argument("--slipway", help="the slipway binary to measure (default: a release build, built first)")
    ap.add_argument("--baseline", help="another slipway binary to measure alongside, alternating (e.g. before a change)")
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

        binaries = {"": slipway} if not args.baseline else {"new ": slipway, "baseline ": args.baseline}
        warm = images[0]
        results = {}
        for label, binary in binaries.items():
            hook = Webhook(binary, policy, cert, tls_key)
            hooks.append(hook)
            # Verify once; from here on the verdict comes from the cache.
            load(client, f"https://{hook.addr}/validate", cert, 1, 1, [warm])
            binaries[label] = hook
        for path in ("validate", "mutate"):
            for rate in (500, 1000):
                for label, hook in binaries.items():
                    r = measured(hook, client, path, rate, args.seconds, [warm])
                    results[f"{label}warm {path} {rate}/s"] = r
                    line(f"{label}warm /{path} at {rate}/s", r)
        for hook in binaries.values():
            hook.stop()

        # Cold: a fresh server; each repository once, 20 per second.
        for label, binary in ({"": slipway} if not args.baseline
                              else {"new ": slipway, "baseline ": args.baseline}).items():
            hook = Webhook(binary, policy, cert, tls_key)
            hooks.append(hook)
            cold = images[1:]
            rate = 20
            r = measured(hook, client, "validate", rate, len(cold) / rate, cold)
            results[f"{label}cold validate {rate}/s"] = r
            line(f"{label}cold /validate, {len(cold)} repos at {rate}/s", r)
            hook.stop()
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
