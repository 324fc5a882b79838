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

import numpy as np
import torch

import cembed
import cembed.torch as ct


class Mlp(torch.nn.Sequential):
    def __init__(self, sizes, last_relu=True):
        layers = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(torch.nn.Linear(a, b))
            if last_relu or i + 2 < len(sizes):
                layers.append(torch.nn.ReLU())
        super().__init__(*layers)


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


def auc(labels, scores):
    """Area under the ROC curve (ties count half), by ranks."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    s = scores[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    pos = labels > 0.5
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return (ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


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
        train = cembed.Dataset(os.path.join(out, "train.cds"))
        test = cembed.Dataset(os.path.join(out, "test.cds"))
        num_dense = len(train.schema["dense"])
        model = Dlrm(train.features, num_dense, args.dim, args.method, args.compression, lr_tables=0.05)
        print(model.tables.plan)
        dense_opt = torch.optim.Adam([p for p in model.parameters()], lr=1e-3)
        for epoch in range(args.epochs):
            total, n = 0.0, 0
            for labels, dense, values, offsets in ct.batches(train, args.batch, shuffle=True, seed=epoch):
                loss = torch.nn.functional.binary_cross_entropy_with_logits(model(dense, values, offsets), labels)
                dense_opt.zero_grad()
                loss.backward()  # the tables update themselves here (fused row-wise Adagrad)
                dense_opt.step()
                total += float(loss) * len(labels)
                n += len(labels)
            print(f"epoch {epoch + 1}: train log loss {total / n:.4f}")
        scores, labels_all = [], []
        with torch.no_grad():
            for labels, dense, values, offsets in ct.batches(test, 4096):
                scores.append(torch.sigmoid(model(dense, values, offsets)).numpy())
                labels_all.append(labels.numpy())
        test_auc = auc(np.concatenate(labels_all), np.concatenate(scores))
    print(f"embedding parameters {model.tables.parameter_bytes()} bytes, optimizer state "
          f"{model.tables.optimizer_bytes()} bytes")
    print(f"test AUC {test_auc:.4f} ({time.time() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
