"""The Python package (cembed, cembed.torch) against pure-PyTorch implementations of each
method's formula (torch_formulas.py): outputs and gradients of every method, one-hot and
multi-hot, sum and mean, with and without per-value weights; the fused optimizers against
their update rules; Adam through autograd; state dicts; bad input -> Python exceptions."""
import io
import os
import tempfile
import unittest

import numpy as np
import torch

import common  # noqa: F401  (puts the built package on sys.path)
import cembed
import cembed.torch as ct
from torch_formulas import pooled, probe_block_positions, probe_positions, vectors

N, DIM = 60, 8
# One sized spec per method variant (the C++ grid's cases, tests/cpp/method_cases.h).
SPECS = [
    "full", "hash:rows=17", "hash:rows=5,seed=9", "qr:collisions=7", "qr:collisions=4,op=add",
    "qr:collisions=9,op=concat", "cp:parts=3,collisions=3", "cp:kind=crt,parts=3,collisions=3,op=add",
    "cp:moduli=4x3x5,op=concat", "path:maps=4", "memcom:rows=7", "memcom:rows=5,bias=scalar",
    "memcom:rows=6,bias=vector", "robe:size=24,block=4", "robe:size=13,block=1", "lma:size=64",
    "lma:size=48,block=4,k=2", "lma:size=640,block=2,signature=context", "md:dim=3", "md:dim=8",
    "hot:rows=10,cold.rows=7", "hot:rows=12,cold=qr,cold.collisions=4,cold.op=add", "hot:rows=20,cold=memcom,cold.rows=2",
    "cce:rows=7,every=2", "cce:rows=5,cols=3,times=0",
]


def random_signatures(kind, seed=7):
    """Signatures of N values from random one-hot columns (two features; the table's
    feature is the first)."""
    rng = np.random.default_rng(seed)
    cols = [rng.integers(0, N, 400), rng.integers(0, 30, 400)]
    return cembed.Signatures.from_columns(cols, [N, 30], kind=kind, num_hashes=8)


def make_bag(spec, **kw):
    table = cembed.Table(spec, N, DIM)
    sigs = random_signatures(table.signature_kind) if table.signature_kind else None
    return ct.EmbeddingBag(spec, N, DIM, signatures=sigs, seed=3, **kw)


def random_batch(rng, multi_hot, weighted, batch=16):
    lengths = rng.integers(0, 5, batch) if multi_hot else np.ones(batch, dtype=np.int64)
    ids = torch.from_numpy(rng.integers(0, N, int(lengths.sum())))
    offsets = torch.from_numpy(np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64))
    weights = torch.from_numpy(rng.uniform(0.5, 2.0, ids.numel()).astype(np.float32)) if weighted else None
    return ids, offsets, weights


def close(a, b, rtol=1e-5, atol=1e-6):
    torch.testing.assert_close(a, b, rtol=rtol, atol=atol)


class MethodsAgainstTorchFormulas(unittest.TestCase):
    def test_outputs_and_gradients_of_every_method(self):
        names = {m[0] for m in cembed.methods()}
        self.assertEqual(names, {s.split(":")[0] for s in SPECS}, "a method without a reference case")
        rng = np.random.default_rng(5)
        for spec in SPECS:
            for mode in ("sum", "mean"):
                for multi_hot in (False, True):
                    for weighted in (False, True):
                        with self.subTest(spec=spec, mode=mode, multi_hot=multi_hot, weighted=weighted):
                            self.check(spec, mode, multi_hot, weighted, rng)

    def check(self, spec, mode, multi_hot, weighted, rng):
        bag = make_bag(spec, mode=mode, optimizer=None)
        name = spec.split(":")[0]
        positions = probe_positions(bag, N) if name in ("robe", "lma") else None
        if name == "cce":
            positions = probe_block_positions(bag, N)
        params = [p for _, p in bag.named_parameters()]
        ref_params = [p.detach().clone().double().requires_grad_(True) for p in params]
        ids, offsets, weights = random_batch(rng, multi_hot, weighted)
        out = bag(ids, offsets, per_sample_weights=weights)
        full_offsets = torch.cat([offsets, torch.tensor([ids.numel()])])
        ref = pooled(vectors(spec, ref_params, ids, N, DIM, positions), full_offsets,
                     None if weights is None else weights.double(), mode)
        close(out.double(), ref.detach())
        probe = torch.from_numpy(rng.standard_normal(out.shape))
        (out.double() * probe).sum().backward()
        (ref * probe).sum().backward()
        for p, r in zip(params, ref_params):
            close(p.grad.double(), r.grad)
        self.assertTrue(any(bool(p.grad.abs().sum() > 0) for p in params))


