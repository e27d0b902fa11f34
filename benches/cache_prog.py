#!/usr/bin/env python3
"""GOCACHEPROG through `slipway cache-prog`: its overhead, and a peer on a warm remote.

1. Overhead: a no-op rebuild of 5 pure-Go targets of examples/hello (`go build
   -o` into a kept output per target, run as many at once as there are CPUs)
   with Go's own warm GOCACHE, against the same with
   GOCACHEPROG="slipway cache-prog" and a warm local tier. Goal: ratio <= 1.1.
2. Warm remote: a fresh runner (empty GOCACHE and local tier) builds
   examples/hello for linux/amd64 while the remote already holds everything:
   slipway cache-prog with nginx (Bazel HTTP cache protocol, WebDAV PUT)
   against go-tool-cache's go-cacher with its own go-cacher-server, both on
   127.0.0.1, both built by scripts; plus a cold build with an empty GOCACHE
   for scale.

Runs are interleaved in one process so the noise of a shared machine hits
both sides; read the ratios of medians. Beside wall time, the CPU time (user
+ system) of each side's processes is reported: it is less sensitive to a
busy machine. The load average is printed at the start and the end.

Without --slipway, slipway is built first with `cargo build --release -p
slipway` (a debug build's overhead is not what users get).

    python3 benches/cache_prog.py [--slipway PATH] [--runs 9]
"""

import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLATFORMS = [("linux", "amd64", {}), ("linux", "arm64", {}), ("linux", "arm", {"GOARM": "7"}),
             ("linux", "riscv64", {}), ("linux", "mipsle", {"GOMIPS": "softfloat"})]
MODULE = os.path.join(ROOT, "examples/hello")


def tool(name):
    return subprocess.run([os.path.join(ROOT, "scripts/install-go-tool.sh"), name],
                          check=True, capture_output=True, text=True).stdout.strip()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc):
    for _ in range(400):
        if proc.poll() is not None:
            sys.exit(f"server exited: {proc.args}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listens on {port}")


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GO", "CGO_", "SLIPWAY_CACHE"))}
    env.update(CGO_ENABLED="0", GOFLAGS="-trimpath", GOTOOLCHAIN="local", GOENV="off")
    env.update(extra)
    return env


def go_build(env, out, goos="linux", goarch="amd64", extra=None):
    e = dict(env, GOOS=goos, GOARCH=goarch, **(extra or {}))
    subprocess.run(["go", "build", "-o", out, "."], cwd=MODULE, env=e, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def five(env, outdir):
    jobs = os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(lambda p: go_build(env, os.path.join(outdir, f"{p[0]}_{p[1]}"), *p),
                      PLATFORMS))


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed_cpu(fn):
    """Wall and CPU seconds of fn's child processes."""
    c = children_cpu()
    t = timed(fn)
    return t, children_cpu() - c


