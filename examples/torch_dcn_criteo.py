"""A DCN-v2 (deep & cross network, Wang et al. 2021) on the Criteo sample with cembed tables:
quotient-remainder embeddings at 16x less memory than full tables, in a model DLRM cannot
express (a cross network over the concatenated embeddings and dense features, beside a deep
MLP). The tables learn through autograd here: torch.optim.Adam updates everything, tables
included (optimizer=None hands their gradients to torch). Prints the plan and the test AUC.

  PYTHONPATH=build/release/python /usr/bin/python3 examples/torch_dcn_criteo.py \
      [--data ../shared/data/criteo-kaggle-8k] [--method qr] [--compression 16] [--epochs 2]
"""
import argparse
import os
import sys
import tempfile
import time

import torch

import cembed
import cembed.torch as ct
from torch_loop import Mlp, test_auc, train


class CrossLayer(torch.nn.Module):
    """x_{l+1} = x0 * (W x_l + b) + x_l (DCN-v2's full-rank cross layer)."""

    def __init__(self, width):
        super().__init__()
        self.linear = torch.nn.Linear(width, width)

    def forward(self, x0, x):
        return x0 * self.linear(x) + x


class DcnV2(torch.nn.Module):
    def __init__(self, features, num_dense, dim, method, compression, cross_layers=3):
        super().__init__()
        self.tables = ct.EmbeddingBagCollection(features, dim, method=method, compression=compression,
                                                optimizer=None)
        width = len(features) * dim + num_dense
        self.cross = torch.nn.ModuleList(CrossLayer(width) for _ in range(cross_layers))
        self.deep = Mlp([width, 256, 128])
        self.head = torch.nn.Linear(width + 128, 1)

    def forward(self, dense, values, offsets):
        x0 = torch.cat([dense, self.tables(values, offsets).flatten(1)], dim=1)
        x = x0
        for layer in self.cross:
            x = layer(x0, x)
        return self.head(torch.cat([x, self.deep(x0)], dim=1))[:, 0]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=os.path.join(here, "..", "..", "shared", "data", "criteo-kaggle-8k"))
    p.add_argument("--method", default="qr")
    p.add_argument("--compression", type=float, default=16)
    p.add_argument("--dim", type=int, default=16)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.manual_seed(1)
    torch.set_num_threads(args.threads)
    cembed.set_num_threads(args.threads)
    start = time.time()
    with tempfile.TemporaryDirectory() as out:
        cembed.prepare("criteo", [os.path.join(args.data, "train.csv")], out,
                       valid_files=[os.path.join(args.data, "dev.csv")],
                       test_files=[os.path.join(args.data, "test.csv")])
        train_set = cembed.Dataset(os.path.join(out, "train.cds"))
        test_set = cembed.Dataset(os.path.join(out, "test.cds"))
        model = DcnV2(train_set.features, len(train_set.schema["dense"]), args.dim, args.method, args.compression)
        print(model.tables.plan)
        # optimizer=None: the tables' gradients go to torch, and Adam updates them with the MLPs.
        train(model, torch.optim.Adam(model.parameters(), lr=1e-3), train_set, args.batch, args.epochs)
        auc = test_auc(model, test_set)
    print(f"embedding parameters {model.tables.parameter_bytes()} bytes "
          f"({model.tables.plan.full_bytes() / model.tables.parameter_bytes():.1f}x less than full)")
    print(f"test AUC {auc:.4f} ({time.time() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
