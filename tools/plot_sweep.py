#!/usr/bin/python3
"""Plots of a `cembed sweep` (matplotlib, from Debian's python3-matplotlib):

  auc_vs_bytes.{png,svg}      test AUC against embedding parameter bytes, one line per method,
                              with the Pareto front (best AUC at or below each memory) in black
  logloss_vs_bytes.{png,svg}  the same for log loss (lower is better)
  training_curves.{png,svg}   training loss against step, one panel per ratio

    /usr/bin/python3 tools/plot_sweep.py OUT_DIR
"""
import json
import os
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def metric(run, name):
    for split in ("test", "valid"):
        if split in run:
            return run[split][name]
    return None


def mean(values):
    return sum(values) / len(values)


def grouped(runs, name):
    """method -> sorted [(bytes, mean metric)] over seeds."""
    acc = defaultdict(lambda: defaultdict(list))
    for r in runs:
        if r["status"] != "ok" or metric(r, name) is None:
            continue
        acc[r["method"]][r["parameter_bytes"]].append(metric(r, name))
    return {m: sorted((b, mean(v)) for b, v in by_bytes.items()) for m, by_bytes in acc.items()}


def pareto(points, higher_is_better):
    front, best = [], None
    for b, v in sorted(points):
        if best is None or (v > best if higher_is_better else v < best):
            best = v
            front.append((b, v))
    return front


def plot_metric(runs, name, label, higher_is_better, out_dir, stem):
    lines = grouped(runs, name)
    fig, ax = plt.subplots(figsize=(10, 5.5))
    markers = "osD^v<>pPX*h"
    for i, (method, pts) in enumerate(lines.items()):
        xs, ys = zip(*pts)
        if method.split(":")[0] == "full":
            ax.axhline(ys[0], color="grey", linestyle="--", linewidth=1, label=f"{method} ({xs[0] / 2**20:.1f} MiB)")
            ax.plot(xs, ys, "k*", markersize=10)
        else:
            ax.plot(xs, ys, "-", marker=markers[i % len(markers)], color=plt.cm.tab20(i % 20), label=method,
                    markersize=4, linewidth=1.2)
    front = pareto([p for pts in lines.values() for p in pts], higher_is_better)
    if front:
        fx, fy = zip(*front)
        ax.step(fx, fy, where="post", color="black", linewidth=1.5, alpha=0.6, label="Pareto front")
    ax.set_xscale("log")
    ax.set_xlabel("embedding parameter bytes")
    ax.set_ylabel(label)
    ax.set_title(f"{label} against embedding memory")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    for ext in ("png", "svg"):
        fig.savefig(os.path.join(out_dir, f"{stem}.{ext}"), dpi=100)
    plt.close(fig)


def plot_curves(runs, out_dir):
    ratios = sorted({r["ratio"] for r in runs if r["status"] == "ok" and r["method"].split(":")[0] != "full"})
    if not ratios:
        ratios = [1.0]
    fig, axes = plt.subplots(1, len(ratios), figsize=(4.5 * len(ratios), 4), squeeze=False, sharey=True)
    full = [r for r in runs if r["status"] == "ok" and r["method"].split(":")[0] == "full"]
    for ax, ratio in zip(axes[0], ratios):
        for r in full + [r for r in runs if r["status"] == "ok" and r["ratio"] == ratio and r not in full]:
            if r["seed"] != runs[0]["seed"] or not r.get("curve"):
                continue
            steps = [p["step"] for p in r["curve"]]
            losses = [p["loss"] for p in r["curve"]]
            if r in full:
                ax.plot(steps, losses, "k--", label=r["method"], linewidth=1)
            else:
                ax.plot(steps, losses, "-", label=r["method"], linewidth=1, color=plt.cm.tab20(len(ax.lines) % 20))
        ax.set_title(f"{ratio:g}x less memory")
        ax.set_xlabel("step")
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel("training loss (mean over the curve interval)")
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    for ext in ("png", "svg"):
        fig.savefig(os.path.join(out_dir, f"training_curves.{ext}"), dpi=120)
    plt.close(fig)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out_dir = sys.argv[1]
    with open(os.path.join(out_dir, "results.json")) as f:
        runs = json.load(f)["runs"]
    plot_metric(runs, "auc", "test AUC", True, out_dir, "auc_vs_bytes")
    plot_metric(runs, "logloss", "test log loss", False, out_dir, "logloss_vs_bytes")
    plot_curves(runs, out_dir)
    print(f"plots: {out_dir}/auc_vs_bytes.png (.svg), {out_dir}/logloss_vs_bytes.png, {out_dir}/training_curves.png")


if __name__ == "__main__":
    main()
