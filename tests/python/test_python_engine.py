"""The engine from Python (cembed.train, cembed.sweep, cembed.prepare, cembed.Dataset): the
same runs as the command-line tool, so the same numbers."""
import json
import os
import tempfile
import unittest

import numpy as np

import common
import cembed
import cembed.torch as ct
from common import CEMBED, run


class Engine(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name
        out = run([CEMBED, "synth", "--out", cls.dir, "--train-rows", "4000", "--test-rows", "1000", "--scale",
                   "0.001", "--seed", "3"])
        assert out.returncode == 0, out.stderr

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def test_train_equals_the_cli(self):
        report = cembed.train({"train_path": self.path("train.cds"), "test_path": self.path("test.cds"),
                               "embedding": "hash", "compression": 4, "model": {"dim": 8, "bottom_hidden": [16],
                                                                               "top_hidden": [16]},
                               "optimizer": "adagrad", "lr": 0.05, "batch_size": 256, "seed": 7, "progress": False})
        cli = run([CEMBED, "train", "--train", self.path("train.cds"), "--test", self.path("test.cds"),
                   "--embedding", "hash", "--compression", "4", "--dim", "8", "--bottom", "16,8", "--top", "16,1",
                   "--optimizer", "adagrad", "--lr", "0.05", "--batch-size", "256", "--seed", "7", "--quiet",
                   "--report", self.path("cli.json")])
        self.assertEqual(cli.returncode, 0, cli.stderr)
        with open(self.path("cli.json")) as f:
            expected = json.load(f)
        self.assertEqual(report["test"]["auc"], expected["test"]["auc"])
        self.assertEqual(report["plan"], expected["plan"])
        with self.assertRaisesRegex(cembed.Error, "unknown settings \\['epoch'\\]"):
            cembed.train({"epoch": 1})
        with self.assertRaisesRegex(cembed.Error, "nope"):
            cembed.train({"train_path": self.path("nope.cds")})

    def test_dataset_batches_hold_the_rows(self):
        ds = cembed.Dataset(self.path("train.cds"))
        self.assertEqual(ds.rows, 4000)
        labels, dense, values, offsets = ds.batch(np.array([5, 0, 5]))
        F = len(ds.features)
        self.assertEqual(dense.shape, (3, 13))
        self.assertEqual(len(offsets), 3 * F + 1)
        np.testing.assert_array_equal(labels[0], labels[2])
        n = sum(len(b[0]) for b in ds.batches(512))
        self.assertEqual(n, 4000)
        t = next(ct.batches(ds, 64))
        self.assertEqual(tuple(t[1].shape), (64, 13))
        with self.assertRaisesRegex(IndexError, "outside \\[0, 4000\\)"):
            ds.batch(np.array([4000]))
        with open(self.path("bad.cds"), "wb") as f:
            f.write(b"CEMB" + b"\\0" * 20)
        with self.assertRaisesRegex(cembed.Error, "bad.cds"):
            cembed.Dataset(self.path("bad.cds"))

    def test_prepare_and_sweep(self):
        out = run([CEMBED, "synth", "--out", self.path("raw"), "--train-rows", "300", "--test-rows", "50",
                   "--format", "criteo", "--scale", "0.001"])
        self.assertEqual(out.returncode, 0, out.stderr)
        stats = cembed.prepare("criteo", self.path("raw/train.txt"), self.path("prep"),
                               test_files=[self.path("raw/test.txt")])
        self.assertEqual(stats["train"]["rows"], 300)
        self.assertEqual(cembed.Dataset(self.path("prep/test.cds")).rows, 50)
        with self.assertRaisesRegex(cembed.Error, "missing.txt"):
            cembed.prepare("criteo", self.path("missing.txt"), self.path("prep2"))
        results = cembed.sweep({"train_path": self.path("train.cds"), "test_path": self.path("test.cds"),
                                "max_steps": 5, "epochs": 0, "model": {"dim": 4, "bottom_hidden": [8],
                                                                         "top_hidden": [8]}},
                               ["hash", "qr"], [4], self.path("sweep"))
        self.assertEqual(len(results["runs"]), 2)
        self.assertTrue(os.path.exists(self.path("sweep/results.json")))


if __name__ == "__main__":
    unittest.main()
