"""cembed tables as PyTorch modules (CPU): EmbeddingBag and EmbeddingBagCollection.

Both run the C++ engine's tables through a torch.autograd.Function, in one of two modes:

  fused (optimizer="sgd" | "adagrad" | "rowwise_adagrad"): backward applies the table's own
      optimizer in place, as `cembed train` does (and FBGEMM's fused optimizers); the module
      has no torch parameters, its weights are buffers. Set `module.lr` to change the rate.
  autograd (optimizer=None): the weights are torch Parameters (views of the table's memory,
      no copies) and backward hands their gradients to autograd, for any torch optimizer.

Ids and offsets may be int64 (torch's default) or int32 (uint32 numpy arrays too); weights and
gradients float32. Tensors must be on the CPU. docs/python.md has the details.
"""

import io

import numpy as np
import torch

from . import _cembed
from . import Collection, Error, Signatures, Table  # noqa: F401

_FUSED = ("sgd", "adagrad", "rowwise_adagrad")


def _cpu_numpy(t, name, floating=False):
    """A numpy view of CPU tensor `t` (no copy); TypeError for another device or dtype."""
    if t is None:
        return None
    if isinstance(t, np.ndarray):
        return t
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name}: expected a tensor, got {type(t).__name__}")
    if t.device.type != "cpu":
        raise TypeError(f"{name}: tensor on {t.device}; cembed tables run on the CPU (move it with .cpu())")
    if floating and t.dtype != torch.float32:
        raise TypeError(f"{name}: expected float32, got {t.dtype}")
    if not floating and t.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"{name}: expected int64 or int32 ids, got {t.dtype}")
    return t.detach().numpy()


def _fixed_length_bags(inp, offsets, name="input"):
    """nn.EmbeddingBag's 2-D input (B bags of L ids, offsets None) as 1-D ids + offsets."""
    if isinstance(inp, torch.Tensor) and inp.dim() == 2:
        if offsets is not None:
            raise ValueError(f"{name}: offsets must be None for a 2-D input (B bags of equal length)")
        b, length = inp.shape
        return inp.reshape(-1), torch.arange(0, b * length, length, dtype=torch.int64), False
    if offsets is None:
        raise ValueError(f"{name}: offsets are required for a 1-D input")
    return inp, offsets, None


class _Lookup(torch.autograd.Function):
    """forward: pooled vectors from the engine; backward: the fused update (no gradient to
    return) or the gradients of the module's parameters (autograd mode)."""

    @staticmethod
    def forward(ctx, module, last, values, offsets, weights, *params):
        out = module._engine_forward(values, offsets, weights, last)
        ctx.module, ctx.last = module, last
        ctx.save_for_backward(values, offsets, weights if weights is not None else torch.empty(0))
        ctx.has_weights = weights is not None
        return torch.from_numpy(out)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        module = ctx.module
        values, offsets, weights = ctx.saved_tensors
        grads = module._engine_backward(values, offsets, weights if ctx.has_weights else None,
                                        grad_out.contiguous(), ctx.last)
        return (None, None, None, None, None, *grads)


