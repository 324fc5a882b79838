#!/usr/bin/python3
"""Scoring speed of the same model exported in several precisions, read in place (fp16 and
int8 rows decoded per lookup), through the C API (docs/inference.md).

  /usr/bin/python3 bench/precision_lookup_speed.py A.cem B.cem ... --cardinality N
      [--lib build/release/libcembed.so] [--threads 2] [--rounds 5] [--rows 65536] [--singles 300]

Every file is opened in this process (the first is the reference, e.g. fp32). Per round,
interleaved: each model scores the same --rows random rows in batches of 4096 (rows/s),
then --singles single rows, the models alternating row by row (ms per call, ctypes
included). Ids are uniform in [0, N) for every feature, dense values normal. Printed per
model: median (min-max) over rounds of rows/s and of its ratio to the reference, single-row
p50 and p99 over every round's calls, and the ratio of p50s.
"""
import argparse
import ctypes
import os
import statistics
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+")
    ap.add_argument("--cardinality", type=int, required=True)
    ap.add_argument("--lib", default=os.path.join(os.path.dirname(__file__), "..", "build", "release", "libcembed.so"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--rows", type=int, default=65536)
    ap.add_argument("--singles", type=int, default=300)
    args = ap.parse_args()
    lib = ctypes.CDLL(args.lib)
    lib.cembed_last_error.restype = ctypes.c_char_p
    lib.cembed_model_num_dense.restype = ctypes.c_int64
    lib.cembed_model_num_features.restype = ctypes.c_int64
    lib.cembed_set_threads(args.threads)
    models = []
    for path in args.models:
        m = ctypes.c_void_p()
        assert lib.cembed_model_open(path.encode(), ctypes.byref(m)) == 0, lib.cembed_last_error()
        models.append(m)
    dense_n, features = lib.cembed_model_num_dense(models[0]), lib.cembed_model_num_features(models[0])
    rng = np.random.default_rng(7)
    dense = rng.standard_normal((args.rows, dense_n)).astype(np.float32)
    ids = rng.integers(0, args.cardinality, (args.rows, features)).astype(np.uint32)
    out = np.zeros(args.rows, dtype=np.float32)
    f, u = ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_uint32)

    def score(m, begin, n):
        assert lib.cembed_model_score(m, ctypes.c_int64(n), dense[begin:].ctypes.data_as(f),
                                      ids[begin:].ctypes.data_as(u), out[begin:].ctypes.data_as(f)) == 0, \
            lib.cembed_last_error()

    for m in models:  # warm: every model's pages touched once
        for b in range(0, args.rows, 4096):
            score(m, b, min(4096, args.rows - b))
    rates = [[] for _ in models]
    singles = [[] for _ in models]
    for _ in range(args.rounds):
        for i, m in enumerate(models):
            t = time.perf_counter()
            for b in range(0, args.rows, 4096):
                score(m, b, min(4096, args.rows - b))
            rates[i].append(args.rows / (time.perf_counter() - t))
        for r in range(args.singles):
            for i, m in enumerate(models):
                t = time.perf_counter()
                score(m, r, 1)
                singles[i].append((time.perf_counter() - t) * 1e3)
    print(f"{args.rounds} rounds, {args.rows} rows in batches of 4096, {args.singles} single rows per round, "
          f"{args.threads} threads, ids in [0, {args.cardinality})")
    print("| model | MiB | rows/s median (min-max) | ratio to the first | 1-row p50 ms | 1-row p99 ms | p50 ratio |")
    print("|---|---:|---|---|---|---|---|")
    p50_ref = np.percentile(singles[0], 50)
    for i, path in enumerate(args.models):
        ratio = [a / b for a, b in zip(rates[i], rates[0])]
        p50, p99 = np.percentile(singles[i], 50), np.percentile(singles[i], 99)
        print(f"| {os.path.basename(path)} | {os.path.getsize(path) / 2**20:,.0f} | "
              f"{statistics.median(rates[i]):,.0f} ({min(rates[i]):,.0f}-{max(rates[i]):,.0f}) | "
              f"{statistics.median(ratio):.2f} ({min(ratio):.2f}-{max(ratio):.2f}) | {p50:.3f} | {p99:.3f} | "
              f"{p50 / p50_ref:.2f} |", flush=True)
    for m in models:
        lib.cembed_model_close(m)


if __name__ == "__main__":
    main()
