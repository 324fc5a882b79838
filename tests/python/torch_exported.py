"""A PyTorch model of an exported fp32 model (.cem): tools/reference/torch_dlrm.py's DLRM
(bottom MLP, dot interaction, top MLP) with each feature's table replaced by its method's
lookup formula (torch_formulas.vectors), every parameter, and robe's, lma's and cce's
positions, read from the file itself (tools/reference/cem_file.py). Used by
bench/inference_vs_torch.py (cembed's inference against PyTorch's) and by
test_inference.py (its scores against cembed's, for every method the bench compares)."""
import torch

from cem_file import CemFile
from torch_dlrm import DLRM
from torch_formulas import pooled, vectors


class FormulaBag(torch.nn.Module):
    """One feature's lookup by its method's formula, pooled over bags (an EmbeddingBag's call)."""

    def __init__(self, spec, blocks, num_values, dim, mode, positions=None):
        super().__init__()
        self.spec, self.blocks, self.num_values, self.dim, self.mode = spec, blocks, num_values, dim, mode
        self.positions = positions

    def forward(self, ids, offsets):
        e = vectors(self.spec, self.blocks, ids, self.num_values, self.dim, self.positions)
        if ids.numel() == offsets.numel():  # one id per bag: the pooled vector is its own
            return e
        return pooled(e, torch.cat([offsets, torch.tensor([ids.numel()])]), None, self.mode)


def torch_model(path):
    """The model of the fp32 export at `path`, in eval mode (call it under torch.no_grad)."""
    cem = CemFile(path)
    m, plan = cem.meta["model"], cem.meta["plan"]
    cards = cem.cardinalities
    model = DLRM(m["num_dense"], m["dim"], m["bottom_hidden"], m["top_hidden"], [1] * len(cards), pooling=m["pooling"])
    with torch.no_grad():
        params = iter(cem.mlp())
        for part in ("bottom", "top"):
            for layer in model.linear_layers(part):
                layer.weight.copy_(torch.from_numpy(next(params)).reshape(layer.weight.shape))
                layer.bias.copy_(torch.from_numpy(next(params)))
    bags = [None] * len(cards)
    for t, pt in enumerate(plan["tables"]):
        blocks = [torch.from_numpy(b) for b in cem.blocks(t)]
        positions = cem.positions(t)
        for i, f in enumerate(pt["features"]):  # a shared array (robe, lma) serves several
            pos = None
            if positions is not None:
                pos = positions[i]
                pos = [torch.from_numpy(p) for p in pos] if isinstance(pos, list) else torch.from_numpy(pos)
            bags[f] = FormulaBag(pt["spec"], blocks, cards[f], m["dim"], m["pooling"], pos)
    model.tables = torch.nn.ModuleList(bags)
    return model.eval()
