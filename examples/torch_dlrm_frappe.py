"""A PyTorch DLRM whose embedding tables are cembed's, trained on Frappe (docs/python.md).

The tables (one per field, QR at 4x less memory than full tables by default) update
themselves in backward with row-wise Adagrad (fused); the MLPs are ordinary torch modules
trained by torch.optim.Adam. Prints the plan, the loss per epoch and the test AUC.

  PYTHONPATH=build/release/python /usr/bin/python3 examples/torch_dlrm_frappe.py \
      [--data ../shared/data/frappe] [--method qr] [--compression 4] [--epochs 3]
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


class Dlrm(torch.nn.Module):
    """Embeddings (cembed), pairwise dot interaction, top MLP; a bottom MLP when there are
    dense features."""

    def __init__(self, features, num_dense, dim, method, compression, lr_tables):
        super().__init__()
        self.tables = ct.EmbeddingBagCollection(features, dim, method=method, compression=compression,
                                                optimizer="rowwise_adagrad", lr=lr_tables)
        self.bottom = Mlp([num_dense, 64, dim]) if num_dense else None
        vectors = len(features) + (1 if num_dense else 0)
        self.pairs = torch.triu_indices(vectors, vectors, offset=1)
        self.top = Mlp([vectors * (vectors - 1) // 2 + (dim if num_dense else 0), 128, 64, 1], last_relu=False)

    def forward(self, dense, values, offsets):
        t = self.tables(values, offsets)  # B x F x dim
        parts = []
        if self.bottom is not None:
            x = self.bottom(dense)
            t = torch.cat([x[:, None, :], t], dim=1)
            parts.append(x)
        dots = torch.bmm(t, t.transpose(1, 2))[:, self.pairs[0], self.pairs[1]]
        return self.top(torch.cat(parts + [dots], dim=1))[:, 0]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=os.path.join(here, "..", "..", "shared", "data", "frappe"))
    p.add_argument("--method", default="qr")
    p.add_argument("--compression", type=float, default=4)
    p.add_argument("--dim", type=int, default=16)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.manual_seed(1)
    torch.set_num_threads(args.threads)
    cembed.set_num_threads(args.threads)
    start = time.time()
    with tempfile.TemporaryDirectory() as out:
        cembed.prepare("libfm", [os.path.join(args.data, "frappe.validation.libfm")], out,
                       test_files=[os.path.join(args.data, "frappe.test.libfm")])
        train_set = cembed.Dataset(os.path.join(out, "train.cds"))
        test_set = cembed.Dataset(os.path.join(out, "test.cds"))
        num_dense = len(train_set.schema["dense"])
        model = Dlrm(train_set.features, num_dense, args.dim, args.method, args.compression, lr_tables=0.05)
        print(model.tables.plan)
        # The tables update themselves inside backward (fused row-wise Adagrad); Adam the MLPs.
        train(model, torch.optim.Adam(model.parameters(), lr=1e-3), train_set, args.batch, args.epochs)
        auc = test_auc(model, test_set)
    print(f"embedding parameters {model.tables.parameter_bytes()} bytes, optimizer state "
          f"{model.tables.optimizer_bytes()} bytes")
    print(f"test AUC {auc:.4f} ({time.time() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
