"""A PyTorch DLRM whose tables are cembed.torch modules (fused: the engine's optimizer runs in
backward) follows the C++ engine's loss curve from the same initial weights and batches
(tests/tools/reference_export), within 1e-4 relative over 50 steps: the reference DLRM of
tools/reference/torch_dlrm.py with its nn.EmbeddingBag tables swapped for cembed's."""
import unittest

import torch

import common  # noqa: F401  (the built package on sys.path)
import cembed.torch as ct
from torch_dlrm import DLRM, load_exported_parameters
from trace_replay import FollowsTheEngine, replay, trace_meta


def cembed_dlrm_losses(d):
    meta = trace_meta(d)
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
    return replay(d, meta, model, [opt])


class CembedModulesFollowTheEngine(FollowsTheEngine, unittest.TestCase):
    name = "torch with cembed tables"

    def reference_losses(self, d):
        return cembed_dlrm_losses(d)


if __name__ == "__main__":
    unittest.main()