def report(title, times, base):
    print(f"\n{title}")
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in times.items():
        print(f"  {k:<34} median {med[k]:7.3f}s  (min {min(v):.3f}, max {max(v):.3f}, n={len(v)})")
    for k in times:
        if k != base:
            print(f"  ratio {k} / {base}: {med[k] / med[base]:.2f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--slipway", help="the slipway to measure (default: build target/release/slipway)")
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--remote-runs", type=int, default=3)
    ap.add_argument("--fresh-gocache", action="store_true",
                    help="fill a new GOCACHE for the plain side instead of using the machine's")
    args = ap.parse_args()
    if args.slipway is None:
        subprocess.run(["cargo", "build", "--release", "-p", "slipway"], cwd=ROOT, check=True)
        args.slipway = os.path.join(ROOT, "target/release/slipway")
    slipway = os.path.abspath(args.slipway)
    print("load average at start: %.1f %.1f %.1f" % os.getloadavg(), flush=True)
    work = tempfile.mkdtemp(prefix="slipway-bench-cache-")
    procs = []
    try:
        # 1. Overhead with warm local caches.
        # Go's own cache: the machine's (warm from earlier builds, shared and
        # safe to share) unless --fresh-gocache.
        shared = subprocess.run(["go", "env", "GOCACHE"], check=True, capture_output=True,
                                text=True).stdout.strip()
        plain = clean_env(GOCACHE=os.path.join(work, "plain-gocache") if args.fresh_gocache else shared)
        prog = clean_env(GOCACHE=os.path.join(work, "prog-gocache"),
                         GOCACHEPROG=f"{slipway} cache-prog",
                         SLIPWAY_CACHE_DIR=os.path.join(work, "prog-slipway"))
        outs = {k: os.path.join(work, k + "-out") for k in ("plain", "prog")}
        for o in outs.values():
            os.makedirs(o)
        five(plain, outs["plain"])
        five(prog, outs["prog"])
        for name in os.listdir(outs["plain"]):
            a = open(os.path.join(outs["plain"], name), "rb").read()
            b = open(os.path.join(outs["prog"], name), "rb").read()
            if a != b:
                sys.exit(f"{name}: the binaries differ with and without GOCACHEPROG")
        # How many requests a no-op rebuild makes.
        stats_dir = os.path.join(work, "prog-stats")
        five(dict(prog, SLIPWAY_CACHE_STATS_DIR=stats_dir), outs["prog"])
        gets = misses = puts = 0
        for name in os.listdir(stats_dir):
            if name.endswith(".json"):
                t = json.load(open(os.path.join(stats_dir, name)))["tiers"].get("local", {}).get("go", {})
                gets += t.get("hits", 0) + t.get("misses", 0)
                misses += t.get("misses", 0)
                puts += t.get("puts", 0)
        times = {"GOCACHE (go's own)": [], "GOCACHEPROG=slipway cache-prog": []}
        cpu = {k: [] for k in times}
        for i in range(args.runs):
            sides = [("GOCACHE (go's own)", lambda: five(plain, outs["plain"])),
                     ("GOCACHEPROG=slipway cache-prog", lambda: five(prog, outs["prog"]))]
            if i % 2:
                sides.reverse()
            for k, fn in sides:
                wall, used = timed_cpu(fn)
                times[k].append(wall)
                cpu[k].append(used)
        report("no-op rebuild of 5 targets, warm local caches (wall)", times, "GOCACHE (go's own)")
        report("the same, CPU time of all processes (user + system)", cpu, "GOCACHE (go's own)")
        extra = statistics.median(times["GOCACHEPROG=slipway cache-prog"]) - statistics.median(times["GOCACHE (go's own)"])
        extra_cpu = statistics.median(cpu["GOCACHEPROG=slipway cache-prog"]) - statistics.median(cpu["GOCACHE (go's own)"])
        print(f"  requests per no-op rebuild: {gets} gets ({misses} misses), {puts} puts")
        if gets:
            print(f"  added per get: {extra / gets * 1000:.3f} ms wall, {extra_cpu / gets * 1000:.3f} ms CPU")

        # 2. A fresh runner against a warm remote.
        ndir = os.path.join(work, "nginx")
        os.makedirs(os.path.join(ndir, "storage"))
        os.makedirs(os.path.join(ndir, "tmp"))
        nport = free_port()
        with open(os.path.join(ndir, "nginx.conf"), "w") as f:
            f.write(f"""daemon off;
master_process off;
pid {ndir}/nginx.pid;
error_log {ndir}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {ndir}/tmp/body;
    proxy_temp_path {ndir}/tmp/proxy;
    fastcgi_temp_path {ndir}/tmp/fastcgi;
    uwsgi_temp_path {ndir}/tmp/uwsgi;
    scgi_temp_path {ndir}/tmp/scgi;
    server {{
        listen 127.0.0.1:{nport};
        location / {{ root {ndir}/storage; dav_methods PUT; create_full_put_path on; client_max_body_size 2g; }}
    }}
}}
""")
        nginx = subprocess.Popen(["nginx", "-p", ndir, "-e", os.path.join(ndir, "error.log"),
                                  "-c", os.path.join(ndir, "nginx.conf")])
        procs.append(nginx)
        wait_port(nport, nginx)
        gport = free_port()
        gserver = subprocess.Popen([tool("go-cacher-server"), "-cache-dir", os.path.join(work, "gcs"),
                                    "-listen", f"127.0.0.1:{gport}"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(gserver)
        wait_port(gport, gserver)
        go_cacher = tool("go-cacher")

        run_no = [0]

        def fresh(kind):
            run_no[0] += 1
            d = os.path.join(work, f"runner-{run_no[0]}")
            env = clean_env(GOCACHE=os.path.join(d, "gocache"))
            if kind == "slipway":
                env.update(GOCACHEPROG=f"{slipway} cache-prog", SLIPWAY_CACHE_DIR=os.path.join(d, "sc"),
                           SLIPWAY_CACHE_REMOTE=f"http://127.0.0.1:{nport}")
            elif kind == "go-cacher":
                env.update(GOCACHEPROG=f"{go_cacher} -cache-dir {os.path.join(d, 'gc')} "
                                       f"-cache-server http://127.0.0.1:{gport}")
            out = os.path.join(d, "app")
            t = timed(lambda: go_build(env, out))
            data = open(out, "rb").read()
            shutil.rmtree(d)
            return t, data

        # Fill both remotes.
        _, ref = fresh("cold")
        for kind in ("slipway", "go-cacher"):
            _, data = fresh(kind)
            if data != ref:
                sys.exit(f"{kind}: binary differs from a plain go build")
        times = {"cold (empty GOCACHE, no remote)": [], "slipway cache-prog + nginx": [],
                 "go-cacher + go-cacher-server": []}
        for i in range(args.remote_runs):
            kinds = [("slipway cache-prog + nginx", "slipway"), ("go-cacher + go-cacher-server", "go-cacher")]
            if i % 2:
                kinds.reverse()
            for k, kind in kinds:
                t, data = fresh(kind)
                if data != ref:
                    sys.exit(f"{kind}: binary differs")
                times[k].append(t)
        times["cold (empty GOCACHE, no remote)"].append(fresh("cold")[0])
        report("fresh runner, warm remote: go build examples/hello linux/amd64", times,
               "slipway cache-prog + nginx")
        print("\nload average at the end: %.1f %.1f %.1f" % os.getloadavg())
    finally:
        for p in procs:
            p.kill()
            p.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
