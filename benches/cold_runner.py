#!/usr/bin/env python3
"""A cold CI runner with a warm remote cache against a fully cold one.

The 5-platform cgo example image (examples/hello, as scripts/demo.sh builds
it) is built by "runners" on this machine, each with its own HOME, GOCACHE
and slipway cache (so its own zig cache), at the same paths one after the
other, as ephemeral CI runners are, sharing only a remote cache: a real nginx serving the Bazel HTTP cache protocol (WebDAV PUT) on
127.0.0.1, started here.

1. Runner A builds cold with the remote configured and fills it. Its time is
   the fully cold figure (it does the same work as a runner without a remote,
   plus the uploads; `--separate-cold` measures a third runner without any
   remote instead).
2. Runner B, empty locally, builds the same image with the remote warmed by A.

Reported: both times, the speedup, both index digests (they must match) and
B's hits and misses per tier and namespace (go, zig, layer).

    python3 benches/cold_runner.py [--slipway target/release/slipway] [--separate-cold]

A remote kept by an earlier run (--keep) can be served again to time only
runner B, e.g. another slipway build against the same warm remote:

    python3 benches/cold_runner.py --reuse-remote DIR/remote --cold-seconds S --expect-index D
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "hello")


def start_nginx(work, store=None):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(nginx):
        sys.exit("nginx is required (Debian package nginx; scripts/setup.sh)")
    if store is None:
        store = os.path.join(work, "remote")
        os.makedirs(store)
    body = os.path.join(work, "nginx-body")
    os.makedirs(body)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = os.path.join(work, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""daemon off;
user root root;
worker_processes 2;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
events {{ worker_connections 512; }}
http {{
  access_log off;
  client_body_temp_path {body};
  server {{
    listen 127.0.0.1:{port};
    location / {{ root {store}; dav_methods PUT; create_full_put_path on; client_max_body_size 2g; }}
  }}
}}
""")
    proc = subprocess.Popen([nginx, "-c", conf, "-p", work],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.time() > deadline:
                proc.kill()
                sys.exit(f"nginx did not start; see {work}/nginx-error.log")
            time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port}", store


def runner(slipway, work, name, remote):
    # Every runner works at the same path, as ephemeral CI runners do (the CC
    # wrapper's path is part of Go's build ID); the previous one is moved aside.
    d = os.path.join(work, "runner")
    if os.path.exists(d):
        os.rename(d, os.path.join(work, "done-" + name))
    for sub in ("home", "gocache", "slipway"):
        os.makedirs(os.path.join(d, sub))
    module = os.path.join(d, "hello")
    shutil.copytree(EXAMPLE, module)
    env = {k: v for k, v in os.environ.items()
           if k not in ("XDG_CACHE_HOME", "ZIG_GLOBAL_CACHE_DIR", "ZIG_LOCAL_CACHE_DIR",
                        "GOCACHEPROG", "SLIPWAY_CACHE_REMOTE", "SLIPWAY_CACHE_REMOTE_MODE")}
    env.update(HOME=os.path.join(d, "home"), GOCACHE=os.path.join(d, "gocache"),
               SLIPWAY_CACHE_DIR=os.path.join(d, "slipway"), CI="true")
    if remote:
        env["SLIPWAY_CACHE_REMOTE"] = remote
    start = time.perf_counter()
    proc = subprocess.run([slipway, "image", module, "--json", "--out", os.path.join(d, "image")],
                          env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    with open(os.path.join(work, f"{name}.stderr"), "w") as f:
        f.write(proc.stderr)
    if proc.returncode != 0:
        sys.exit(f"runner {name} failed:\n{proc.stderr}")
    return took, json.loads(proc.stdout), proc.stderr


def tiers(report):
    """{tier: {namespace: (hits, misses)}} from the image's --json counters."""
    out = {}
    for field in ("cache", "cache_steps"):
        stats = report.get(field) or {}
        for tier, per_ns in (stats.get("tiers") or {}).items():
            for ns, t in per_ns.items():
                h, m = out.setdefault(tier, {}).get(ns, (0, 0))
                out[tier][ns] = (h + t.get("hits", 0), m + t.get("misses", 0))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slipway", default=os.path.join(ROOT, "target", "release", "slipway"))
    ap.add_argument("--separate-cold", action="store_true",
                    help="time a third runner without a remote as the cold figure")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--reuse-remote", metavar="DIR",
                    help="serve this remote storage (kept by --keep) and time only runner B")
    ap.add_argument("--cold-seconds", type=float,
                    help="with --reuse-remote: the cold time to compare B with")
    ap.add_argument("--expect-index", help="with --reuse-remote: runner A's index digest")
    args = ap.parse_args()
    if not os.path.exists(args.slipway):
        sys.exit(f"{args.slipway} not found: cargo build --release")
    work = tempfile.mkdtemp(prefix="slipway-cold-runner-")
    nginx, url, store = start_nginx(work, os.path.abspath(args.reuse_remote) if args.reuse_remote else None)
    print("load average at start:    %.1f %.1f %.1f" % os.getloadavg(), flush=True)
    try:
        cold = None
        if args.separate_cold:
            cold, _, _ = runner(args.slipway, work, "cold", None)
            print(f"fully cold (no remote):   {cold:7.1f}s", flush=True)
        if args.reuse_remote:
            a_time = args.cold_seconds
            a_report = {"index_digest": args.expect_index}
        else:
            a_time, a_report, a_err = runner(args.slipway, work, "a", url)
            print(f"runner A (cold, fills):   {a_time:7.1f}s   (load average %.1f %.1f %.1f)"
                  % os.getloadavg(), flush=True)
        b_time, b_report, b_err = runner(args.slipway, work, "b", url)
        print(f"runner B (warm remote):   {b_time:7.1f}s   (load average %.1f %.1f %.1f)"
              % os.getloadavg(), flush=True)
        cold = cold if cold is not None else a_time
        if cold is None:
            cold = b_time
            print("(no cold time given: the speedup below is meaningless)")
        size = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(store) for f in fs)
        print(f"speedup (cold / B):       {cold / b_time:7.1f}x  (goal: >= 10x)")
        print(f"remote storage:           {size / 2**20:7.1f} MiB")
        print(f"index A: {a_report['index_digest']}")
        print(f"index B: {b_report['index_digest']}")
        same = a_report["index_digest"] == b_report["index_digest"]
        print("identical index digest:  ", "yes" if same else "NO")
        print("runner B, hits/misses per tier:")
        for tier, per_ns in sorted(tiers(b_report).items()):
            for ns, (h, m) in sorted(per_ns.items()):
                print(f"  {tier:<7} {ns:<6} {h:6d} hits {m:6d} misses")
        print("runner B, zig runtimes:")
        for line in b_err.splitlines():
            if "zig runtime" in line or "zig compiled" in line:
                print("  " + line)
        if not same:
            sys.exit(1)
    finally:
        nginx.kill()
        nginx.wait()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
