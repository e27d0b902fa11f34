#!/usr/bin/env python3
"""The C allocator of a cgo service: the C library's malloc against mimalloc
(`slipway build --allocator mimalloc`), on musl and on glibc.

One cgo program (benches/allocator/) with two workloads, each run in a
process of its own so its peak RSS is its own:
  mt      THREADS C threads, each a fixed seeded sequence of ITERATIONS
          malloc/free steps of mixed sizes (80% 16-256 B, 15% up to 4 KiB,
          5% up to 64 KiB) over a window of 1024 live blocks, one block in
          64 freed by another thread;
  sqlite  WORKERS goroutines inserting ROWS rows each (an indexed table, text
          of 8-512 bytes, 500 rows a transaction) into their own in-memory
          SQLite database through github.com/mattn/go-sqlite3 (pinned
          below, fetched through the Go module proxy).

Reported per libc and allocator: throughput (median of --repeat runs), peak
RSS (getrusage, the median run's), and the bytes the allocator adds to the
stripped binary. amd64 runs natively; --arm64 adds linux/arm64 under
qemu-user, which says little about real hardware: indicative only.

The "musl" C library is the one the installed zig links. Since zig 0.16
its malloc is not musl's mallocng but zig's own (lib/c/malloc.zig, a
wrapper of std.heap.SmpAllocator); the table names what was measured.

    python3 benches/allocator.py [--slipway target/release/slipway] [--arm64] [--json] [--save FILE]
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SQLITE = "github.com/mattn/go-sqlite3"
SQLITE_VERSION = "v1.14.28"
SQLITE_SUM = "h1:ThEiQrnbtumT+QMknw63Befp/ce/nUPgBPMlRFEum7A="
SQLITE_MOD_SUM = "h1:Uh1q+B4BYcTPb+yiD3kU8Ct7aC0hY9fxUwlHK0RXw+Y="
LIBCS = [("musl", "musl"), ("glibc:2.28", "glibc")]
ALLOCATORS = ["libc", "mimalloc"]
GLIBC_ROOT = {"arm64": "/usr/aarch64-linux-gnu"}
# slipway's mimalloc purges freed memory at once on musl and after mimalloc's
# own 1000 ms on glibc (docs/allocator.md); the variant runs the other one.
OTHER_PURGE_DELAY = {"musl": "1000", "glibc": "0"}


def module(work):
    mod = os.path.join(work, "allocbench")
    os.makedirs(mod)
    for name in ("main.go", "workload.c"):
        shutil.copy(os.path.join(ROOT, "benches", "allocator", name), mod)
    with open(os.path.join(mod, "go.mod"), "w") as f:
        f.write(f"module example.com/allocbench\n\ngo 1.22\n\nrequire {SQLITE} {SQLITE_VERSION}\n")
    with open(os.path.join(mod, "go.sum"), "w") as f:
        f.write(f"{SQLITE} {SQLITE_VERSION} {SQLITE_SUM}\n{SQLITE} {SQLITE_VERSION}/go.mod {SQLITE_MOD_SUM}\n")
    return mod


def build(slipway, mod, libc, allocator, platforms, out):
    print(f"building {libc} {allocator} for {platforms} ...", file=sys.stderr, flush=True)
    proc = subprocess.run([slipway, "build", mod, "--platform", platforms, "--libc", libc,
                           "--allocator", allocator, "--out", out], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"slipway build --libc {libc} --allocator {allocator} failed:\n{proc.stderr}")


def run(binary, arch, libc_name, args, env_extra):
    cmd = [binary]
    if arch == "arm64":
        qemu = shutil.which("qemu-aarch64") or shutil.which("qemu-aarch64-static")
        if qemu is None:
            sys.exit("qemu-aarch64 is not installed: run scripts/setup.sh (qemu-user)")
        cmd = [qemu] + (["-L", GLIBC_ROOT[arch]] if libc_name == "glibc" else []) + [binary]
    env = dict(os.environ, **env_extra)
    proc = subprocess.run(cmd + args, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd + args)} failed ({proc.returncode}):\n{proc.stderr}")
    return json.loads(proc.stdout)


def measure(binary, arch, libc_name, args, repeat, env_extra=None):
    runs = [run(binary, arch, libc_name, args, env_extra or {}) for _ in range(repeat)]
    checks = {r["check"] for r in runs}
    if len(checks) != 1:
        sys.exit(f"{binary} {args}: the seeded workload gave different checksums {checks}")
    runs.sort(key=lambda r: r["ops_per_sec"])
    median = runs[len(runs) // 2]
    return {"ops_per_sec": median["ops_per_sec"], "max_rss_kib": median["max_rss_kib"],
            "all_ops_per_sec": [r["ops_per_sec"] for r in runs], "check": median["check"]}


MALLOCNG_MAIN = r"""
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <sys/resource.h>
uint64_t mt_workload(int threads, long iterations, uint64_t seed);
int main(int argc, char **argv) {
	int threads = atoi(argv[1]); long iterations = atol(argv[2]);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	uint64_t check = mt_workload(threads, iterations, 42);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("{\"ops_per_sec\": %.0f, \"max_rss_kib\": %ld, \"check\": %llu}\n",
		(double)threads * (double)iterations / s, ru.ru_maxrss, (unsigned long long)check);
	return 0;
}
"""


def mallocng(slipway, mod, work, threads, iterations, repeat):
    """musl's own mallocng (Debian's musl-gcc and libc.a) against the same
    mimalloc object slipway links, on the C workload alone: what zig's musl no
    longer ships. None when musl-gcc is not installed (Debian musl-tools)."""
    gcc = shutil.which("musl-gcc")
    if gcc is None:
        return None
    plan = subprocess.run([slipway, "build", mod, "--platform", "linux/amd64", "--libc", "musl",
                           "--allocator", "mimalloc", "--dry-run"], capture_output=True, text=True)
    found = re.search(r"(/\S*/alloc/[0-9a-f]{64}/mimalloc\.o)", plan.stdout + plan.stderr)
    if found is None:
        sys.exit("slipway build --dry-run names no mimalloc object")
    src = os.path.join(work, "mallocng_main.c")
    with open(src, "w") as f:
        f.write("#include <stdlib.h>\n" + MALLOCNG_MAIN)
    workload = os.path.join(ROOT, "benches", "allocator", "workload.c")
    out = {}
    for name, extra in (("mallocng", []), ("mimalloc", [found.group(1)])):
        exe = os.path.join(work, f"c-{name}")
        subprocess.run([gcc, "-O2", "-static", src, workload] + extra + ["-o", exe, "-lpthread"], check=True)
        runs = []
        for _ in range(repeat):
            proc = subprocess.run([exe, str(threads), str(iterations)], capture_output=True, text=True, check=True)
            runs.append(json.loads(proc.stdout))
        runs.sort(key=lambda r: r["ops_per_sec"])
        out[name] = runs[len(runs) // 2]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = os.path.join(ROOT, "target", "release", "slipway")
    if not os.path.exists(default):
        default = os.path.join(ROOT, "target", "debug", "slipway")
    ap.add_argument("--slipway", default=default)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--iterations", type=int, default=1_000_000)
    ap.add_argument("--sqlite-workers", type=int, default=4)
    ap.add_argument("--sqlite-rows", type=int, default=20_000)
    ap.add_argument("--arm64", action="store_true", help="also linux/arm64 under qemu-user (indicative only)")
    ap.add_argument("--work", help="keep builds in this directory (default: a temporary one)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    ap.add_argument("--save", help="also write the results as JSON to this file")
    a = ap.parse_args()

    work = a.work or tempfile.mkdtemp(prefix="slipway-allocbench-")
    os.makedirs(work, exist_ok=True)
    mod = module(tempfile.mkdtemp(dir=work))
    archs = ["amd64"] + (["arm64"] if a.arm64 else [])
    platforms = ",".join(f"linux/{x}" for x in archs)
    rows = []
    for libc, libc_name in LIBCS:
        sizes = {}
        for allocator in ALLOCATORS:
            out = os.path.join(work, f"{libc_name}-{allocator}")
            build(a.slipway, mod, libc, allocator, platforms, out)
            for arch in archs:
                binary = os.path.join(out, f"linux_{arch}", "allocbench")
                sizes[(arch, allocator)] = os.path.getsize(binary)
                # qemu is ~10-20x slower: a tenth of the work keeps runs short.
                scale = 10 if arch == "arm64" else 1
                mt_args = ["mt", str(a.threads), str(a.iterations // scale)]
                sq_args = ["sqlite", str(a.sqlite_workers), str(a.sqlite_rows // scale)]
                print(f"running {libc_name} {allocator} {arch} ...", file=sys.stderr, flush=True)
                row = {"libc": libc_name, "allocator": allocator, "arch": arch,
                       "indicative_only": arch != "amd64",
                       "mt": measure(binary, arch, libc_name, mt_args, a.repeat),
                       "sqlite": measure(binary, arch, libc_name, sq_args, a.repeat),
                       "binary_bytes": sizes[(arch, allocator)]}
                if allocator == "mimalloc":
                    row["mt_other_purge_delay"] = measure(
                        binary, arch, libc_name, mt_args, a.repeat,
                        {"MIMALLOC_PURGE_DELAY": OTHER_PURGE_DELAY[libc_name]})
                rows.append(row)
        for arch in archs:
            for r in rows:
                if r["libc"] == libc_name and r["arch"] == arch and r["allocator"] == "mimalloc":
                    r["bytes_added"] = sizes[(arch, "mimalloc")] - sizes[(arch, "libc")]

    def base(r):
        return next(b for b in rows if b["libc"] == r["libc"] and b["arch"] == r["arch"]
                    and b["allocator"] == "libc")

    for r in rows:
        b = base(r)
        r["mt_speedup"] = r["mt"]["ops_per_sec"] / b["mt"]["ops_per_sec"]
        r["mt_rss_ratio"] = r["mt"]["max_rss_kib"] / b["mt"]["max_rss_kib"]
        r["sqlite_speedup"] = r["sqlite"]["ops_per_sec"] / b["sqlite"]["ops_per_sec"]
        r["sqlite_rss_ratio"] = r["sqlite"]["max_rss_kib"] / b["sqlite"]["max_rss_kib"]
    ng = mallocng(a.slipway, mod, work, a.threads, a.iterations, a.repeat)
    if not a.work:
        shutil.rmtree(work)
    result = {"threads": a.threads, "iterations": a.iterations, "sqlite_workers": a.sqlite_workers,
              "sqlite_rows": a.sqlite_rows, "repeat": a.repeat, "sqlite": f"{SQLITE} {SQLITE_VERSION}",
              "cpus": os.cpu_count(), "rows": rows, "c_only_mallocng": ng}
    if a.save:
        with open(a.save, "w") as f:
            json.dump(result, f, indent=2)
    if a.json:
        print(json.dumps(result, indent=2))
        return
    print(f"mt: {a.threads} threads x {a.iterations:,} steps; sqlite: {a.sqlite_workers} workers x "
          f"{a.sqlite_rows:,} rows ({SQLITE} {SQLITE_VERSION}); median of {a.repeat}; {os.cpu_count()} CPUs")
    print("arm64 runs under qemu-user with a tenth of the work: indicative only.\n")
    print("| libc | arch | allocator | mt ops/s | x | mt peak RSS | x | sqlite rows/s | x | sqlite peak RSS | x | bytes added |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        libc = "musl (zig's malloc)" if r["libc"] == "musl" else "glibc (ptmalloc)"
        arch = r["arch"] + (" (qemu)" if r["indicative_only"] else "")
        added = f"{r['bytes_added']:,}" if "bytes_added" in r else ""
        print(f"| {libc} | {arch} | {r['allocator']} | {r['mt']['ops_per_sec']:,.0f} | {r['mt_speedup']:.2f} | "
              f"{r['mt']['max_rss_kib']:,} KiB | {r['mt_rss_ratio']:.2f} | {r['sqlite']['ops_per_sec']:,.0f} | "
              f"{r['sqlite_speedup']:.2f} | {r['sqlite']['max_rss_kib']:,} KiB | {r['sqlite_rss_ratio']:.2f} | {added} |")
    print("\nmimalloc with the other purge delay (default: 0 on musl, 1000 ms on glibc), mt workload:")
    for r in rows:
        if "mt_other_purge_delay" in r:
            m = r["mt_other_purge_delay"]
            b = base(r)["mt"]
            print(f"  {r['libc']} {r['arch']} MIMALLOC_PURGE_DELAY={OTHER_PURGE_DELAY[r['libc']]}: {m['ops_per_sec']:,.0f} ops/s ({m['ops_per_sec'] / b['ops_per_sec']:.2f}x), "
                  f"peak RSS {m['max_rss_kib']:,} KiB ({m['max_rss_kib'] / b['max_rss_kib']:.2f}x)")
    if ng is None:
        print("\nmusl's own mallocng: not measured (install musl-tools for musl-gcc)")
    else:
        n, m = ng["mallocng"], ng["mimalloc"]
        print("\nThe mt workload in C alone, static, Debian's musl-gcc (musl's mallocng) against the same "
              "program with slipway's mimalloc object:")
        print(f"  mallocng: {n['ops_per_sec']:,.0f} ops/s, peak RSS {n['max_rss_kib']:,} KiB")
        print(f"  mimalloc: {m['ops_per_sec']:,.0f} ops/s ({m['ops_per_sec'] / n['ops_per_sec']:.2f}x), "
              f"peak RSS {m['max_rss_kib']:,} KiB ({m['max_rss_kib'] / n['max_rss_kib']:.2f}x)")


if __name__ == "__main__":
    main()