class FusedOptimizers(unittest.TestCase):
    """Backward applies the engine's update: against the rules of include/cembed/optimizer.h
    applied to the reference gradient, two steps so that state accumulates."""

    def test_sgd_adagrad_rowwise_adagrad(self):
        rng = np.random.default_rng(9)
        for spec in ("full", "qr:collisions=7", "path:maps=4", "lma:size=64", "md:dim=3"):
            for opt in ("sgd", "adagrad", "rowwise_adagrad"):
                with self.subTest(spec=spec, optimizer=opt):
                    fused = make_bag(spec, optimizer=opt, lr=0.1, mode="mean")
                    grads = make_bag(spec, optimizer=None, mode="mean")
                    self.assertEqual(list(fused.parameters()), [])
                    weights = [b.detach().clone().double() for _, b in fused.named_buffers()]
                    state = [torch.zeros_like(w) if opt == "adagrad" else torch.zeros(w.shape[0], 1, dtype=w.dtype)
                             for w in weights]
                    for _ in range(2):
                        ids, offsets, _ = random_batch(rng, True, False)
                        probe = torch.from_numpy(rng.standard_normal((16, DIM)).astype(np.float32))
                        for p, w in zip(grads.parameters(), weights):
                            with torch.no_grad():
                                p.copy_(w.float())
                            p.grad = None
                        (grads(ids, offsets) * probe).sum().backward()
                        (fused(ids, offsets) * probe).sum().backward()
                        for i, p in enumerate(grads.parameters()):
                            g = p.grad.double()
                            touched = (g != 0).any(dim=1, keepdim=True)
                            if opt == "sgd":
                                weights[i] = weights[i] - 0.1 * g
                            elif opt == "adagrad":
                                state[i] = state[i] + g * g
                                weights[i] = weights[i] - 0.1 * g / (state[i].sqrt() + 1e-10)
                            else:
                                state[i] = state[i] + torch.where(touched, (g * g).mean(dim=1, keepdim=True), 0.0)
                                weights[i] = weights[i] - 0.1 * g / (state[i].sqrt() + 1e-10)
                    for (_, b), w in zip(fused.named_buffers(), weights):
                        close(b.double(), w, rtol=1e-4, atol=1e-6)
                    self.assertEqual(fused.optimizer_bytes(),
                                     {"sgd": 0, "adagrad": fused.parameter_bytes(),
                                      "rowwise_adagrad": sum(4 * w.shape[0] for w in weights)}[opt])


class AutogradWithTorchOptimizers(unittest.TestCase):
    def test_adam_steps_match_reference(self):
        rng = np.random.default_rng(4)
        for spec in ("qr:collisions=7", "lma:size=64", "memcom:rows=6,bias=vector"):
            with self.subTest(spec=spec):
                bag = make_bag(spec, optimizer=None)
                positions = probe_positions(bag, N) if spec.startswith("lma") else None
                ref = [p.detach().clone().requires_grad_(True) for p in bag.parameters()]
                opt = torch.optim.Adam(bag.parameters(), lr=0.01)
                ref_opt = torch.optim.Adam(ref, lr=0.01)
                for _ in range(3):
                    ids, offsets, weights = random_batch(rng, True, True)
                    target = torch.from_numpy(rng.standard_normal((16, DIM)).astype(np.float32))
                    opt.zero_grad()
                    ref_opt.zero_grad()
                    ((bag(ids, offsets, weights) - target) ** 2).sum().backward()
                    full = torch.cat([offsets, torch.tensor([ids.numel()])])
                    ((pooled(vectors(spec, ref, ids, N, DIM, positions), full, weights, "sum") - target) ** 2
                     ).sum().backward()
                    opt.step()
                    ref_opt.step()
                for p, r in zip(bag.parameters(), ref):
                    close(p.detach(), r.detach(), rtol=1e-4, atol=1e-6)
                # The optimizer's in-place steps wrote the engine's own memory.
                out = bag.table.forward(np.array([1, 2], dtype=np.int64), np.array([0, 1, 2]))
                close(torch.from_numpy(out), bag(torch.tensor([1, 2]), torch.tensor([0, 1])).detach())


