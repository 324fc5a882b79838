#!/usr/bin/python3
"""Trains DLRM in DLRM's Criteo-Kaggle shape (dim 16, bottom 13-512-256-64-16, top
512-256-1, 26 tables of 1M rows, SGD lr 0.1) on synthetic data with cembed and with the
PyTorch reference (tools/reference/torch_dlrm.py) in the same run, on the same thread count,
and prints samples/s of each and the ratio, at batch 128 and 2048.

    /usr/bin/python3 bench/dlrm_vs_torch.py [--threads 2] [--rows-per-table 1000000]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "reference"))
from cds import Dataset  # noqa: E402
from torch_dlrm import DLRM, loss_fn, make_optimizers  # noqa: E402

CEMBED = os.path.join(ROOT, "build", "release", "cembed")


def cembed_rate(data_dir, batch, steps, threads):
    report = os.path.join(data_dir, f"report_{batch}.json")
    cmd = [CEMBED, "train", "--train", os.path.join(data_dir, "train.cds"), "--embedding", "full",
           "--dim", "16", "--bottom", "512,256,64,16", "--top", "512,256,1", "--optimizer", "sgd", "--lr", "0.1",
           "--batch-size", str(batch), "--max-steps", str(steps), "--threads", str(threads),
           "--report", report, "--quiet"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(report) as f:
        r = json.load(f)
    return r["train"]["samples_per_second"], r["memory"]


def torch_rate(data, batch, steps, threads):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = DLRM(13, 16, [512, 256, 64], [512, 256], data.cardinalities)
    opts = make_optimizers(model, "sgd", 0.1)
    order = np.random.default_rng(0).permutation(data.rows)
    warmup = 3
    seconds = 0.0
    for s in range(steps + warmup):
        rows = order[(s * batch) % (data.rows - batch):][:batch]
        t0 = time.perf_counter()
        dense, labels, ids, offsets = data.batch(rows)
        dense, labels = torch.from_numpy(np.array(dense)), torch.from_numpy(np.array(labels))
        ids = [torch.from_numpy(i) for i in ids]
        offsets = [torch.from_numpy(o) for o in offsets]
        for o in opts:
            o.zero_grad()
        loss = loss_fn(model(dense, ids, offsets), labels)
        loss.backward()
        for o in opts:
            o.step()
        if s >= warmup:
            seconds += time.perf_counter() - t0
    return steps * batch / seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rows-per-table", type=int, default=1000000)
    ap.add_argument("--time-per-run", type=float, default=1.0, help="scale the step counts")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([CEMBED, "synth", "--out", d, "--train-rows", "300000", "--test-rows", "1000",
                        "--cardinality", str(args.rows_per_table), "--threads", str(args.threads)],
                       check=True, stdout=subprocess.DEVNULL)
        data = Dataset(os.path.join(d, "train.cds"))
        print(f"DLRM Criteo-Kaggle shape, 26 tables x {args.rows_per_table} rows, dim 16, SGD, "
              f"{args.threads} threads, torch {torch.__version__}")
        print(f"{'batch':>6} {'cembed samples/s':>17} {'torch samples/s':>16} {'ratio':>7}")
        for batch, steps in ((128, 600), (2048, 60)):
            steps = max(10, int(steps * args.time_per_run))
            ours, memory = cembed_rate(d, batch, steps, args.threads)
            ref = torch_rate(data, batch, max(10, steps // 3), args.threads)
            print(f"{batch:>6} {ours:>17.0f} {ref:>16.0f} {ours / ref:>7.2f}")
            if batch == 2048:
                print(f"cembed memory: peak anonymous {memory['peak_anonymous_bytes'] / 2**20:.0f} MiB, "
                      f"parameters + optimizer {memory['model_and_optimizer_bytes'] / 2**20:.0f} MiB "
                      f"(peak RSS with the mapped dataset {memory['peak_rss_bytes'] / 2**20:.0f} MiB)")


if __name__ == "__main__":
    main()
