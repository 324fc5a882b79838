#!/usr/bin/python3
"""DLRM with full tables on the real samples in ../shared/data: cembed beside the PyTorch
reference (tools/reference/torch_dlrm.py) started from cembed's initial weights and fed the
same batches (file order), on the same split. Prints a Markdown table for docs/results.md.

    /usr/bin/python3 bench/real_data_results.py [--data ../shared/data] [--epochs 1]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from sklearn.metrics import log_loss, roc_auc_score

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "reference"))
from cds import Dataset  # noqa: E402
from torch_dlrm import DLRM, load_exported_parameters, loss_fn, make_optimizers  # noqa: E402

CEMBED = os.path.join(ROOT, "build", "release", "cembed")

# name: (format, train, test) — frappe trains on its validation split (no train split here).
DATASETS = {
    "criteo-kaggle-8k": ("criteo", "criteo-kaggle-8k/train.csv", "criteo-kaggle-8k/test.csv"),
    "avazu-9k": ("avazu", "avazu-9k/train.csv", "avazu-9k/test.csv"),
    "frappe": ("libfm", "frappe/frappe.validation.libfm", "frappe/frappe.test.libfm"),
    # click = rating >= 4; each user's latest rating is the test set (data/schemas/ml-100k.toml)
    "ml-100k": ("csv", "ml-100k/ml-100k.inter", None),
}
SCHEMAS = {"ml-100k": os.path.join(ROOT, "data", "schemas", "ml-100k.toml")}
# Hidden sizes (the PyTorch reference's arguments); the CLI takes every layer (TorchRec's
# convention): the bottom list ends with dim, the top list with 1.
MODEL = {"dim": 16, "bottom": [64], "top": [64, 32], "optimizer": "adagrad", "lr": 0.01, "batch": 128}


def run_cembed(d, epochs):
    init = os.path.join(d, "init")
    report = os.path.join(d, "report.json")
    m = MODEL
    subprocess.run([CEMBED, "train", "--train", os.path.join(d, "train.cds"), "--test", os.path.join(d, "test.cds"),
                    "--embedding", "full", "--dim", str(m["dim"]), "--bottom", ",".join(map(str, m["bottom"] + [m["dim"]])),
                    "--top", ",".join(map(str, m["top"] + [1])), "--optimizer", m["optimizer"], "--lr", str(m["lr"]),
                    "--batch-size", str(m["batch"]), "--epochs", str(epochs), "--no-shuffle", "--threads", "2",
                    "--export-initial", init, "--report", report, "--quiet"], check=True, stdout=subprocess.DEVNULL)
    with open(report) as f:
        return json.load(f), init


def run_torch(d, init, epochs):
    torch.set_num_threads(2)
    m = MODEL
    train, test = Dataset(os.path.join(d, "train.cds")), Dataset(os.path.join(d, "test.cds"))
    model = DLRM(train.dense.shape[1], m["dim"], m["bottom"], m["top"], train.cardinalities)
    load_exported_parameters(model, init)
    opts = make_optimizers(model, m["optimizer"], m["lr"])

    def tensors(data, rows):
        dense, labels, ids, offsets = data.batch(rows)
        return (torch.from_numpy(np.array(dense)), torch.from_numpy(np.array(labels)),
                [torch.from_numpy(i) for i in ids], [torch.from_numpy(o) for o in offsets])

    for _ in range(epochs):
        for first in range(0, train.rows, m["batch"]):
            dense, labels, ids, offsets = tensors(train, np.arange(first, min(first + m["batch"], train.rows)))
            for o in opts:
                o.zero_grad()
            loss_fn(model(dense, ids, offsets), labels).backward()
            for o in opts:
                o.step()
    with torch.no_grad():
        dense, labels, ids, offsets = tensors(test, np.arange(test.rows))
        p = torch.sigmoid(model(dense, ids, offsets)).numpy().astype(np.float64)
    y = np.array(test.labels)
    return roc_auc_score(y, p), log_loss(y, np.clip(p, 1e-7, 1 - 1e-7))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.path.join(os.path.dirname(ROOT), "shared", "data"))
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--json", help="write the rows as JSON here")
    args = ap.parse_args()
    rows = []
    print(f"DLRM, full tables, dim {MODEL['dim']}, bottom {MODEL['bottom']}, top {MODEL['top']}, "
          f"{MODEL['optimizer']} lr {MODEL['lr']}, batch {MODEL['batch']}, {args.epochs} epoch(s), file order\n")
    print("| data | train rows | test rows | features | cembed AUC | PyTorch AUC | cembed log loss | PyTorch log loss |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, (fmt, train, test) in DATASETS.items():
        with tempfile.TemporaryDirectory() as d:
            cmd = [CEMBED, "prepare", "--format", fmt, "--train", os.path.join(args.data, train), "--out", d]
            cmd += ["--schema", SCHEMAS[name]] if fmt == "csv" else ["--test", os.path.join(args.data, test)]
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            report, init = run_cembed(d, args.epochs)
            auc, ll = run_torch(d, init, args.epochs)
        r = {"data": name, "train_rows": report["train"]["rows"], "test_rows": report["test"]["rows"],
             "features": len(report["plan"]["features"]), "cembed_auc": report["test"]["auc"], "torch_auc": auc,
             "cembed_logloss": report["test"]["logloss"], "torch_logloss": ll}
        rows.append(r)
        print(f"| {name} | {r['train_rows']} | {r['test_rows']} | {r['features']} | {r['cembed_auc']:.4f} | "
              f"{auc:.4f} | {r['cembed_logloss']:.4f} | {ll:.4f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