class _TableModule(torch.nn.Module):
    """What EmbeddingBag and EmbeddingBagCollection share: mode, blocks, bytes, state."""

    def _setup(self, optimizer, lr, eps, initial_accumulator, seed):
        if optimizer is not None and optimizer not in _FUSED:
            raise ValueError(f"optimizer: '{optimizer}' is not a fused optimizer ({', '.join(_FUSED)}) "
                             "or None (autograd: gradients for a torch optimizer)")
        self.fused = optimizer is not None
        self.optimizer = optimizer
        self.lr = lr
        self._engine.init(seed)
        self._engine.set_optimizer(optimizer if self.fused else "gradient", eps, initial_accumulator)
        self._views = []  # (weights, state) numpy views of every parameter matrix, in order
        for blocks in self._engine_blocks():
            self._views.extend(blocks)
        self._names = [f"block{i}" for i in range(len(self._views))]
        for name, (w, _) in zip(self._names, self._views):
            tensor = torch.from_numpy(w)
            if self.fused:
                self.register_buffer(name, tensor)
            else:
                self.register_parameter(name, torch.nn.Parameter(tensor))
        # A fused module has no parameters: this input makes autograd call its backward.
        self._anchor = torch.empty(0, requires_grad=True)

    def _check_views(self):
        for name, (w, _) in zip(self._names, self._views):
            t = getattr(self, name)
            if t.data_ptr() != w.ctypes.data or t.dtype != torch.float32:
                raise RuntimeError(f"{name}: the module's weights were moved or converted (cembed tables are CPU "
                                   "float32 and live in the engine's memory; do not call .to(), .double(), .cuda())")

    def _params_for_autograd(self):
        if self.fused:
            return (self._anchor,)
        return tuple(getattr(self, n) for n in self._names)

    def _engine_backward(self, values, offsets, weights, grad, last):
        g = grad.numpy()
        if self.fused:
            self._backward(values, offsets, weights, g, last, self.lr)
            return (None,)
        for _, state in self._views:
            state.fill(0.0)
        self._backward(values, offsets, weights, g, last, 1.0)
        return tuple(torch.from_numpy(state.copy()) for _, state in self._views)

    def parameter_bytes(self):
        """Exact bytes of the tables' trainable parameters."""
        return self._engine.parameter_bytes()

    def optimizer_bytes(self):
        """Exact bytes of the fused optimizer's state (autograd mode: the gradient buffers;
        a torch optimizer keeps its own state besides)."""
        return self._engine.optimizer_bytes()

    # The table's own serialisation (spec, weights, optimizer state, LMA blocks) rides in the
    # state dict, so that a load is checked against the spec and restores the optimizer.
    def get_extra_state(self):
        return {"engine_state": self._engine.state_bytes(), "optimizer": self.optimizer, "lr": self.lr}

    def set_extra_state(self, state):
        self._engine.load_state_bytes(state["engine_state"])
        self.lr = state["lr"]


class EmbeddingBag(_TableModule):
    """One feature's table from a factory spec, used like torch.nn.EmbeddingBag.

    EmbeddingBag(spec, num_values, dim, mode="sum", include_last_offset=False,
                 optimizer="sgd", lr=0.01, budget=None, compression=None, signatures=None)
    spec: a sized spec ("hash:rows=65536"), or a method sized by budget (bytes, "4MiB") or
    compression (ratio of the full table). LMA needs signatures (cembed.Signatures or a .sig path).
    forward(input, offsets=None, per_sample_weights=None) -> B x dim, as nn.EmbeddingBag.
    """

    def __init__(self, spec, num_values, dim, mode="sum", include_last_offset=False, optimizer="sgd", lr=0.01,
                 eps=1e-10, initial_accumulator=0.0, seed=0, budget=None, compression=None, signatures=None):
        super().__init__()
        if mode not in ("sum", "mean"):
            raise ValueError(f"mode: '{mode}' (valid: sum, mean)")
        if budget is not None or compression is not None:
            spec = _fit(spec, num_values, dim, budget, compression)
        self.mode = mode
        self.include_last_offset = include_last_offset
        self.num_values = num_values
        self.dim = dim
        self._engine = Table(spec, num_values, dim)
        if self._engine.signature_kind is not None:
            self._engine.attach_signatures(_signatures(signatures, self._engine.signature_kind))
        self._setup(optimizer, lr, eps, initial_accumulator, seed)

    @property
    def spec(self):
        return self._engine.spec

    @property
    def table(self):
        """The cembed.Table underneath (numpy level)."""
        return self._engine

    def _engine_blocks(self):
        return [self._engine.blocks()]

    def _engine_forward(self, values, offsets, weights, last):
        return self._engine.forward(_cpu_numpy(values, "input"), _cpu_numpy(offsets, "offsets"),
                                    _cpu_numpy(weights, "per_sample_weights", True), self.mode, last)

    def _backward(self, values, offsets, weights, grad, last, lr):
        self._engine.backward(values.numpy(), offsets.numpy(), grad, None if weights is None else weights.numpy(),
                              self.mode, last, lr)

    def forward(self, input, offsets=None, per_sample_weights=None):
        self._check_views()
        values, offsets, last = _fixed_length_bags(input, offsets)
        last = self.include_last_offset if last is None else last
        for name, t in (("input", values), ("offsets", offsets)):
            _cpu_numpy(t, name)
        _cpu_numpy(per_sample_weights, "per_sample_weights", True)
        weights = None if per_sample_weights is None else per_sample_weights.detach()
        return _Lookup.apply(self, last, values.detach(), offsets.detach(), weights, *self._params_for_autograd())

    def extra_repr(self):
        return f"{self.spec}, num_values={self.num_values}, dim={self.dim}, mode={self.mode}, " \
               f"optimizer={self.optimizer or 'autograd'}"


