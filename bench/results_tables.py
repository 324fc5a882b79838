#!/usr/bin/python3
"""Markdown for docs/results.md from the sweeps of bench/sweeps.sh (out/sweeps/<data>/results.json):
per data set, test AUC (and for ml-100k nDCG@10) of every method at every ratio, mean over seeds
with the seeds' standard deviation, and the checks of the methods' claims.

    /usr/bin/python3 bench/results_tables.py [out/sweeps]
"""
import json
import math
import os
import sys
from collections import defaultdict


def load(path):
    with open(path) as f:
        return json.load(f)["runs"]


def stats(values):
    m = sum(values) / len(values)
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return m, sd


def table(runs, metric):
    """{method: {ratio: (mean, sd, n)}} for status ok; infeasible cells as None."""
    acc = defaultdict(lambda: defaultdict(list))
    infeasible = defaultdict(set)
    for r in runs:
        if r["status"] != "ok":
            infeasible[r["method"]].add(r["ratio"])
            continue
        v = metric(r)
        if v is not None:
            acc[r["method"]][r["ratio"]].append(v)
    out = {}
    for m in list(acc) + [m for m in infeasible if m not in acc]:
        out[m] = {x: stats(v) + (len(v),) for x, v in acc[m].items()}
        for x in infeasible[m]:
            out[m].setdefault(x, None)
    return out


def markdown(tab, digits=4):
    ratios = sorted({x for cells in tab.values() for x in cells})
    lines = ["| method | " + " | ".join(f"{x:g}x" for x in ratios) + " |",
             "|---|" + "---:|" * len(ratios)]
    for m, cells in tab.items():
        row = []
        for x in ratios:
            c = cells.get(x, "")
            if c == "":
                row.append("")
            elif c is None:
                row.append("—")
            else:
                mean, sd, n = c
                row.append(f"{mean:.{digits}f}" + (f" ± {sd:.{digits}f}" if n > 1 else ""))
        lines.append(f"| {m} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def auc(r):
    return r.get("test", {}).get("auc")


def ndcg(r):
    return r.get("ranking", {}).get("ndcg_at_k")


def compare(tab, a, b, label):
    """Ratios where both ran: how often a beats b by more than their seeds' spread."""
    out = []
    for x in sorted(set(tab.get(a, {})) & set(tab.get(b, {}))):
        ca, cb = tab[a][x], tab[b][x]
        if ca is None or cb is None:
            continue
        diff = ca[0] - cb[0]
        if ca[2] < 2 or cb[2] < 2:  # one seed: no spread to judge by
            out.append(f"{x:g}x: {diff:+.4f} (one seed)")
            continue
        noise = math.hypot(ca[1], cb[1])
        verdict = "beats" if diff > noise else "loses to" if -diff > noise else "ties"
        out.append(f"{x:g}x: {verdict} ({diff:+.4f}, seeds' spread {noise:.4f})")
    return f"- {label} ({a} - {b}): " + ("; ".join(out) if out else "no common ratio")


def new_method_checks(tab):
    """hot over each cold method against that method alone; cce against its own tables without
    reclustering, against QR and against LMA; the best seed method at each ratio."""
    checks = [compare(tab, "hot", "hash", "hot/cold hybrid over hashing against the hashing trick"),
              compare(tab, "hot:cold=qr", "qr", "hot/cold hybrid over QR against QR"),
              compare(tab, "hot:cold=lma", "lma", "hot/cold hybrid over LMA against LMA"),
              compare(tab, "cce", "cce:times=0", "CCE against its tables without reclustering"),
              compare(tab, "cce", "hash", "CCE against the hashing trick"),
              compare(tab, "cce", "lma", "CCE against LMA")]
    seeds_methods = ("hash", "qr", "lma")
    for x in sorted({x for cells in tab.values() for x in cells if x != 1.0}):
        cells = {m: tab[m][x] for m in tab if tab[m].get(x)}
        if not cells:
            continue
        best = max(cells, key=lambda m: cells[m][0])
        seed_best = max((m for m in cells if m in seeds_methods), key=lambda m: cells[m][0], default=None)
        line = f"- {x:g}x: best {best} {cells[best][0]:.4f}"
        if seed_best:
            line += f"; best seed method {seed_best} {cells[seed_best][0]:.4f}"
        checks.append(line)
    return checks


def sketch_checks(tab):
    """hot with the sketch against hot with prepare's counts and against its cold method alone."""
    return [compare(tab, "hot:find=sketch", "hot", "sketch against counts, over hashing"),
            compare(tab, "hot:find=sketch", "hash", "sketch over hashing against the hashing trick"),
            compare(tab, "hot", "hash", "counts over hashing against the hashing trick"),
            compare(tab, "hot:cold=qr,find=sketch", "hot:cold=qr", "sketch against counts, over QR"),
            compare(tab, "hot:cold=qr,find=sketch", "qr", "sketch over QR against QR"),
            compare(tab, "hot:cold=qr", "qr", "counts over QR against QR")]


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "out/sweeps"
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name, "results.json")
        if not os.path.exists(path):
            continue
        runs = load(path)
        seeds = sorted({r["seed"] for r in runs})
        print(f"### {name}\n\nTest AUC, mean over seeds {seeds} ± their standard deviation "
              f"(— : the method cannot meet that memory):\n")
        tab = table(runs, auc)
        print(markdown(tab))
        print()
        full = tab.get("full", {}).get(1.0)
        if name.startswith("sketch-"):  # bench/sweeps.sh sketch-*: hot's sketch against its counts
            print("\n".join(sketch_checks(tab)))
            print()
            continue
        if name.startswith("new-"):  # bench/sweeps.sh new-*: the methods after the seeds
            print("\n".join(new_method_checks(tab)))
            print()
            continue
        checks = [compare(tab, "qr", "hash", "QR (mult) against the hashing trick"),
                  compare(tab, "lma", "hash", "LMA against the hashing trick"),
                  compare(tab, "lma", "robe:block=1", "LMA against ROBE-1 (same array, placement by id)"),
                  compare(tab, "lma:signature=context", "lma", "context signatures against row signatures")]
        if full and "lma" in tab and tab["lma"].get(16.0):
            checks.append(f"- LMA at 16x against full tables: {tab['lma'][16.0][0] - full[0]:+.4f} AUC")
        print("\n".join(checks))
        if any("ranking" in r for r in runs):
            rt = table(runs, ndcg)
            print(f"\nRanking nDCG@10 (each user's latest positive among 100 sampled unseen items):\n")
            print(markdown(rt))
            f = rt.get("full", {}).get(1.0)
            if f:
                print("\nRelative nDCG@10 loss against full tables (100 * (full - method) / full):\n")
                lines = []
                for m in ("memcom", "memcom:bias=scalar", "hash", "qr", "lma", "robe"):
                    cells = rt.get(m, {})
                    parts = [f"{x:g}x {100 * (f[0] - c[0]) / f[0]:+.1f}%" for x, c in sorted(cells.items()) if c]
                    lines.append(f"- {m}: " + ", ".join(parts))
                print("\n".join(lines))
        print()


if __name__ == "__main__":
    main()
