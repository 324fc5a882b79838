#!/usr/bin/python3
"""Trains DLRM in DLRM's Criteo-Kaggle shape (dim 16, bottom 13-512-256-64-16, top
367-512-256-1, 26 tables of 1M rows, SGD lr 0.1) on synthetic data with cembed and with the
PyTorch reference (tools/reference/torch_dlrm.py) on the same thread count, in interleaved
rounds, at batch 128 and 2048, and prints per batch the median and range of samples/s and of
the per-round ratio cembed / PyTorch. Both sides' rates leave out their first steps (the
warm-up: first touch of buffers, cold caches), as many as cembed's report says it left out
(train.steady_after_steps); cembed's rate counting them too is printed after the table.

Each round also measures the machine's GEMM peak (bench_gemm's peak_* benchmarks: square
products of 1024 and 2048 through kernels::gemm and through OpenBLAS's own threads, the fastest), so
that cembed's dense-layer FLOP rate at batch 2048 is given as a share of the peak measured
next to it.

--dense-precision bf16 trains both sides' dense layers in bf16: cembed with
--dense-precision bf16 (kernels/gemm_bf16.h), PyTorch under torch.autocast("cpu",
dtype=torch.bfloat16) (its Linear layers in bf16, accumulating in fp32); the GEMM peak stays
fp32's, so the share of it can pass 100 %.

--busy adds rounds on a busy machine: a second process (`yes > /dev/null`) keeps one core
busy while cembed trains at batch 128 with its thread governor (the default) and with
--fixed-threads; it prints each against the idle rounds' median.

    /usr/bin/python3 bench/dlrm_vs_torch.py [--rounds 5] [--threads 2] [--busy] [--dense-precision bf16]

Needs build/release with the benchmarks (scripts/build.sh builds them).
"""
import argparse
import json
import os
import platform
import statistics
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
BENCH_GEMM = os.path.join(ROOT, "build", "release", "bench", "bench_gemm")
BOTTOM, TOP, DIM, FEATURES, DENSE = [512, 256, 64], [512, 256], 16, 26, 13


def dense_flops_per_sample():
    """Multiply-adds x 2 of the MLPs' GEMMs in one training step per sample: forward, weight
    gradient and input gradient of every layer (the first layer's input gradient is not needed)."""
    interaction = DIM + (FEATURES + 1) * FEATURES // 2
    layers = list(zip([DENSE] + BOTTOM, BOTTOM + [DIM])) + list(zip([interaction] + TOP, TOP + [1]))
    return sum(2 * i * o * (2 if n == 0 else 3) for n, (i, o) in enumerate(layers))


def machine():
    model, flags = platform.processor(), set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name") and model in ("", "x86_64"):
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    simd = [f for f in ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
    return model, simd


PRECISION = "fp32"  # --dense-precision


def cembed_run(data_dir, batch, steps, threads, extra=()):
    report = os.path.join(data_dir, f"report_{batch}.json")
    cmd = [CEMBED, "train", "--train", os.path.join(data_dir, "train.cds"), "--embedding", "full",
           "--dim", str(DIM), "--bottom", ",".join(map(str, BOTTOM + [DIM])), "--top", ",".join(map(str, TOP + [1])),
           "--optimizer", "sgd", "--lr", "0.1", "--batch-size", str(batch), "--max-steps", str(steps),
           "--threads", str(threads), "--dense-precision", PRECISION, "--report", report, "--quiet", *extra]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(report) as f:
        return json.load(f)


def torch_rate(data, model, opts, batch, steps, warmup):
    order = np.random.default_rng(0).permutation(data.rows)
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
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=PRECISION == "bf16"):
            loss = loss_fn(model(dense, ids, offsets), labels)
        loss.backward()
        for o in opts:
            o.step()
        if s >= warmup:
            seconds += time.perf_counter() - t0
    return steps * batch / seconds


def gemm_peak():
    """GFLOP/s of the fastest of bench_gemm's peak benchmarks (medians of 3)."""
    out = subprocess.run([BENCH_GEMM, "--benchmark_filter=peak", "--benchmark_min_time=0.3",
                          "--benchmark_repetitions=3", "--benchmark_report_aggregates_only=true",
                          "--benchmark_format=json"], check=True, capture_output=True, text=True).stdout
    rates = [b["GFLOP/s"] for b in json.loads(out)["benchmarks"] if b.get("aggregate_name") == "median"]
    return max(rates)