class EmbeddingBagCollection(_TableModule):
    """Every categorical feature of a model, sized by the engine's memory planner.

    EmbeddingBagCollection(features={name: cardinality}, dim, method="full", budget=None,
                           compression=None, mode="sum", include_last_offset=True,
                           optimizer="sgd", lr=0.01, signatures=None)
    print(ebc.plan) shows the plan as `cembed plan` does.
    forward(values, offsets, per_sample_weights=None) -> B x F x dim: values of every feature
      one after the other (feature order as in `features`), offsets F * B + 1 bag starts into
      values (a KeyedJaggedTensor's layout; F * B without the last with include_last_offset=False).
    forward({name: (ids, offsets[, per_sample_weights])}) -> {name: B x dim}; offsets per feature
      B + 1 (include_last_offset, the default) or B bag starts.
    """

    def __init__(self, features, dim, method="full", budget=None, compression=None, mode="sum",
                 include_last_offset=True, optimizer="sgd", lr=0.01, eps=1e-10, initial_accumulator=0.0, seed=0,
                 signatures=None, small_threshold=200, plan=None):
        super().__init__()
        if mode not in ("sum", "mean"):
            raise ValueError(f"mode: '{mode}' (valid: sum, mean)")
        from . import plan as make_plan
        self.plan = plan if plan is not None else make_plan(method, features, dim, budget, compression,
                                                            small_threshold)
        self.feature_names = list(self.plan.feature_names)
        self.mode = mode
        self.include_last_offset = include_last_offset
        self.dim = dim
        self._engine = Collection(self.plan)
        needed = self._engine.needed_signatures()
        if needed:
            if isinstance(signatures, dict):
                for kind in needed:
                    self._engine.attach_signatures(_signatures(signatures.get(kind), kind))
            else:
                self._engine.attach_signatures(_signatures(signatures, needed[0]))
        self._setup(optimizer, lr, eps, initial_accumulator, seed)

    def _engine_blocks(self):
        return [self._engine.blocks(t) for t in range(self._engine.num_tables)]

    def _engine_forward(self, values, offsets, weights, last):
        return self._engine.forward(_cpu_numpy(values, "values"), _cpu_numpy(offsets, "offsets"),
                                    _cpu_numpy(weights, "per_sample_weights", True), self.mode, last)

    def _backward(self, values, offsets, weights, grad, last, lr):
        self._engine.backward(values.numpy(), offsets.numpy(), grad, None if weights is None else weights.numpy(),
                              self.mode, last, lr)

    def forward(self, values, offsets=None, per_sample_weights=None):
        self._check_views()
        if isinstance(values, dict):
            return self._forward_dict(values)
        return self._forward_keyed(values, offsets, per_sample_weights, self.include_last_offset)

    def _forward_keyed(self, values, offsets, per_sample_weights, last):
        if offsets is None:
            raise ValueError("offsets are required (F * B + 1 bag starts into values)")
        for name, t in (("values", values), ("offsets", offsets)):
            _cpu_numpy(t, name)
        _cpu_numpy(per_sample_weights, "per_sample_weights", True)
        weights = None if per_sample_weights is None else per_sample_weights.detach()
        return _Lookup.apply(self, last, values.detach(), offsets.detach(), weights, *self._params_for_autograd())

    def _forward_dict(self, inputs):
        missing = [n for n in self.feature_names if n not in inputs]
        extra = [n for n in inputs if n not in self.feature_names]
        if missing or extra:
            raise ValueError(f"features: missing {missing}, unknown {extra} (expected {self.feature_names})")
        values, offsets, weights, base = [], [], [], 0
        has_weights = any(len(inputs[n]) > 2 and inputs[n][2] is not None for n in self.feature_names)
        batch = None
        for n in self.feature_names:
            entry = inputs[n]
            ids, off = entry[0], entry[1]
            for name, t in ((f"{n} ids", ids), (f"{n} offsets", off)):
                _cpu_numpy(t, name)
            off = off.to(torch.int64)
            if not self.include_last_offset:
                off = torch.cat([off, torch.tensor([ids.numel()], dtype=torch.int64)])
            if batch is None:
                batch = off.numel() - 1
            elif off.numel() - 1 != batch:
                raise ValueError(f"{n}: {off.numel() - 1} bags, the first feature has {batch}")
            values.append(ids.to(torch.int64))
            offsets.append(off[:-1] + base)
            base += ids.numel()
            if has_weights:
                w = entry[2] if len(entry) > 2 and entry[2] is not None else torch.ones(ids.numel())
                _cpu_numpy(w, f"{n} per_sample_weights", True)
                weights.append(w)
        offsets.append(torch.tensor([base], dtype=torch.int64))
        out = self._forward_keyed(torch.cat(values), torch.cat(offsets), torch.cat(weights) if has_weights else None,
                                  True)
        return {n: out[:, f] for f, n in enumerate(self.feature_names)}

    def extra_repr(self):
        return f"features={len(self.feature_names)}, dim={self.dim}, method={self.plan.method}, " \
               f"parameter_bytes={self.parameter_bytes()}, optimizer={self.optimizer or 'autograd'}"


