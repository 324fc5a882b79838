#!/usr/bin/python3
"""Open time and memory of an exported model through the C API (libcembed.so), one process
and two processes sharing it (docs/inference.md).

  /usr/bin/python3 bench/model_open_memory.py MODEL.cem [--lib build/release/libcembed.so] [--dense 13]

Each measurement runs in a fresh process: cembed_model_open's wall time (the file in the page
cache: it is read once before), then one batch of 4096 rows scored (ids 0), then the
process's resident memory from /proc/self/status (RssAnon: its own memory; RssFile: mapped
file pages) and /proc/self/smaps_rollup (Pss: resident memory with shared pages divided
among the processes mapping them). Two processes: both open the model and hold it while
each reads its own figures. Figures are deltas over the same process before opening.
"""
import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import ctypes, json, sys, time
import numpy as np

def memory():
    out = {}
    for name in ("/proc/self/status", "/proc/self/smaps_rollup"):
        for line in open(name):
            k, _, v = line.partition(":")
            if k in ("RssAnon", "RssFile", "Pss", "Shared_Clean"):
                out[k] = int(v.split()[0]) * 1024
    return out

lib = ctypes.CDLL(sys.argv[1])
lib.cembed_last_error.restype = ctypes.c_char_p
dense_n, features = int(sys.argv[3]), int(sys.argv[4])
dense = np.zeros((4096, dense_n), dtype=np.float32)
ids = np.zeros((4096, features), dtype=np.uint32)
out = np.zeros(4096, dtype=np.float32)
base = memory()
model = ctypes.c_void_p()
t = time.perf_counter()
assert lib.cembed_model_open(sys.argv[2].encode(), ctypes.byref(model)) == 0, lib.cembed_last_error()
opened = time.perf_counter() - t
after_open = memory()
f, u = ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_uint32)
assert lib.cembed_model_score(model, ctypes.c_int64(4096), dense.ctypes.data_as(f), ids.ctypes.data_as(u),
                              out.ctypes.data_as(f)) == 0, lib.cembed_last_error()
sys.stdout.write("ready\n")
sys.stdout.flush()
sys.stdin.readline()  # hold the model until told
now = memory()
print(json.dumps({"open_s": opened, "open": {k: after_open[k] - base[k] for k in base},
                  "scored": {k: now[k] - base[k] for k in base}}))
"""


def start(args):
    return subprocess.Popen([sys.executable, "-c", CHILD, args.lib, args.model, str(args.dense), str(args.features)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def finish(procs):
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    results = []
    for p in procs:  # each reads its figures while every process still holds the model
        p.stdin.write("\n")
        p.stdin.flush()
        results.append(json.loads(p.stdout.readline()))
    for p in procs:
        p.wait()
    return results


def mib(x):
    return f"{x / 2**20:,.0f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--lib", default=os.path.join(os.path.dirname(__file__), "..", "build", "release", "libcembed.so"))
    ap.add_argument("--dense", type=int, default=13)
    ap.add_argument("--features", type=int, default=26)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with open(args.model, "rb") as f:  # into the page cache
        while f.read(1 << 24):
            pass
    print(f"{args.model}: {os.path.getsize(args.model) / 2**20:,.0f} MiB, library {os.path.realpath(args.lib)}")
    print("| processes | open s (median, min-max) | RssAnon MiB | RssFile MiB | Pss MiB (each) |")
    print("|---|---|---|---|---|")
    for n in (1, 2):
        runs = [finish([start(args) for _ in range(n)]) for _ in range(args.repeats)]
        times = sorted(r["open_s"] for rs in runs for r in rs)
        last = runs[-1]
        print(f"| {n} | {times[len(times) // 2]:.3f} ({times[0]:.3f}-{times[-1]:.3f}) | "
              f"{' / '.join(mib(r['scored']['RssAnon']) for r in last)} | "
              f"{' / '.join(mib(r['scored']['RssFile']) for r in last)} | "
              f"{' / '.join(mib(r['scored']['Pss']) for r in last)} |", flush=True)


if __name__ == "__main__":
    main()
