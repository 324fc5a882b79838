#!/usr/bin/python3
"""cembed's inference (the C API on an exported fp32 model) against PyTorch inference of the
same model (torch.no_grad, the same thread count), per method at 16x on the synthetic data (or frappe: --data frappe).

The PyTorch model is tests/python/torch_exported.py's: tools/reference/torch_dlrm.py's DLRM
(bottom MLP, dot interaction, top MLP) with each feature's table replaced by its method's
lookup formula (tests/python/torch_formulas.py: the formulas the Python package's tests check
cembed against), every parameter read from the .cem file itself, and where robe, lma and cce
place each value computed from the file by tools/reference/cem_file.py (robe's hash, lma's
stored blocks or minhashes, cce's stored assignment and hash, written out in numpy). Before
timing, both score the whole test set and the largest difference of a probability is printed
(and must be below 1e-5: the same model). Then, interleaved A/B in rounds: batch-4096
throughput over the test set and single-row latency; the ratio cembed / torch per round, its
median and spread.

  /usr/bin/python3 bench/inference_vs_torch.py [--methods hash,qr,...] [--data synthetic|frappe] [--rounds 5]
"""
import argparse
import ctypes
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "python"))
sys.path.insert(0, os.path.dirname(__file__))
from inference_figures import BUILD, CEMBED, Dataset, prepare, run  # noqa: E402
from torch_exported import torch_model  # noqa: E402  (tools/reference on the path through inference_figures)

METHODS = ["full", "hash", "qr", "cp", "path", "memcom", "md", "robe", "lma", "cce", "hot"]
BATCH = 4096


class Inputs:
    """The test set as the C API takes it (rows x dense, rows x features ids) and as the
    torch model does (per feature: ids and bag offsets), cut into batches."""

    def __init__(self, ds, batch):
        self.dense = np.array(ds.dense, dtype=np.float32, order="C")  # a copy: torch wants it writable
        self.ids = np.ascontiguousarray(np.stack([np.asarray(x) for x in ds.ids], axis=1), dtype=np.uint32)
        self.rows = ds.rows
        self.starts = list(range(0, self.rows - batch + 1, batch)) if self.rows >= batch else [0]
        self.batch = min(batch, self.rows)

    def torch_batch(self, start, n):
        ids = torch.from_numpy(self.ids[start:start + n].astype(np.int64))
        return (torch.from_numpy(self.dense[start:start + n]), [ids[:, f].contiguous() for f in range(ids.shape[1])],
                [torch.arange(n, dtype=torch.int64)] * ids.shape[1])


def compare(lib, path, ds, threads, rounds, single_rows):
    torch.set_num_threads(threads)
    lib.cembed_set_threads(threads)
    model = torch_model(path)
    handle = ctypes.c_void_p()
    assert lib.cembed_model_open(path.encode(), ctypes.byref(handle)) == 0, lib.cembed_last_error()
    x = Inputs(ds, BATCH)
    f, u = ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_uint32)
    out = np.zeros(x.rows, dtype=np.float32)

    def ours(start, n):
        assert lib.cembed_model_score(handle, ctypes.c_int64(n), x.dense[start:].ctypes.data_as(f),
                                      x.ids[start:].ctypes.data_as(u), out[start:].ctypes.data_as(f)) == 0

    def theirs(batch):
        with torch.no_grad():
            return torch.sigmoid(model(*batch))

    ours(0, x.rows)
    ref = theirs(x.torch_batch(0, x.rows)).numpy()
    worst = float(np.abs(ref - out).max())
    assert worst < 1e-5, f"{path}: torch and cembed differ by {worst}: not the same model"
    batches = [x.torch_batch(s, x.batch) for s in x.starts]
    singles = [x.torch_batch(r % x.rows, 1) for r in range(single_rows)]
    rate_ratio, lat_ratio, rates, lats = [], [], ([], []), ([], [])
    for _ in range(rounds):
        t = time.perf_counter()
        for s in x.starts:
            ours(s, x.batch)
        a = len(x.starts) * x.batch / (time.perf_counter() - t)
        t = time.perf_counter()
        for b in batches:
            theirs(b)
        b_ = len(x.starts) * x.batch / (time.perf_counter() - t)
        rates[0].append(a), rates[1].append(b_), rate_ratio.append(a / b_)
        la, lb = [], []
        for r in range(single_rows):  # interleaved row by row
            t = time.perf_counter()
            ours(r % x.rows, 1)
            la.append(time.perf_counter() - t)
            t = time.perf_counter()
            theirs(singles[r])
            lb.append(time.perf_counter() - t)
        lats[0].append(np.median(la) * 1e3), lats[1].append(np.median(lb) * 1e3)
        lat_ratio.append(np.median(lb) / np.median(la))
    lib.cembed_model_close(handle)
    return worst, rates, rate_ratio, lats, lat_ratio


def spread(v):
    return f"{np.median(v):.2f} ({min(v):.2f}-{max(v):.2f})"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--single-rows", type=int, default=300, help="rows timed one at a time per round")
    ap.add_argument("--ratio", default="16", help="compression ratio")
    ap.add_argument("--data", default="synthetic", choices=["synthetic", "frappe"])
    args = ap.parse_args()
    lib = ctypes.CDLL(os.path.join(BUILD, "libcembed.so"))
    lib.cembed_last_error.restype = ctypes.c_char_p
    with tempfile.TemporaryDirectory() as d:
        prepare(args.data, d)
        ds = Dataset(os.path.join(d, "test.cds"))
        print(f"{args.data} ({ds.rows} test rows), {args.ratio}x, 1 epoch, dim 16, {args.threads} threads, "
              f"torch {torch.__version__}, {args.rounds} interleaved rounds: median (min-max)\n")
        print("| method | max prob. diff | cembed rows/s | torch rows/s | throughput ratio | cembed 1-row ms |"
              " torch 1-row ms | latency ratio |")
        print("|---|---|---|---|---|---|---|---|")
        for method in args.methods.split(","):
            ck, cem = os.path.join(d, method + ".ckpt"), os.path.join(d, method + ".cem")
            plan = subprocess.run([CEMBED, "plan", "--data", os.path.join(d, "train.cds"), "--embedding", method,
                                   "--compression", args.ratio], capture_output=True, text=True)
            if plan.returncode != 0:
                print(f"| {method} | infeasible at {args.ratio}x |", flush=True)
                continue
            run([CEMBED, "train", "--train", os.path.join(d, "train.cds"), "--embedding", method, "--compression",
                 args.ratio, "--epochs", "1", "--threads", str(args.threads), "--quiet", "--checkpoint", ck,
                 "--optimizer", "adagrad"])
            run([CEMBED, "export", ck, "--out", cem, "--precision", "fp32"])
            worst, rates, rate_ratio, lats, lat_ratio = compare(lib, cem, ds, args.threads, args.rounds,
                                                                args.single_rows)
            print(f"| {method} | {worst:.1e} | {np.median(rates[0]):,.0f} | {np.median(rates[1]):,.0f} | "
                  f"{spread(rate_ratio)} | {np.median(lats[0]):.3f} | {np.median(lats[1]):.3f} | {spread(lat_ratio)} |",
                  flush=True)


if __name__ == "__main__":
    main()