class Collections(unittest.TestCase):
    FEATURES = {"user": 5000, "item": 800, "genre": 30}

    def test_planned_bytes_keyed_and_dict_inputs(self):
        for method, kw in (("hash", {"budget": "64KiB"}), ("qr", {"compression": 4}), ("robe", {"compression": 8})):
            with self.subTest(method=method):
                ebc = ct.EmbeddingBagCollection(self.FEATURES, 8, method=method, **kw)
                plan = ebc.plan
                self.assertEqual(ebc.parameter_bytes(), plan.parameter_bytes())
                if "budget" in kw:
                    self.assertLessEqual(ebc.parameter_bytes(), 64 * 1024)
                self.assertIn("genre", str(plan))
                rng = np.random.default_rng(1)
                per = {n: random_ids(rng, c, 6) for n, c in self.FEATURES.items()}
                # Both forms follow include_last_offset (True by default: B + 1 offsets per feature).
                d = ebc({n: (ids, torch.cat([off, torch.tensor([ids.numel()])])) for n, (ids, off) in per.items()})
                values = torch.cat([per[n][0] for n in self.FEATURES])
                offsets, base = [], 0
                for n in self.FEATURES:
                    offsets.append(per[n][1] + base)
                    base += per[n][0].numel()
                offsets = torch.cat(offsets + [torch.tensor([base])])
                keyed = ebc(values, offsets)
                self.assertEqual(tuple(keyed.shape), (6, 3, 8))
                for f, n in enumerate(self.FEATURES):
                    close(keyed[:, f], d[n])

    def test_lma_collection_from_numpy_columns_and_from_a_sig_file(self):
        rng = np.random.default_rng(3)
        cards = list(self.FEATURES.values())
        cols = [rng.integers(0, c, 2000) for c in cards]
        sigs = cembed.Signatures.from_columns(cols, cards, kind="rows")
        ebc = ct.EmbeddingBagCollection(self.FEATURES, 8, method="lma", compression=8, signatures=sigs)
        self.assertEqual(ebc.parameter_bytes(), ebc.plan.parameter_bytes())
        self.assertEqual([t[0].split(":")[0] for t in ebc.plan.tables].count("lma"), 1)  # one shared array
        values = torch.from_numpy(np.concatenate([c[:4] for c in cols]))
        out = ebc(values, torch.arange(0, 13))
        self.assertEqual(tuple(out.shape), (4, 3, 8))
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "train.rows.sig")
            sigs.save(path)
            again = ct.EmbeddingBagCollection(self.FEATURES, 8, method="lma", compression=8, signatures=path)
            close(again(values, torch.arange(0, 13)), out, rtol=0, atol=0)
        with self.assertRaisesRegex(ValueError, "signatures="):
            ct.EmbeddingBagCollection(self.FEATURES, 8, method="lma", compression=8)

    def test_small_features_keep_full_tables_and_fused_step_changes_only_used_rows(self):
        ebc = ct.EmbeddingBagCollection(self.FEATURES, 4, method="hash", compression=16, optimizer="adagrad", lr=0.5)
        specs = [t[0] for t in ebc.plan.tables]
        self.assertIn("full", specs)
        before = [b.clone() for b in ebc.buffers()]
        ids = torch.tensor([3, 4, 5])
        one = torch.tensor([0, 1])
        out = ebc({"user": (ids[:1], one), "item": (ids[1:2], one), "genre": (ids[2:], one)})
        sum(v.sum() for v in out.values()).backward()
        changed = sum(int((a != b).any(dim=1).sum()) for a, b in zip(before, ebc.buffers()))
        self.assertEqual(changed, 3)


