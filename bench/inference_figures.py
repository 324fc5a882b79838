"""Figures of docs/inference.md: for every method at 16x on the synthetic data and on frappe,
the exported file's size and test AUC in fp32, fp16 and int8 (beside the trained model's),
single-row latency (p50/p99) and batch throughput through the C API (libcembed.so, ctypes),
and `cembed serve`'s throughput and p99 latency under 8 concurrent loopback clients (each method's
fp32 file, --server-seconds per method; 0 skips the server).

  /usr/bin/python3 bench/inference_figures.py [--data synthetic,frappe] [--server-seconds 10]

Prints Markdown tables. Short runs: 1 epoch, dim 16, default MLPs; timings are medians of
repeated runs in this process (the machine may be shared: the command line is the record).
"""
import argparse
import concurrent.futures
import ctypes
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "reference"))
from cds import Dataset  # noqa: E402

BUILD = os.path.join(ROOT, "build", "release")
CEMBED = os.path.join(BUILD, "cembed")
SHARED = os.path.join(ROOT, "..", "shared", "data")
METHODS = ["full", "hash", "qr", "cp", "path", "memcom", "robe", "lma", "md", "cce", "hot"]


def run(cmd, **kw):
    out = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {out.stderr}")
    return out


def prepare(name, d):
    if name == "synthetic":
        run([CEMBED, "synth", "--out", d, "--train-rows", "100000", "--test-rows", "20000", "--scale", "0.002"])
    else:
        run([CEMBED, "prepare", "--format", "libfm", "--train", os.path.join(SHARED, "frappe/frappe.validation.libfm"),
             "--test", os.path.join(SHARED, "frappe/frappe.test.libfm"), "--out", d])


def auc_of(stderr):
    return float(stderr.split("AUC ")[1].split()[0])


