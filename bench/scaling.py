#!/usr/bin/env python3
"""Data-parallel scaling on one machine (loopback MPI) and a cost model for a cluster.

Trains DLRM (Criteo-Kaggle shape scaled to --cardinality values per feature, dim 16,
Adagrad) with each method at --ratio, as 1, 2 and 4 ranks (threads per rank = cores / ranks,
at least 1: 4 ranks on 2 cores are oversubscribed), in interleaved rounds; prints per method
and rank count the median samples/s of the job (spread min..max) and the bytes each rank
hands to collectives per step. Then the cost model (docs/scaling.md): for 8..64
machines on a stated network, the step time split into compute and communication, from the
measured bytes per step and the measured share of a one-rank step that every rank repeats
(the table update of the global batch and the dense optimizer step: the report's
train.phase_seconds).

  /usr/bin/python3 bench/scaling.py [--rounds 3] [--steps 150] [--batch 2048]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
CEMBED = os.path.join(ROOT, "build", "release", "cembed")
MPI = ["mpirun", "--oversubscribe", "--allow-run-as-root", "--bind-to", "none", "-np"]


def train(data, method, ratio, ranks, threads, steps, batch, report):
    args = ["train", "--train", f"{data}/train.cds", "--embedding", method, "--dim", "16", "--optimizer", "adagrad",
            "--lr", "0.05", "--batch-size", str(batch), "--max-steps", str(steps), "--threads", str(threads),
            "--report", report, "--quiet"]
    if method != "full":
        args += ["--compression", str(ratio)]
    cmd = ([CEMBED] if ranks == 1 else MPI + [str(ranks), CEMBED]) + args
    subprocess.run(cmd, check=True, capture_output=True)
    with open(report) as f:
        r = json.load(f)
    per_rank = r.get("distributed", {}).get("per_rank", [])
    sent = statistics.mean(p["bytes_sent_per_step"] for p in per_rank) if per_rank else 0.0
    # Fractions of rank 0's training seconds in each phase (Dlrm::StepPhases).
    phases = {k: v / r["train"]["seconds"] for k, v in r["train"]["phase_seconds"].items()}
    return r["train"]["samples_per_second"], sent, r["embedding"]["parameter_bytes"], phases


def replicated(phases):
    """The share of a step every rank repeats whatever the rank count."""
    return phases["table_update"] + phases["dense_update"]


def cost_model(rows, batch, bandwidth_gbit, latency_us):
    """Step time on N machines: compute (measured on 1 rank; reading the batch and forward and
    backward of the share shrink as B/N; the table update of the whole global batch and the
    dense optimizer step, a fraction f of the one-rank step measured per method, do not) +
    communication: a ring allreduce of the dense gradients (2 (N-1)/N x 4P bytes) and a
    ring allgather of the shares ((N-1) x B/N x bytes per row), plus 2 (N-1) messages of
    latency per collective. 4P and the bytes per row come from the 2- and 4-rank runs: a rank
    sends 4P + B/N x row bytes per step."""
    bw = bandwidth_gbit * 1e9 / 8
    print(f"\nCost model: global batch {batch}, {bandwidth_gbit:g} Gbit/s, {latency_us:g} us per message")
    print("| method | 1-rank step (ms) | replicated f | dense bytes | bytes/row | N | compute (ms) | comm (ms) | "
          "samples/s | bound |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for m in rows:
        step1 = batch / m["rate1"]
        dense = 2 * m["sent4"] - m["sent2"]           # 4P
        per_row = (m["sent2"] - dense) / (batch / 2)  # share bytes per row
        for n in (8, 16, 32, 64):
            compute = step1 * (1 - m["replicated"]) / n + step1 * m["replicated"]
            comm = (2 * (n - 1) / n * dense + (n - 1) * batch / n * per_row) / bw + 3 * 2 * (n - 1) * latency_us * 1e-6
            t = compute + comm
            print(f"| {m['method']} | {step1 * 1e3:.1f} | {m['replicated']:.2f} | {dense:.0f} | {per_row:.0f} | {n} | "
                  f"{compute * 1e3:.2f} | "
                  f"{comm * 1e3:.2f} | {batch / t:.0f} | {'communication' if comm > compute else 'compute'} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--batch", type=int, default=2048)
    ap.add_argument("--cardinality", type=int, default=100000)
    ap.add_argument("--ratio", type=float, default=8)  # memcom cannot go past 16x at dim 16
    ap.add_argument("--methods", default="full,hash,qr,memcom,robe,lma")
    ap.add_argument("--ranks", default="1,2,4")
    ap.add_argument("--cores", type=int, default=os.cpu_count())
    ap.add_argument("--bandwidth-gbit", type=float, default=25)
    ap.add_argument("--latency-us", type=float, default=10)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="cembed_scaling_")
    try:
        rows = a.steps * a.batch
        subprocess.run([CEMBED, "synth", "--out", tmp, "--train-rows", str(rows), "--test-rows", "1000",
                        "--cardinality", str(a.cardinality)], check=True, capture_output=True)
        ranks = [int(x) for x in a.ranks.split(",")]
        results = {}
        for rnd in range(a.rounds):
            for method in a.methods.split(","):
                order = ranks if rnd % 2 == 0 else ranks[::-1]
                for n in order:
                    threads = max(1, a.cores // n)
                    results.setdefault((method, n), []).append(
                        train(tmp, method, a.ratio, n, threads, a.steps, a.batch, f"{tmp}/r.json"))
        print(f"{a.methods} at {a.ratio:g}x, {a.cardinality} values x 26 features, dim 16, batch {a.batch}, "
              f"{a.steps} steps, {a.rounds} interleaved rounds, {a.cores} cores; phases: fractions of rank 0's "
              "training seconds (median)")
        print("| method | ranks | threads/rank | samples/s (median) | spread | vs 1 rank | bytes sent/rank/step | "
              "batch + fwd/bwd | exchange | table update | dense update |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        model_rows = []
        for method in a.methods.split(","):
            base = statistics.median(r[0] for r in results[(method, ranks[0])])
            for n in ranks:
                rates = [r[0] for r in results[(method, n)]]
                med = statistics.median(rates)
                sent = statistics.median(r[1] for r in results[(method, n)])
                runs = results[(method, n)]
                share = {k: statistics.median(r[3][k] for r in runs) for k in runs[0][3]}
                print(f"| {method} | {n} | {max(1, a.cores // n)} | {med:.0f} | {min(rates):.0f}..{max(rates):.0f} | "
                      f"{med / base:.2f} | {sent:.0f} | {share['batch'] + share['forward_backward']:.2f} | "
                      f"{share['exchange']:.2f} | {share['table_update']:.2f} | {share['dense_update']:.2f} |")
            if (method, 2) in results and (method, 4) in results:
                one_rank = results[(method, ranks[0])]
                model_rows.append({"method": method, "rate1": base,
                                   "replicated": statistics.median(replicated(r[3]) for r in one_rank),
                                   "sent2": statistics.median(r[1] for r in results[(method, 2)]),
                                   "sent4": statistics.median(r[1] for r in results[(method, 4)])})
        cost_model(model_rows, a.batch, a.bandwidth_gbit, a.latency_us)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