def random_ids(rng, card, batch):
    lengths = rng.integers(1, 4, batch)
    return (torch.from_numpy(rng.integers(0, card, int(lengths.sum()))),
            torch.from_numpy(np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)))


class StateDicts(unittest.TestCase):
    def test_torch_save_round_trip_fused_and_autograd(self):
        rng = np.random.default_rng(2)
        for spec, opt in (("lma:size=64", "adagrad"), ("qr:collisions=7", None), ("hash:rows=17", "rowwise_adagrad")):
            with self.subTest(spec=spec, optimizer=opt):
                a = make_bag(spec, optimizer=opt, lr=0.2)
                ids, offsets, _ = random_batch(rng, True, False)
                a(ids, offsets).sum().backward()  # some state to save
                buf = io.BytesIO()
                torch.save(a.state_dict(), buf)
                buf.seek(0)
                b = make_bag(spec, optimizer=opt, lr=0.2)
                b.load_state_dict(torch.load(buf))
                close(a(ids, offsets), b(ids, offsets), rtol=0, atol=0)
                if opt is not None:  # the optimizer state came too: one more step stays equal
                    a(ids, offsets).sum().backward()
                    b(ids, offsets).sum().backward()
                    close(a(ids, offsets), b(ids, offsets), rtol=0, atol=0)

    def test_load_refuses_another_spec(self):
        a = make_bag("hash:rows=17")
        b = make_bag("hash:rows=16")
        with self.assertRaisesRegex(cembed.Error, "hash:rows=17"):
            b.load_state_dict(a.state_dict(), strict=False)

    def test_table_save_load_file(self):
        t = cembed.Table("qr:collisions=7", N, DIM)
        t.init(1)
        t.set_optimizer("adagrad")
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "t.bin")
            t.save(path)
            u = cembed.Table("qr:collisions=7", N, DIM)
            u.set_optimizer("adagrad")
            u.load(path)
            for (wa, _), (wb, _) in zip(t.blocks(), u.blocks()):
                np.testing.assert_array_equal(wa, wb)
            with open(path, "r+b") as f:
                f.truncate(20)
            with self.assertRaisesRegex(cembed.Error, "t.bin"):
                u.load(path)


class Signatures(unittest.TestCase):
    def test_from_columns_equals_sig_file_of_dataset(self):
        """Signatures.from_columns of a dataset's columns equal those of the .cds file."""
        with tempfile.TemporaryDirectory() as d:
            r = common.run([common.CEMBED, "synth", "--out", d, "--train-rows", "500", "--test-rows", "10",
                            "--cardinality", "40"])
            self.assertEqual(r.returncode, 0, r.stderr)
            data = os.path.join(d, "train.cds")
            ds = cembed.Dataset(data)
            cols = [[] for _ in ds.features]
            labels, dense, values, offsets = ds.batch(np.arange(ds.rows))
            F, B = len(ds.features), ds.rows
            for f in range(F):
                cols[f] = (values[offsets[f * B]:offsets[(f + 1) * B]], offsets[f * B:(f + 1) * B + 1] - offsets[f * B])
            for kind in ("rows", "context"):
                a = cembed.Signatures.from_columns(cols, list(ds.features.values()), kind=kind)
                b = cembed.Signatures.compute(data, kind=kind)
                np.testing.assert_array_equal(a.minhashes, b.minhashes)
                np.testing.assert_array_equal(a.present, b.present)
                path = os.path.join(d, f"x.{kind}.sig")
                a.save(path)
                np.testing.assert_array_equal(cembed.Signatures.load(path).minhashes, a.minhashes)


