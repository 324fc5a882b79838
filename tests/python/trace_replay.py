"""Replays a training trace that the engine wrote (tests/tools/reference_export `trace`: its
initial weights, batches and losses) through a PyTorch model, and the test case both
comparisons share: the losses within 1e-4 relative over STEPS steps, and falling."""
import json
import os
import tempfile

import numpy as np
import torch

from common import EXPORT, run
from torch_dlrm import loss_fn

STEPS = 50


def trace_meta(d):
    with open(os.path.join(d, "meta.json")) as f:
        return json.load(f)


def replay(d, meta, model, optimizers):
    """The loss of each step of the trace in folder d, training `model` with `optimizers`."""
    load = lambda name: torch.from_numpy(np.load(os.path.join(d, name)))
    features = len(meta["cardinalities"])
    losses = []
    for s in range(meta["steps"]):
        p = f"batch{s}"
        ids = [load(f"{p}_f{f}_ids.npy").to(torch.int64) for f in range(features)]
        offsets = [load(f"{p}_f{f}_offsets.npy").to(torch.int64) for f in range(features)]
        for o in optimizers:
            o.zero_grad()
        loss = loss_fn(model(load(f"{p}_dense.npy"), ids, offsets), load(f"{p}_labels.npy"))
        loss.backward()
        for o in optimizers:
            o.step()
        losses.append(loss.item())
    return np.array(losses)


class FollowsTheEngine:
    """Mixed into a unittest.TestCase that defines reference_losses(folder) and `name`."""

    def compare(self, optimizer, pooling, lr):
        torch.set_num_threads(1)
        with tempfile.TemporaryDirectory() as d:
            out = run([EXPORT, "trace", "--out", d, "--optimizer", optimizer, "--pooling", pooling,
                       "--steps", str(STEPS), "--lr", str(lr)])
            self.assertEqual(out.returncode, 0, out.stderr)
            ours = np.load(os.path.join(d, "losses.npy"))
            ref = self.reference_losses(d)
        self.assertEqual(len(ours), STEPS)
        rel = np.abs(ours - ref) / np.abs(ref)
        print(f"{optimizer}/{pooling}: loss {ref[0]:.5f} -> {ref[-1]:.5f}, max relative difference {rel.max():.2e}")
        self.assertLess(rel.max(), 1e-4, f"cembed {ours} vs {self.name} {ref}")
        self.assertLess(ref[-10:].mean(), ref[:10].mean())  # it learned something

    def test_sgd_sum(self):
        self.compare("sgd", "sum", 0.1)

    def test_sgd_mean(self):
        self.compare("sgd", "mean", 0.1)

    def test_adagrad(self):
        self.compare("adagrad", "sum", 0.02)

    def test_rowwise_adagrad(self):
        self.compare("rowwise_adagrad", "sum", 0.02)
