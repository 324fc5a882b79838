"""A PyTorch DLRM with the same architecture as cembed's, used as the reference in tests
and benchmarks. Runs on /usr/bin/python3 with Debian's python3-torch.

Architecture (as dlrm_s_pytorch.py): bottom MLP with ReLU after every layer; one
EmbeddingBag per feature (sum or mean); dot interaction of [x, e_1..e_F] keeping the pairs
(i, j) with j < i in row order; top MLP with ReLU after all but the last layer; BCE with
logits, mean over the batch.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def mlp(sizes, relu_last):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes) or relu_last:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class DLRM(nn.Module):
    def __init__(self, num_dense, dim, bottom_hidden, top_hidden, cardinalities, pooling="sum", sparse=True):
        super().__init__()
        self.dim = dim
        self.bottom = mlp([num_dense] + list(bottom_hidden) + [dim], relu_last=True)
        self.tables = nn.ModuleList(
            [nn.EmbeddingBag(n, dim, mode=pooling, sparse=sparse, include_last_offset=True) for n in cardinalities]
        )
        v = len(cardinalities) + 1
        self.top = mlp([dim + v * (v - 1) // 2] + list(top_hidden) + [1], relu_last=False)
        li, lj = zip(*[(i, j) for i in range(v) for j in range(i)])
        self.register_buffer("li", torch.tensor(li))
        self.register_buffer("lj", torch.tensor(lj))

    def forward(self, dense, ids, offsets):
        x = self.bottom(dense)
        embedded = [t(i, o) for t, i, o in zip(self.tables, ids, offsets)]
        t = torch.cat([x] + embedded, dim=1).view(dense.shape[0], -1, self.dim)
        z = torch.bmm(t, t.transpose(1, 2))[:, self.li, self.lj]
        return self.top(torch.cat([x, z], dim=1)).squeeze(1)

    def linear_layers(self, part):
        return [m for m in getattr(self, part) if isinstance(m, nn.Linear)]


def load_exported_parameters(model, directory):
    """Copies parameters written by cembed (export_dlrm_parameters: bottom_w0.npy, ...,
    table0.npy, ...) into `model`."""
    import os

    import numpy as np

    def load(name):
        return torch.from_numpy(np.load(os.path.join(directory, name)))

    with torch.no_grad():
        for part in ("bottom", "top"):
            for l, layer in enumerate(model.linear_layers(part)):
                layer.weight.copy_(load(f"{part}_w{l}.npy"))
                layer.bias.copy_(load(f"{part}_b{l}.npy"))
        for f, t in enumerate(model.tables):
            t.weight.copy_(load(f"table{f}.npy"))


def loss_fn(logits, labels):
    return F.binary_cross_entropy_with_logits(logits, labels)


class RowwiseAdagrad:
    """Row-wise Adagrad for sparse embedding gradients: one accumulator per row,
    s_row += mean(g_row^2); w_row -= lr * g_row / (sqrt(s_row) + eps)."""

    def __init__(self, tables, lr, eps=1e-10):
        self.tables, self.lr, self.eps = tables, lr, eps
        self.state = [torch.zeros(t.weight.shape[0]) for t in tables]

    @torch.no_grad()
    def step(self):
        for t, s in zip(self.tables, self.state):
            g = t.weight.grad.coalesce()
            rows, values = g.indices()[0], g.values()
            s[rows] += values.pow(2).mean(dim=1)
            t.weight[rows] -= self.lr * values / (s[rows].sqrt() + self.eps).unsqueeze(1)

    def zero_grad(self):
        for t in self.tables:
            t.weight.grad = None


def make_optimizers(model, kind, lr, eps=1e-10):
    """Dense and sparse optimizers matching cembed's rules (see include/cembed/optimizer.h)."""
    dense = list(model.bottom.parameters()) + list(model.top.parameters())
    tables = [t.weight for t in model.tables]
    if kind == "sgd":
        return [torch.optim.SGD(dense, lr=lr), torch.optim.SGD(tables, lr=lr)]
    if kind == "adagrad":
        return [torch.optim.Adagrad(dense, lr=lr, eps=eps), torch.optim.Adagrad(tables, lr=lr, eps=eps)]
    if kind == "rowwise_adagrad":
        return [torch.optim.Adagrad(dense, lr=lr, eps=eps), RowwiseAdagrad(list(model.tables), lr, eps)]
    raise ValueError(f"unknown optimizer {kind}")
