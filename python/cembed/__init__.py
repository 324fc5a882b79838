"""cembed from Python: compressed embedding tables over the C++ engine (docs/python.md).

numpy level (no torch needed):
    cembed.Table(spec, num_values, dim)      one table from a factory spec
    cembed.plan(method, features, dim, budget=.., compression=..) -> cembed.Plan
    cembed.Collection(plan)                  every feature's tables, run in parallel
    cembed.Signatures                        LMA signatures (from columns, a .sig file, a .cds file)
    cembed.fit_spec, cembed.methods, cembed.set_num_threads
engine:
    cembed.train(config) -> report, cembed.sweep(...), cembed.prepare(...),
    cembed.Dataset(path).batches(batch_size) -> numpy (or torch: cembed.torch.batches)
torch modules: cembed.torch (EmbeddingBag, EmbeddingBagCollection).
Errors of the engine raise cembed.Error (a ValueError) with its message.
"""

import json as _json

from . import _cembed
from ._cembed import (  # noqa: F401  (the package's API)
    Collection,
    Error,
    Plan,
    Signatures,
    Table,
    fit_spec,
    methods,
    set_num_threads,
    spec_is_sized,
)


def plan(method, features, dim, budget=None, compression=None, small_threshold=200):
    """The memory plan of `method` for `features` ({name: cardinality} or [(name, cardinality)]):
    a byte budget ("4MiB", or a number of bytes), a compression ratio of the full tables, or
    neither (a sized spec as given). print(plan) shows it as `cembed plan` does."""
    items = list(features.items()) if isinstance(features, dict) else [tuple(f) for f in features]
    return _cembed.plan(method, items, dim, budget, compression, small_threshold)


def build_info():
    """Version, instruction set and GEMM kernels of the engine (cembed/build_info.h)."""
    return _json.loads(_cembed.build_info())


def default_train_config():
    """Every training setting with its default (the keys of a `cembed train --config` file)."""
    return _json.loads(_cembed.default_train_config())


def _train_settings(config):
    """Every training setting: the defaults updated by `config`; "budget" ("64MiB" or bytes)
    and "compression" (a ratio) stand for budget_kind/budget_value as the CLI's options do."""
    config = dict(config)
    full = default_train_config()
    model = dict(full["model"], **config.pop("model", {}))
    if "budget" in config and "compression" in config:
        raise Error("train: give budget or compression, not both")
    if "compression" in config:
        config["budget_kind"], config["budget_value"] = "ratio", float(config.pop("compression"))
    if "budget" in config:
        b = config.pop("budget")
        config["budget_kind"], config["budget_value"] = "bytes", _cembed.parse_bytes(b) if isinstance(b, str) else b
    unknown = sorted(set(config) - set(full))
    if unknown:
        raise Error(f"train: unknown settings {unknown} (valid: {sorted(full)}, budget, compression)")
    full.update(config)
    full["model"] = model
    return full


def train(config):
    """Trains DLRM as `cembed train` does; `config` is a dict of training settings (keys as in
    default_train_config(), plus "budget" and "compression"; missing ones take their defaults;
    "model" may give some of its keys). Returns the report as a dict."""
    return _json.loads(_cembed.train(_json.dumps(_train_settings(config))))


def sweep(base, methods, ratios, out_dir, seeds=(1,), progress=False):
    """Every method at every memory ratio, as `cembed sweep` (resumable in out_dir); `base` is a
    dict of training settings. Returns the results document as a dict."""
    return _json.loads(_cembed.sweep(_json.dumps(_train_settings(base)), list(methods), [float(r) for r in ratios],
                                     [int(s) for s in seeds], str(out_dir), progress))


def prepare(format, train_files, out_dir, valid_files=(), test_files=(), min_count=1, skip_bad_lines=False,
            schema="", hash_buckets=0, split="files", valid_fraction=0.0, test_fraction=0.0, seed=1, threads=2):
    """Raw logs (criteo, avazu, libfm, csv with a schema) -> .cds datasets in out_dir, as
    `cembed prepare`. Returns prepare's statistics as a dict."""
    as_list = (lambda x: [str(x)] if isinstance(x, (str, bytes)) or hasattr(x, "__fspath__") else [str(p) for p in x])
    return _json.loads(_cembed.prepare(format, as_list(train_files), as_list(valid_files) if valid_files else [],
                                       as_list(test_files) if test_files else [], str(out_dir), min_count,
                                       skip_bad_lines, str(schema), hash_buckets, split, valid_fraction,
                                       test_fraction, seed, threads))


class Dataset:
    """A .cds dataset (memory-mapped). batches(batch_size) yields (labels, dense, values, offsets)
    numpy arrays, values/offsets in the keyed layout cembed.Collection and
    cembed.torch.EmbeddingBagCollection take (every feature's values one after the other,
    num_features * B + 1 offsets)."""

    def __init__(self, path, verify=True):
        self._data = _cembed.Dataset(str(path), verify)
        self.schema = _json.loads(self._data.schema_json)

    @property
    def rows(self):
        return self._data.rows

    @property
    def features(self):
        """{name: cardinality} of the categorical features, in order."""
        return {f["name"]: f["cardinality"] for f in self.schema["sparse"]}

    def batch(self, rows):
        import numpy as np
        return self._data.batch(np.ascontiguousarray(rows, dtype=np.int64))

    def batches(self, batch_size, shuffle=False, seed=0, drop_last=False):
        import numpy as np
        order = np.arange(self.rows, dtype=np.int64)
        if shuffle:
            np.random.default_rng(seed).shuffle(order)
        for start in range(0, self.rows, batch_size):
            rows = order[start:start + batch_size]
            if drop_last and len(rows) < batch_size:
                break
            yield self._data.batch(rows)