def c_api_timings(lib, path, ds, threads):
    model = ctypes.c_void_p()
    assert lib.cembed_model_open(path.encode(), ctypes.byref(model)) == 0, lib.cembed_last_error()
    lib.cembed_set_threads(threads)
    dense = np.ascontiguousarray(ds.dense, dtype=np.float32)
    ids = np.ascontiguousarray(np.stack([np.asarray(x) for x in ds.ids], axis=1), dtype=np.uint32)
    out = np.zeros(ds.rows, dtype=np.float32)
    f, u = ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_uint32)
    lat = []
    for r in range(1000):
        row = r % ds.rows
        t = time.perf_counter()
        lib.cembed_model_score(model, ctypes.c_int64(1), dense[row:].ctypes.data_as(f), ids[row:].ctypes.data_as(u),
                               out.ctypes.data_as(f))
        lat.append(time.perf_counter() - t)
    rates = []
    n = min(ds.rows, 4096)
    for _ in range(5):
        t = time.perf_counter()
        for start in range(0, ds.rows - n + 1, n):
            lib.cembed_model_score(model, ctypes.c_int64(n), dense[start:].ctypes.data_as(f),
                                   ids[start:].ctypes.data_as(u), out.ctypes.data_as(f))
        rates.append((ds.rows // n) * n / (time.perf_counter() - t))
    lib.cembed_model_close(model)
    lat = np.array(lat) * 1e3
    return np.percentile(lat, 50), np.percentile(lat, 99), np.median(rates), (min(rates), max(rates))


def server_load(path, ds, seconds, clients, threads):
    proc = subprocess.Popen([CEMBED, "serve", path, "--port", "0", "--threads", str(threads)], stdout=subprocess.PIPE,
                            text=True)
    port = int(proc.stdout.readline().rsplit(":", 1)[1])
    bodies = [json.dumps({"rows": [{"dense": ds.dense[r].tolist(), "ids": [int(x[r]) for x in ds.ids]}
                                   for r in range(s, s + 16)]}) for s in range(0, 16 * 64, 16)]
    stop = time.perf_counter() + seconds

    def client(k):
        conn = http.client.HTTPConnection("127.0.0.1", port)
        lat, rows, i = [], 0, k
        while time.perf_counter() < stop:
            t = time.perf_counter()
            conn.request("POST", "/score", body=bodies[i % len(bodies)])
            res = conn.getresponse()
            res.read()
            assert res.status == 200
            lat.append(time.perf_counter() - t)
            rows += 16
            i += clients
        return lat, rows

    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(client, range(clients)))
    elapsed = time.perf_counter() - t0
    proc.terminate()
    proc.wait()
    lat = np.concatenate([np.array(r[0]) for r in results]) * 1e3
    return sum(r[1] for r in results) / elapsed, len(lat) / elapsed, np.percentile(lat, 50), np.percentile(lat, 99)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="synthetic,frappe")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--server-seconds", type=float, default=10)
    ap.add_argument("--ratio", default="16", help="compression ratio")
    args = ap.parse_args()
    lib = ctypes.CDLL(os.path.join(BUILD, "libcembed.so"))
    lib.cembed_last_error.restype = ctypes.c_char_p
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.data.split(","):
            d = os.path.join(tmp, name)
            prepare(name, d)
            ds = Dataset(os.path.join(d, "test.cds"))
            print(f"\n### {name} ({ds.rows} test rows), {args.ratio}x, 1 epoch, dim 16, {args.threads} threads\n")
            print("| method | trained AUC | fp32 bytes | fp32 AUC | fp16 bytes | fp16 AUC | int8 bytes | int8 AUC |"
                  " 1-row p50 ms | 1-row p99 ms | rows/s (batch 4096) |")
            print("|---|---|---|---|---|---|---|---|---|---|---|")
            served = []
            for method in args.methods.split(","):
                ck = os.path.join(d, method + ".ckpt")
                plan = subprocess.run([CEMBED, "plan", "--data", os.path.join(d, "train.cds"), "--embedding", method,
                                       "--compression", args.ratio], capture_output=True, text=True)
                if plan.returncode != 0:
                    print(f"| {method} | infeasible at {args.ratio}x: {plan.stderr.strip().split('error: ')[-1]} |", flush=True)
                    continue
                out = run([CEMBED, "train", "--train", os.path.join(d, "train.cds"), "--test",
                           os.path.join(d, "test.cds"), "--embedding", method, "--compression", args.ratio, "--epochs", "1",
                           "--threads", str(args.threads), "--quiet", "--checkpoint", ck, "--optimizer", "adagrad"])
                trained = run([CEMBED, "eval", "--model", ck, "--data", os.path.join(d, "test.cds")]).stdout
                row = [method, trained.split("AUC ")[1].split()[0]]
                for p in ("fp32", "fp16", "int8"):
                    cem = os.path.join(d, f"{method}.{p}.cem")
                    run([CEMBED, "export", ck, "--out", cem, "--precision", p])
                    s = run([CEMBED, "score", cem, "--data", os.path.join(d, "test.cds"), "--out",
                             os.path.join(d, "s.txt"), "--threads", str(args.threads)])
                    row += [str(os.path.getsize(cem)), f"{auc_of(s.stderr):.5f}"]
                p50, p99, rate, spread = c_api_timings(lib, os.path.join(d, f"{method}.fp32.cem"), ds, args.threads)
                row += [f"{p50:.3f}", f"{p99:.3f}", f"{rate:,.0f} ({spread[0]:,.0f}-{spread[1]:,.0f})"]
                print("| " + " | ".join(row) + " |", flush=True)
                served.append(method)
            if args.server_seconds > 0:
                print(f"\nserve, fp32: 8 clients x {args.server_seconds:g} s, 16 rows per request\n")
                print("| method | rows/s | requests/s | latency p50 ms | latency p99 ms |")
                print("|---|---|---|---|---|")
                for method in served:
                    rows_s, req_s, p50, p99 = server_load(os.path.join(d, method + ".fp32.cem"), ds,
                                                          args.server_seconds, 8, args.threads)
                    print(f"| {method} | {rows_s:,.0f} | {req_s:,.0f} | {p50:.2f} | {p99:.2f} |", flush=True)


if __name__ == "__main__":
    main()
