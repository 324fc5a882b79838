"""A PyTorch DLRM whose tables are cembed.torch modules (fused: the engine's optimizer runs in
backward) follows the C++ engine's loss curve from the same initial weights and batches
(tests/tools/reference_export), within 1e-4 relative over 50 steps: the reference DLRM of
tools/reference/torch_dlrm.py with its nn.EmbeddingBag tables swapped for cembed's."""
import json
import os
import tempfile
import unittest

import numpy as np
import torch

import common  # noqa: F401  (the built package on sys.path)
import cembed.torch as ct
from common import EXPORT, run
from torch_dlrm import DLRM, load_exported_parameters, loss_fn

STEPS = 50


def cembed_dlrm_losses(d):
    with open(os.path.join(d, "meta.json")) as f:
        meta = json.load(f)
    m, cards, kind, lr = meta["model"], meta["cardinalities"], meta["optimizer"], meta["lr"]
    model = DLRM(m["num_dense"], m["dim"], m["bottom_hidden"], m["top_hidden"], cards, pooling=m["pooling"])
    load_exported_parameters(model, d)  # into the nn.EmbeddingBag tables first, then moved over
    tables = torch.nn.ModuleList()
    for t, n in zip(model.tables, cards):
        bag = ct.EmbeddingBag("full", n, m["dim"], mode=m["pooling"], include_last_offset=True, optimizer=kind, lr=lr,
                              eps=meta["eps"])
        with torch.no_grad():
            bag.block0.copy_(t.weight)  # the engine's own memory
        tables.append(bag)
    model.tables = tables
    dense = list(model.bottom.parameters()) + list(model.top.parameters())
    opt = torch.optim.SGD(dense, lr=lr) if kind == "sgd" else torch.optim.Adagrad(dense, lr=lr, eps=meta["eps"])
    load = lambda name: torch.from_numpy(np.load(os.path.join(d, name)))
    losses = []
    for s in range(meta["steps"]):
        p = f"batch{s}"
        ids = [load(f"{p}_f{f}_ids.npy").to(torch.int64) for f in range(len(cards))]
        offsets = [load(f"{p}_f{f}_offsets.npy").to(torch.int64) for f in range(len(cards))]
        opt.zero_grad()
        loss = loss_fn(model(load(f"{p}_dense.npy"), ids, offsets), load(f"{p}_labels.npy"))
        loss.backward()  # the tables update here
        opt.step()
        losses.append(loss.item())
    return np.array(losses)


class CembedModulesFollowTheEngine(unittest.TestCase):
    def compare(self, optimizer, pooling, lr):
        torch.set_num_threads(1)
        with tempfile.TemporaryDirectory() as d:
            out = run([EXPORT, "trace", "--out", d, "--optimizer", optimizer, "--pooling", pooling,
                       "--steps", str(STEPS), "--lr", str(lr)])
            self.assertEqual(out.returncode, 0, out.stderr)
            ours = np.load(os.path.join(d, "losses.npy"))
            ref = cembed_dlrm_losses(d)
        self.assertEqual(len(ours), STEPS)
        rel = np.abs(ours - ref) / np.abs(ours)
        print(f"{optimizer}/{pooling}: loss {ref[0]:.5f} -> {ref[-1]:.5f}, max relative difference {rel.max():.2e}")
        self.assertLess(rel.max(), 1e-4, f"engine {ours} vs torch with cembed tables {ref}")
        self.assertLess(ref[-10:].mean(), ref[:10].mean())

    def test_sgd_sum(self):
        self.compare("sgd", "sum", 0.1)

    def test_sgd_mean(self):
        self.compare("sgd", "mean", 0.1)

    def test_adagrad(self):
        self.compare("adagrad", "sum", 0.02)

    def test_rowwise_adagrad(self):
        self.compare("rowwise_adagrad", "sum", 0.02)


if __name__ == "__main__":
    unittest.main()