class BadInput(unittest.TestCase):
    def setUp(self):
        self.bag = ct.EmbeddingBag("hash:rows=17", N, DIM)

    def test_id_out_of_range(self):
        with self.assertRaisesRegex(cembed.Error, "60 out of range"):
            self.bag(torch.tensor([1, 60]), torch.tensor([0, 1]))

    def test_negative_id(self):
        with self.assertRaisesRegex(ValueError, "ids: entry 1 is -1"):
            self.bag(torch.tensor([1, -1]), torch.tensor([0, 1]))

    def test_offsets_not_monotone(self):
        with self.assertRaisesRegex(ValueError, "not monotone"):
            self.bag(torch.tensor([1, 2, 3]), torch.tensor([0, 2, 1]))

    def test_offsets_past_the_ids(self):
        with self.assertRaisesRegex(ValueError, "offsets: entry 1 is 3, past the 2 ids"):
            self.bag(torch.tensor([1, 2]), torch.tensor([0, 3]))

    def test_wrong_dtype(self):
        with self.assertRaisesRegex(TypeError, "input: expected int64 or int32"):
            self.bag(torch.tensor([1.0, 2.0]), torch.tensor([0, 1]))
        with self.assertRaisesRegex(TypeError, "per_sample_weights: expected float32"):
            self.bag(torch.tensor([1, 2]), torch.tensor([0, 1]), torch.tensor([1.0, 2.0], dtype=torch.float64))
        t = cembed.Table("full", N, DIM)
        t.init(0)
        with self.assertRaisesRegex(TypeError, "ids: expected integers"):
            t.forward(np.array([1.0]), np.array([0, 1]))
        with self.assertRaisesRegex(ValueError, "ids: array is not contiguous"):
            t.forward(np.arange(10)[::2], np.array([0, 5]))

    def test_wrong_device(self):
        with self.assertRaisesRegex(TypeError, "input: tensor on meta"):
            self.bag(torch.tensor([1, 2], device="meta"), torch.tensor([0, 1]))

    def test_spec_refused_by_the_factory(self):
        with self.assertRaisesRegex(cembed.Error, "unknown method 'nope'"):
            ct.EmbeddingBag("nope:rows=3", N, DIM)
        with self.assertRaisesRegex(cembed.Error, "rows"):
            ct.EmbeddingBag("hash:rows=0", N, DIM)

    def test_lma_without_signatures(self):
        with self.assertRaisesRegex(ValueError, "signatures="):
            ct.EmbeddingBag("lma:size=64", N, DIM)

    def test_moved_weights_are_refused(self):
        bag = ct.EmbeddingBag("full", N, DIM, optimizer=None)
        bag.double()
        with self.assertRaisesRegex(RuntimeError, "moved or converted"):
            bag(torch.tensor([1]), torch.tensor([0]))


class SizedByBudget(unittest.TestCase):
    def test_single_table_budget_and_compression(self):
        a = ct.EmbeddingBag("hash", 10_000, 8, compression=16)
        self.assertTrue(cembed.spec_is_sized(a.spec))
        self.assertLessEqual(a.parameter_bytes(), 10_000 * 8 * 4 // 16)
        self.assertGreater(a.parameter_bytes(), 10_000 * 8 * 4 // 16 - 8 * 4)
        b = ct.EmbeddingBag("qr", 10_000, 8, budget="8KiB", optimizer="adagrad")
        self.assertLessEqual(b.parameter_bytes(), 8192)
        self.assertEqual(b.optimizer_bytes(), b.parameter_bytes())
        with self.assertRaisesRegex(cembed.Error, "budget"):
            ct.EmbeddingBag("path", 10_000, 8, budget=64)


class FixedLengthInput(unittest.TestCase):
    def test_2d_input_and_include_last_offset_like_nn_embeddingbag(self):
        bag = ct.EmbeddingBag("full", N, DIM, mode="mean", optimizer=None)
        ref = torch.nn.EmbeddingBag(N, DIM, mode="mean")
        with torch.no_grad():
            ref.weight.copy_(bag.block0)
        x = torch.tensor([[1, 2, 3], [4, 5, 6]])
        close(bag(x), ref(x))
        last = ct.EmbeddingBag("full", N, DIM, include_last_offset=True, optimizer=None)
        with torch.no_grad():
            last.block0.copy_(bag.block0)
        ids, off = torch.tensor([1, 2, 3, 4]), torch.tensor([0, 1, 4])
        close(last(ids, off), torch.nn.functional.embedding_bag(ids, ref.weight, off, include_last_offset=True,
                                                                mode="sum"))


if __name__ == "__main__":
    unittest.main()
