"""A PyTorch DLRM of the same architecture, started from cembed's initial weights and fed
the same batches, gives the same losses within 1e-4 relative for 50 steps."""
import unittest

import common  # noqa: F401  (tools/reference on sys.path)

from torch_dlrm import DLRM, load_exported_parameters, make_optimizers
from trace_replay import FollowsTheEngine, replay, trace_meta


def torch_losses(d):
    meta = trace_meta(d)
    m = meta["model"]
    model = DLRM(m["num_dense"], m["dim"], m["bottom_hidden"], m["top_hidden"], meta["cardinalities"],
                 pooling=m["pooling"])
    load_exported_parameters(model, d)
    return replay(d, meta, model, make_optimizers(model, meta["optimizer"], meta["lr"], meta["eps"]))


class TorchReference(FollowsTheEngine, unittest.TestCase):
    name = "torch"

    def reference_losses(self, d):
        return torch_losses(d)


if __name__ == "__main__":
    unittest.main()
