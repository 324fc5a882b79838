#!/usr/bin/python3
"""cembed.torch.EmbeddingBagCollection (fused update in backward) against PyTorch's own
tables, same shapes, same process, interleaved: 26 tables x 1M rows x dim 16, batch 2048
one-hot, 2 threads (DLRM's Criteo-Kaggle table shape).

  A  cembed: EmbeddingBagCollection(method="full", optimizer=sgd|adagrad): forward, backward
     (the fused update runs inside it)
  B  PyTorch: 26 nn.EmbeddingBag(sparse=True) + torch.optim.SGD | Adagrad: forward, backward,
     step, zero_grad

Prints lookups/s of each, per repeat the ratio A/B, and the median and range of the ratios,
for forward + backward + update and for forward alone (no_grad).

  PYTHONPATH=build/release/python /usr/bin/python3 bench/torch_tables_vs_nn.py [--repeats 5] [--steps 20]
"""
import argparse
import statistics
import sys
import time

import numpy as np
import torch

import cembed
import cembed.torch as ct


def batches(rng, count, tables, rows, batch):
    out = []
    for _ in range(count):
        ids = [torch.from_numpy(rng.integers(0, rows, batch)) for _ in range(tables)]
        out.append(ids)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tables", type=int, default=26)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--dim", type=int, default=16)
    p.add_argument("--batch", type=int, default=2048)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--optimizers", default="sgd,adagrad")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    cembed.set_num_threads(args.threads)
    rng = np.random.default_rng(1)
    T, B, D = args.tables, args.batch, args.dim
    data = batches(rng, args.steps, T, args.rows, B)
    keyed = [(torch.cat(ids), torch.arange(0, T * B + 1, dtype=torch.int64)) for ids in data]
    per_table_offsets = torch.arange(0, B, dtype=torch.int64)
    grad = torch.from_numpy(rng.standard_normal((B, T, D)).astype(np.float32))
    lookups = T * B * args.steps
    print(f"{T} tables x {args.rows} rows x dim {D}, batch {B} one-hot, {args.threads} threads, "
          f"{args.steps} steps per timing, {args.repeats} interleaved repeats")

    for opt_name in args.optimizers.split(","):
        ebc = ct.EmbeddingBagCollection({f"t{i}": args.rows for i in range(T)}, D, method="full",
                                        optimizer=opt_name, lr=0.01)
        bags = torch.nn.ModuleList(torch.nn.EmbeddingBag(args.rows, D, mode="sum", sparse=True) for _ in range(T))
        opt = (torch.optim.SGD if opt_name == "sgd" else torch.optim.Adagrad)(bags.parameters(), lr=0.01)

        def cembed_train():
            for values, offsets in keyed:
                ebc(values, offsets).backward(grad)

        def torch_train():
            for ids in data:
                out = torch.stack([bag(i, per_table_offsets) for bag, i in zip(bags, ids)], dim=1)
                out.backward(grad)
                opt.step()
                opt.zero_grad()

        @torch.no_grad()
        def cembed_forward():
            for values, offsets in keyed:
                ebc(values, offsets)

        @torch.no_grad()
        def torch_forward():
            for ids in data:
                torch.stack([bag(i, per_table_offsets) for bag, i in zip(bags, ids)], dim=1)

        for label, a, b in (("forward + backward + update", cembed_train, torch_train),
                            ("forward only", cembed_forward, torch_forward)):
            a()  # warm-up (first touch of pages, optimizer state)
            b()
            ratios = []
            for r in range(args.repeats):
                t0 = time.perf_counter()
                a()
                t1 = time.perf_counter()
                b()
                t2 = time.perf_counter()
                ra, rb = lookups / (t1 - t0), lookups / (t2 - t1)
                ratios.append(ra / rb)
                print(f"  {opt_name:8s} {label:28s} repeat {r + 1}: cembed {ra / 1e6:7.2f} M lookups/s, "
                      f"torch {rb / 1e6:7.2f} M lookups/s, ratio {ra / rb:5.2f}")
            print(f"{opt_name:8s} {label:28s} ratio cembed/torch: median {statistics.median(ratios):.2f} "
                  f"(range {min(ratios):.2f} - {max(ratios):.2f}, {args.repeats} repeats)")
        del ebc, bags, opt
    return 0


if __name__ == "__main__":
    sys.exit(main())