def spread(values):
    return f"{statistics.median(values):,.2f} ({min(values):,.2f}-{max(values):,.2f})"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--rows-per-table", type=int, default=1000000)
    ap.add_argument("--time-per-run", type=float, default=1.0, help="scale the step counts")
    ap.add_argument("--busy", action="store_true", help="add rounds with a busy process on one core")
    ap.add_argument("--dense-precision", choices=("fp32", "bf16"), default="fp32",
                    help="both sides' dense layers in this precision")
    args = ap.parse_args()
    global PRECISION
    PRECISION = args.dense_precision
    for path in (CEMBED, BENCH_GEMM):
        if not os.path.exists(path):
            sys.exit(f"{path} is missing: bash scripts/build.sh")
    steps = {128: max(10, int(600 * args.time_per_run)), 2048: max(10, int(60 * args.time_per_run))}
    flops = dense_flops_per_sample()
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([CEMBED, "synth", "--out", d, "--train-rows", "300000", "--test-rows", "1000",
                        "--cardinality", str(args.rows_per_table), "--threads", str(args.threads)],
                       check=True, stdout=subprocess.DEVNULL)
        data = Dataset(os.path.join(d, "train.cds"))
        torch.set_num_threads(args.threads)
        torch.manual_seed(0)
        model = DLRM(DENSE, DIM, BOTTOM, TOP, data.cardinalities)
        opts = make_optimizers(model, "sgd", 0.1)
        cpu, simd = machine()
        first = cembed_run(d, 128, 10, args.threads)
        build = first["build"]
        # Both sides' rates leave out the same number of first steps: cembed's report counts them
        # (train.steady_after_steps) and gives the rate after them (train.steady_samples_per_second).
        warmup = first["train"]["steady_after_steps"]
        dense = "fp32" if PRECISION == "fp32" else f"bf16: {build['bf16_gemm']}, PyTorch autocast bf16"
        print(f"{cpu}; {' '.join(simd)}; fp32 GEMM {build['gemm']}; dense layers {dense}; torch {torch.__version__}; "
              f"{args.threads} threads; 26 tables x {args.rows_per_table} rows, dim 16, SGD; "
              f"{flops / 1e6:.3f} MFLOP of dense GEMMs per sample")
        ours, ref, ratio, peak, share = {128: [], 2048: []}, {128: [], 2048: []}, {128: [], 2048: []}, [], []
        ours_all = {128: [], 2048: []}  # cembed counting its warm-up steps too
        for r in range(args.rounds):
            peak.append(gemm_peak())
            for batch in (128, 2048):
                # Alternate which side runs first, so that neither always meets a warmer machine.
                sides = [lambda: cembed_run(d, batch, steps[batch], args.threads)["train"],
                         lambda: torch_rate(data, model, opts, batch, max(10, steps[batch] // 3), warmup)]
                if r % 2:
                    b_rate, a_train = sides[1](), sides[0]()
                else:
                    a_train, b_rate = sides[0](), sides[1]()
                a_rate = a_train["steady_samples_per_second"]
                ours_all[batch].append(a_train["samples_per_second"])
                ours[batch].append(a_rate)
                ref[batch].append(b_rate)
                ratio[batch].append(a_rate / b_rate)
            share.append(ours[2048][-1] * flops / 1e9 / peak[-1])
            print(f"round {r + 1}: peak {peak[-1]:.1f} GFLOP/s; " + "; ".join(
                f"batch {b}: cembed {ours[b][-1]:,.0f}, torch {ref[b][-1]:,.0f} samples/s" for b in (128, 2048)),
                flush=True)
        print(f"\nsamples/s after each side's first {warmup} steps (warm-up)")
        print(f"{'batch':>6} {'cembed samples/s':>26} {'PyTorch samples/s':>26} {'ratio, median (range)':>24}")
        for b in (128, 2048):
            print(f"{b:>6} {spread(ours[b]):>26} {spread(ref[b]):>26} {spread(ratio[b]):>24}")
        print(f"GEMM peak {spread(peak)} GFLOP/s; cembed's dense layers at batch 2048: "
              f"{spread([s * p for s, p in zip(share, peak)])} GFLOP/s, {spread([100 * s for s in share])} % of the "
              f"peak measured in the same round")
        all_share = [a * flops / 1e9 / p for a, p in zip(ours_all[2048], peak)]
        print(f"cembed counting its warm-up steps too: batch 128 {spread(ours_all[128])}, batch 2048 "
              f"{spread(ours_all[2048])} samples/s; {spread([100 * s for s in all_share])} % of the GEMM peak")
        last = cembed_run(d, 2048, steps[2048], args.threads)["memory"]
        print(f"cembed memory at batch 2048: peak anonymous {last['peak_anonymous_bytes'] / 2**20:.0f} MiB, "
              f"parameters + optimizer {last['model_and_optimizer_bytes'] / 2**20:.0f} MiB")
        if args.busy:
            idle = statistics.median(ours[128])
            rates = {"governed": [], "fixed": [], "governed_threads": []}
            busy = subprocess.Popen(["yes"], stdout=subprocess.DEVNULL)
            try:
                time.sleep(0.5)
                for r in range(args.rounds):
                    g = cembed_run(d, 128, steps[128], args.threads)["train"]
                    rates["governed"].append(g["steady_samples_per_second"])
                    rates["governed_threads"].append(g["steps_by_threads"])
                    f = cembed_run(d, 128, steps[128], args.threads, ["--fixed-threads"])["train"]
                    rates["fixed"].append(f["steady_samples_per_second"])
            finally:
                busy.kill()
                busy.wait()
            print(f"\nbatch 128 with one core busy (`yes`), {args.rounds} rounds, against the idle median "
                  f"{idle:,.0f} samples/s (the lost core's share would leave {(args.threads - 1) / args.threads:.0%}):")
            for name in ("governed", "fixed"):
                print(f"  {name + ' threads':>16}: {spread(rates[name])} samples/s, "
                      f"{spread([x / idle for x in rates[name]])} of idle")
            print(f"  governed runs' steps by thread count: {rates['governed_threads']}")
        spreads = [(max(v) - min(v)) / statistics.median(v) for v in ours.values()]
        print(f"\nrun-to-run spread of cembed's samples/s (max - min) / median: "
              + ", ".join(f"batch {b} {s:.0%}" for b, s in zip(ours, spreads)))


if __name__ == "__main__":
    main()