def _fit(spec, num_values, dim, budget, compression):
    if budget is not None and compression is not None:
        raise ValueError("give budget or compression, not both")
    if compression is not None:
        budget_bytes = int(num_values * dim * 4 / compression)
    elif isinstance(budget, str):
        budget_bytes = int(_cembed.plan("full", [("x", 1)], 1, budget, None, 200).budget_bytes)
    else:
        budget_bytes = int(budget)
    return _cembed.fit_spec(spec, num_values, dim, budget_bytes)


def _signatures(signatures, kind):
    if signatures is None:
        raise ValueError(f"this method places values by their data: pass signatures= (cembed.Signatures of kind "
                         f"'{kind}', from Signatures.from_columns, or the path of a .{kind}.sig file)")
    if isinstance(signatures, (str, bytes)) or hasattr(signatures, "__fspath__"):
        signatures = Signatures.load(str(signatures))
    return signatures


def batches(dataset, batch_size, shuffle=False, seed=0, drop_last=False):
    """Batches of a cembed.Dataset (or a .cds path) as tensors: (labels float32 B,
    dense float32 B x D, values int64, offsets int64 F * B + 1) ready for EmbeddingBagCollection."""
    from . import Dataset
    if not isinstance(dataset, Dataset):
        dataset = Dataset(dataset)
    for labels, dense, values, offsets in dataset.batches(batch_size, shuffle, seed, drop_last):
        yield (torch.from_numpy(labels), torch.from_numpy(dense), torch.from_numpy(values.astype(np.int64)),
               torch.from_numpy(offsets.astype(np.int64)))


def save_bytes(module):
    """torch.save of a module's state dict into bytes (a helper for tests and examples)."""
    buf = io.BytesIO()
    torch.save(module.state_dict(), buf)
    return buf.getvalue()
