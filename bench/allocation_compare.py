#!/usr/bin/python3
"""The memory planner's allocation rules side by side on every real sample in ../shared/data:
`cembed sweep` with --allocation uniform and with --allocation frequency (the default), same
model, seeds and ratios, then per data set, method and ratio the mean test AUC of each rule,
their difference and the seeds' spread. Markdown on stdout (docs/results.md).

    /usr/bin/python3 bench/allocation_compare.py [--data ../shared/data] [--only frappe,avazu-9k]
        [--methods hash,qr,lma] [--ratios 4,16,64] [--seeds 1,2]

Datasets are prepared into out/data/<name> (as bench/sweeps.sh does); sweeps go to
out/allocation/<name>/<rule>/ and resume when run again. Model as in bench/sweeps.sh: dim 16,
--bottom 64,16 --top 64,32,1, Adagrad lr 0.01, batch 128, file order, one epoch (ml-100k: three),
features below 20 values full.
"""
import argparse
import json
import math
import os
import subprocess

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
CEMBED = os.path.join(ROOT, "build", "release", "cembed")
DATASETS = {  # name: prepare arguments (paths under --data)
    "frappe": ["--format", "libfm", "--train", "frappe/frappe.validation.libfm", "--test", "frappe/frappe.test.libfm"],
    "ml-100k": ["--format", "csv", "--schema", os.path.join(ROOT, "data", "schemas", "ml-100k.toml"),
                "--train", "ml-100k/ml-100k.inter"],
    "criteo-kaggle-8k": ["--format", "criteo", "--train", "criteo-kaggle-8k/train.csv", "--test",
                         "criteo-kaggle-8k/test.csv"],
    "avazu-9k": ["--format", "avazu", "--train", "avazu-9k/train.csv", "--test", "avazu-9k/test.csv"],
}
MODEL = ["--dim", "16", "--bottom", "64,16", "--top", "64,32,1", "--optimizer", "adagrad", "--lr", "0.01",
         "--batch-size", "128", "--no-shuffle", "--threads", "2", "--small-threshold", "20"]
RULES = ["uniform", "frequency"]


def prepare(name, data):
    out = os.path.join(ROOT, "out", "data", name)
    if not os.path.exists(os.path.join(out, "train.cds")):
        args = [a if not a.endswith((".libfm", ".csv", ".inter")) or os.path.isabs(a) else os.path.join(data, a)
                for a in DATASETS[name]]
        subprocess.run([CEMBED, "prepare", *args, "--out", out], check=True, stdout=subprocess.DEVNULL)
    return out


def sweep(name, d, rule, a):
    out = os.path.join(ROOT, "out", "allocation", name, rule)
    extra = ["--epochs", "3"] if name == "ml-100k" else []
    subprocess.run([CEMBED, "sweep", "--train", os.path.join(d, "train.cds"), "--test", os.path.join(d, "test.cds"),
                    "--methods", a.methods, "--ratios", a.ratios, "--seeds", a.seeds, "--allocation", rule, *MODEL,
                    *extra, "--quiet", "--out", out], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(os.path.join(out, "results.json")) as f:
        return json.load(f)["runs"]


def aucs(runs):
    acc = {}
    for r in runs:
        if r["status"] == "ok":
            acc.setdefault((r["method"], r["ratio"]), []).append(r["test"]["auc"])
    return acc


def mean_sd(v):
    m = sum(v) / len(v)
    return m, math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else 0.0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data"))
    p.add_argument("--only", default=",".join(DATASETS))
    p.add_argument("--methods", default="hash,qr,lma")
    p.add_argument("--ratios", default="4,16,64")
    p.add_argument("--seeds", default="1,2")
    a = p.parse_args()
    print("| data | method | ratio | uniform | frequency | frequency - uniform | verdict |")
    print("|---|---|---:|---:|---:|---:|---|")
    for name in a.only.split(","):
        d = prepare(name, a.data)
        res = {rule: aucs(sweep(name, d, rule, a)) for rule in RULES}
        for key in sorted(res["uniform"].keys() | res["frequency"].keys(), key=lambda k: (k[0], k[1])):
            cells = []
            for rule in RULES:
                v = res[rule].get(key)
                cells.append(mean_sd(v) if v else None)
            u, f = cells
            if key[0] == "full":
                continue
            fmt = lambda c: "—" if c is None else f"{c[0]:.4f} ± {c[1]:.4f}"
            if u and f:
                diff = f[0] - u[0]
                spread = max(u[1], f[1], 1e-4)
                verdict = "better" if diff > spread else "worse" if diff < -spread else "tie"
                ds = f"{diff:+.4f}"
            else:
                ds, verdict = "", "only frequency meets it" if f else "only uniform meets it" if u else ""
            print(f"| {name} | {key[0]} | {key[1]:g}x | {fmt(u)} | {fmt(f)} | {ds} | {verdict} |")


if __name__ == "__main__":
    main()
