"""A PyTorch DLRM of the same architecture, started from cembed's initial weights and fed
the same batches, gives the same losses within 1e-4 relative for 50 steps."""
import json
import os
import tempfile
import unittest

import numpy as np
import torch

from common import EXPORT, run
from torch_dlrm import DLRM, load_exported_parameters, loss_fn, make_optimizers

STEPS = 50


def torch_losses(d):
    with open(os.path.join(d, "meta.json")) as f:
        meta = json.load(f)
    m = meta["model"]
    cards = meta["cardinalities"]
    model = DLRM(m["num_dense"], m["dim"], m["bottom_hidden"], m["top_hidden"], cards, pooling=m["pooling"])
    load = lambda name: torch.from_numpy(np.load(os.path.join(d, name)))
    load_exported_parameters(model, d)
    opts = make_optimizers(model, meta["optimizer"], meta["lr"], meta["eps"])
    losses = []
    for s in range(meta["steps"]):
        p = f"batch{s}"
        ids = [load(f"{p}_f{f}_ids.npy") for f in range(len(cards))]
        offsets = [load(f"{p}_f{f}_offsets.npy") for f in range(len(cards))]
        for o in opts:
            o.zero_grad()
        loss = loss_fn(model(load(f"{p}_dense.npy"), ids, offsets), load(f"{p}_labels.npy"))
        loss.backward()
        for o in opts:
            o.step()
        losses.append(loss.item())
    return np.array(losses)


class TorchReference(unittest.TestCase):
    def compare(self, optimizer, pooling, lr):
        torch.set_num_threads(1)
        with tempfile.TemporaryDirectory() as d:
            out = run([EXPORT, "trace", "--out", d, "--optimizer", optimizer, "--pooling", pooling,
                       "--steps", str(STEPS), "--lr", str(lr)])
            self.assertEqual(out.returncode, 0, out.stderr)
            ours = np.load(os.path.join(d, "losses.npy"))
            ref = torch_losses(d)
        self.assertEqual(len(ours), STEPS)
        rel = np.abs(ours - ref) / np.abs(ref)
        print(f"{optimizer}/{pooling}: loss {ref[0]:.5f} -> {ref[-1]:.5f}, max relative difference {rel.max():.2e}")
        self.assertLess(rel.max(), 1e-4, f"cembed {ours} vs torch {ref}")
        self.assertLess(ref[-10:].mean(), ref[:10].mean())  # it learned something

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
