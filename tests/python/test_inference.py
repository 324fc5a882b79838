"""Exported models end to end: prepare (Criteo text) -> train -> export (fp32, int8, with the
vocabulary) -> `cembed score` on the dataset and on raw lines, the C API from C
(examples/c_api_example.c) and from Python ctypes, and `cembed serve` over HTTP with
concurrent clients. Every path gives the fp32 model's probabilities bit for bit, whatever the
batches the rows are scored in (one row per C call, the server's batches across clients):
a row's score does not depend on its batch (docs/inference.md)."""
import concurrent.futures
import ctypes
import http.client
import json
import os
import random
import signal
import struct
import subprocess
import tempfile
import unittest

import numpy as np

from common import BUILD_DIR, CEMBED, run
from cds import Dataset

C_EXAMPLE = os.path.join(BUILD_DIR, "examples", "c_api_example")
LIBCEMBED = os.path.join(BUILD_DIR, "libcembed.so")


def criteo_lines(rng, n):
    """Criteo TSV rows whose label depends on a few values (so the model learns something)."""
    lines = []
    for _ in range(n):
        cats = ["%08x" % rng.randrange(250 + 30 * f) if rng.random() > 0.05 else "" for f in range(26)]
        dense = [str(rng.randrange(50)) if rng.random() > 0.1 else "" for _ in range(13)]
        p = 0.15 + 0.6 * (int(cats[0] or "0", 16) % 3 == 0) + 0.2 * (dense[0] != "" and int(dense[0]) > 25)
        lines.append("\t".join([str(int(rng.random() < min(p, 0.95)))] + dense + cats))
    return lines


class Inference(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.dir = cls.tmp.name
        rng = random.Random(5)
        cls.train_lines, cls.test_lines = criteo_lines(rng, 6000), criteo_lines(rng, 1500)
        # Values unseen in training (out of vocabulary) in a few test rows.
        cls.test_lines[:3] = [line.replace("\t0000000", "\tfffffff", 3) for line in cls.test_lines[:3]]
        for name, lines in (("train.txt", cls.train_lines), ("test.txt", cls.test_lines)):
            with open(os.path.join(d, name), "w") as f:
                f.write("\n".join(lines) + "\n")
        cls.data = os.path.join(d, "data")
        out = run([CEMBED, "prepare", "--format", "criteo", "--train", os.path.join(d, "train.txt"), "--test",
                   os.path.join(d, "test.txt"), "--out", cls.data])
        assert out.returncode == 0, out.stderr
        cls.ckpt = os.path.join(d, "model.ckpt")
        out = run([CEMBED, "train", "--train", os.path.join(cls.data, "train.cds"), "--test",
                   os.path.join(cls.data, "test.cds"), "--embedding", "qr", "--compression", "4", "--dim", "8",
                   "--bottom", "16,8", "--top", "16,1", "--batch-size", "128", "--threads", "2", "--quiet",
                   "--checkpoint", cls.ckpt])
        assert out.returncode == 0, out.stderr
        cls.models = {}
        for precision in ("fp32", "int8"):
            path = os.path.join(d, precision + ".cem")
            out = run([CEMBED, "export", cls.ckpt, "--out", path, "--precision", precision, "--vocabulary", cls.data])
            assert out.returncode == 0, out.stderr
            cls.models[precision] = path
        out = run([CEMBED, "score", cls.models["fp32"], "--data", os.path.join(cls.data, "test.cds"), "--threads",
                   "2"])
        assert out.returncode == 0, out.stderr
        cls.expected_text = out.stdout.split()
        cls.expected = np.array([float(x) for x in cls.expected_text], dtype=np.float32)
        cls.score_stderr = out.stderr
        cls.test_cds = Dataset(os.path.join(cls.data, "test.cds"))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def id_rows(self, n=None):
        ds = self.test_cds
        n = ds.rows if n is None else n
        return [(ds.dense[r].tolist(), [int(ids[r]) for ids in ds.ids]) for r in range(n)]

    # ---- export and score ----------------------------------------------------------------

    def test_score_reports_the_checkpoints_auc(self):
        out = run([CEMBED, "eval", "--model", self.ckpt, "--data", os.path.join(self.data, "test.cds")])
        self.assertEqual(out.returncode, 0, out.stderr)
        auc = out.stdout.split("AUC ")[1].split()[0]
        self.assertIn("AUC " + auc, self.score_stderr)
        self.assertEqual(len(self.expected), len(self.test_lines))

    def assert_scores(self, got, expected):
        got = np.array([float(x) for x in got], dtype=np.float32)
        self.assertEqual(got.shape, expected.shape)
        np.testing.assert_array_equal(got, expected)

    def test_raw_lines_score_as_their_prepared_rows(self):
        out = run([CEMBED, "score", self.models["fp32"]], input="\n".join(self.test_lines) + "\n")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assert_scores(out.stdout.split(), self.expected)  # one batch, as --data

    def test_id_rows_on_stdin_and_a_bad_line(self):
        rows = self.id_rows(50)
        text = "".join(" ".join(["%.9g" % x for x in dense] + [str(i) for i in ids]) + "\n" for dense, ids in rows)
        out = run([CEMBED, "score", self.models["fp32"], "--input", "ids", "--batch-size", "50"], input=text)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assert_scores(out.stdout.split(), self.expected[:50])
        out = run([CEMBED, "score", self.models["fp32"]], input=self.test_lines[0] + "\n1\tx\n")
        self.assertEqual(out.returncode, 1)
        self.assertIn("stdin:2", out.stderr)

    def test_int8_is_smaller_and_close(self):
        self.assertLess(os.path.getsize(self.models["int8"]), os.path.getsize(self.models["fp32"]))
        out = run([CEMBED, "score", self.models["int8"], "--data", os.path.join(self.data, "test.cds")])
        self.assertEqual(out.returncode, 0, out.stderr)
        got = np.array([float(x) for x in out.stdout.split()], dtype=np.float32)
        self.assertLess(np.abs(got - self.expected).max(), 0.02)

    def test_export_refuses_a_foreign_vocabulary_and_damaged_models(self):
        other = os.path.join(self.dir, "other")
        with open(os.path.join(self.dir, "small.txt"), "w") as f:
            f.write("\n".join(self.train_lines[:100]) + "\n")
        out = run([CEMBED, "prepare", "--format", "criteo", "--train", os.path.join(self.dir, "small.txt"), "--out",
                   other])
        self.assertEqual(out.returncode, 0, out.stderr)
        out = run([CEMBED, "export", self.ckpt, "--out", os.path.join(self.dir, "x.cem"), "--vocabulary", other])
        self.assertEqual(out.returncode, 1)
        self.assertIn("not the model's vocabulary", out.stderr)
        with open(self.models["fp32"], "rb") as f:
            good = f.read()
        bad = os.path.join(self.dir, "bad.cem")
        for damaged, message in ((good[:len(good) // 2], "truncated"), (good[:900] + b"\x01" + good[901:], "checksum"),
                                 (b"CEMBCKPT" + good[8:], "not a cembed model")):
            with open(bad, "wb") as f:
                f.write(damaged)
            out = run([CEMBED, "score", bad, "--data", os.path.join(self.data, "test.cds")])
            self.assertEqual(out.returncode, 1, message)
            self.assertIn(message, out.stderr)
            self.assertIn(bad, out.stderr)

    # ---- the C API -----------------------------------------------------------------------

    def test_c_example_scores_as_cembed_score(self):
        rows = self.id_rows(200)
        text = "".join(" ".join(["%.9g" % x for x in dense] + [str(i) for i in ids]) + "\n" for dense, ids in rows)
        out = run([C_EXAMPLE, self.models["fp32"]], input=text)  # one row per call
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assert_scores(out.stdout.split(), self.expected[:200])
        out = run([C_EXAMPLE, self.models["fp32"], "--lines"], input="\n".join(self.test_lines[:100]) + "\n")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assert_scores(out.stdout.split(), self.expected[:100])
        out = run([C_EXAMPLE, os.path.join(self.dir, "missing.cem")], input="")
        self.assertEqual(out.returncode, 1)
        self.assertIn("cannot open model", out.stderr)

    def test_ctypes_binding(self):
        lib = ctypes.CDLL(LIBCEMBED)
        lib.cembed_last_error.restype = ctypes.c_char_p
        lib.cembed_model_num_dense.restype = ctypes.c_int64
        lib.cembed_model_num_features.restype = ctypes.c_int64
        model = ctypes.c_void_p()
        self.assertEqual(lib.cembed_model_open(self.models["fp32"].encode(), ctypes.byref(model)), 0)
        try:
            nd, nf = lib.cembed_model_num_dense(model), lib.cembed_model_num_features(model)
            ds = self.test_cds
            dense = np.ascontiguousarray(ds.dense, dtype=np.float32)
            ids = np.ascontiguousarray(np.stack([np.asarray(x) for x in ds.ids], axis=1), dtype=np.uint32)
            self.assertEqual(dense.shape[1], nd)
            self.assertEqual(ids.shape[1], nf)
            out = np.zeros(ds.rows, dtype=np.float32)
            ptr = lambda a, t: a.ctypes.data_as(ctypes.POINTER(t))
            rc = lib.cembed_model_score(model, ctypes.c_int64(ds.rows), ptr(dense, ctypes.c_float),
                                        ptr(ids, ctypes.c_uint32), ptr(out, ctypes.c_float))
            self.assertEqual(rc, 0, lib.cembed_last_error())
            np.testing.assert_array_equal(out, self.expected)
            ids[0, 0] = 1 << 30  # beyond the feature's cardinality
            rc = lib.cembed_model_score(model, ctypes.c_int64(1), ptr(dense, ctypes.c_float),
                                        ptr(ids, ctypes.c_uint32), ptr(out, ctypes.c_float))
            self.assertEqual(rc, -1)
            self.assertIn(b"out of range", lib.cembed_last_error())
        finally:
            lib.cembed_model_close(model)
        bad = ctypes.c_void_p()
        self.assertEqual(lib.cembed_model_open(self.ckpt.encode(), ctypes.byref(bad)), -1)
        self.assertIsNone(bad.value)
        self.assertIn(b"not a cembed model", lib.cembed_last_error())

    # ---- the HTTP server -----------------------------------------------------------------

    def start_server(self, *extra):
        proc = subprocess.Popen([CEMBED, "serve", self.models["fp32"], "--port", "0", "--threads", "2"] + list(extra),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = proc.stdout.readline()
        self.assertIn("listening on http://127.0.0.1:", line, proc.stderr.read() if proc.poll() is not None else "")
        return proc, int(line.rsplit(":", 1)[1])

    def stop_server(self, proc):
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 0, err)
        self.assertIn("stopped after", out)

    @staticmethod
    def request(port, method, path, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
            res = conn.getresponse()
            return res.status, json.loads(res.read() or b"{}")
        finally:
            conn.close()

    def test_server_scores_as_cembed_score_under_concurrent_clients(self):
        proc, port = self.start_server()
        try:
            status, health = self.request(port, "GET", "/health")
            self.assertEqual((status, health["status"]), (200, "ok"))
            rows = self.id_rows()
            requests = []
            for start in range(0, len(rows), 37):
                chunk = []
                for r in range(start, min(len(rows), start + 37)):
                    if r % 2:
                        chunk.append({"line": self.test_lines[r]})
                    else:
                        chunk.append({"dense": rows[r][0], "ids": rows[r][1]})
                requests.append((start, json.dumps({"rows": chunk})))
            got = [None] * len(rows)
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                for start, (status, body) in zip([s for s, _ in requests],
                                                 pool.map(lambda q: self.request(port, "POST", "/score", q[1]),
                                                          requests)):
                    self.assertEqual(status, 200, body)
                    got[start:start + len(body["probabilities"])] = body["probabilities"]
            self.assert_scores(got, self.expected)
            # One request of every row: the batch `cembed score` scored.
            status, body = self.request(port, "POST", "/score", json.dumps(
                {"rows": [{"dense": d, "ids": i} for d, i in rows]}))
            self.assertEqual(status, 200, body)
            self.assert_scores(body["probabilities"], self.expected)
            status, metrics = self.request(port, "GET", "/metrics")
            self.assertEqual(metrics["requests"], len(requests) + 1)
            self.assertEqual(metrics["rows"], 2 * len(rows))
            self.assertGreater(metrics["latency_ms"]["p99"], 0)
        finally:
            self.stop_server(proc)

    def test_server_answers_bad_requests_with_4xx(self):
        proc, port = self.start_server("--max-body-bytes", "20000", "--max-rows", "5")
        try:
            dense, ids = self.id_rows(1)[0]
            cases = [
                ("{not json", 400, "malformed JSON"),
                (json.dumps({"rows": [], "extra": 1}), 400, "unknown field 'extra'"),
                (json.dumps({"rows": [{"dense": dense, "ids": ids, "x": 1}]}), 400, "row 0: unknown field 'x'"),
                (json.dumps({"rows": [{"dense": dense[:-1], "ids": ids}]}), 400, "row 0: dense must be"),
                (json.dumps({"rows": [{"dense": dense, "ids": ids[:-1] + [10 ** 9]}]}), 400, "ids[25] must be an id"),
                (json.dumps({"rows": [{"line": "1\tabc"}]}), 400, "row:0"),
                (json.dumps({"rows": [{"dense": dense, "ids": ids}] * 6}), 400, "6 rows in one request, at most 5"),
                (json.dumps({"rows": [{"line": "x" * 30000}]}), 413, "too large"),
            ]
            for body, status, message in cases:
                got_status, got = self.request(port, "POST", "/score", body)
                self.assertEqual(got_status, status, (body[:80], got))
                self.assertIn(message, got["error"])
            status, got = self.request(port, "GET", "/nowhere")
            self.assertEqual(status, 404)
            # Out-of-vocabulary raw values score as id 0, as prepare maps them; the server
            # still answers good requests after bad ones.
            unseen = "\t".join(["0"] + self.test_lines[5].split("\t")[1:14] + ["deadbeef"] * 26)
            status, a = self.request(port, "POST", "/score", json.dumps({"rows": [{"line": unseen}]}))
            self.assertEqual(status, 200, a)
            ds = self.test_cds
            status, b = self.request(port, "POST", "/score",
                                     json.dumps({"rows": [{"dense": ds.dense[5].tolist(), "ids": [0] * 26}]}))
            self.assertEqual(a["probabilities"], b["probabilities"])
        finally:
            self.stop_server(proc)


class TorchModelOfTheExportedFile(unittest.TestCase):
    """The PyTorch model bench/inference_vs_torch.py times (torch_exported.py: every parameter
    and robe's, lma's and cce's positions read from the .cem by tools/reference/cem_file.py,
    the lookups by torch_formulas) scores as cembed does, within 1e-5, on the test rows and
    on rows that look up every value of every feature: robe (hashed), lma with its placement
    stored as minhashes (dim 16, values without a signature among them) and as each value's
    blocks (dim 4), cce after reclusterings (its stored assignment and renewed hash); full
    tables and hot (hot rows of their own, the rest in its cold hash table) read as they are."""

    CASES = {
        "robe": ["--embedding", "robe", "--compression", "16"],
        "lma_minhashes": ["--embedding", "lma", "--compression", "16"],
        "lma_blocks": ["--embedding", "lma", "--compression", "16", "--dim", "4", "--bottom", "8,4"],
        "cce": ["--embedding", "cce:every=3,times=2", "--compression", "4"],
        "full": ["--embedding", "full"],
        "hot": ["--embedding", "hot", "--compression", "4"],
    }

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.dir = cls.tmp.name
        # 400 values per feature and 2000 rows: Zipf leaves many values out of the training rows.
        out = run([CEMBED, "synth", "--out", d, "--train-rows", "2000", "--test-rows", "300", "--cardinality", "400"])
        assert out.returncode == 0, out.stderr
        cls.test_cds = Dataset(os.path.join(d, "test.cds"))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def export(self, name):
        ckpt, cem = os.path.join(self.dir, name + ".ckpt"), os.path.join(self.dir, name + ".cem")
        out = run([CEMBED, "train", "--train", os.path.join(self.dir, "train.cds"), "--bottom", "8,16", "--top", "8,1",
                   "--batch-size", "256", "--threads", "2", "--quiet", "--checkpoint", ckpt] + self.CASES[name])
        self.assertEqual(out.returncode, 0, out.stderr)
        out = run([CEMBED, "export", ckpt, "--out", cem])
        self.assertEqual(out.returncode, 0, out.stderr)
        return cem

    def c_api_scores(self, cem, dense, ids):
        lib = ctypes.CDLL(LIBCEMBED)
        lib.cembed_last_error.restype = ctypes.c_char_p
        model = ctypes.c_void_p()
        self.assertEqual(lib.cembed_model_open(cem.encode(), ctypes.byref(model)), 0, lib.cembed_last_error())
        out = np.zeros(len(dense), dtype=np.float32)
        ptr = lambda a, t: a.ctypes.data_as(ctypes.POINTER(t))
        rc = lib.cembed_model_score(model, ctypes.c_int64(len(dense)), ptr(dense, ctypes.c_float),
                                    ptr(ids, ctypes.c_uint32), ptr(out, ctypes.c_float))
        lib.cembed_model_close(model)
        self.assertEqual(rc, 0)
        return out

    def test_scores_as_cembed_for_each_method_compared(self):
        import torch
        from cem_file import CemFile
        from torch_exported import torch_model

        ds = self.test_cds
        test_ids = np.stack([np.asarray(x) for x in ds.ids], axis=1).astype(np.uint32)
        every = (np.arange(400)[:, None] + 7 * np.arange(26)[None, :]) % 400  # each value of each feature
        ids = np.ascontiguousarray(np.concatenate([test_ids, every.astype(np.uint32)]))
        dense = np.ascontiguousarray(np.concatenate([ds.dense, ds.dense[np.arange(400) % ds.rows]]), dtype=np.float32)
        for name in self.CASES:
            with self.subTest(name):
                cem = self.export(name)
                f = CemFile(cem)
                method = f.meta["plan"]["tables"][0]["spec"].split(":")[0]
                if name == "lma_minhashes":  # the form of the placement this case is for
                    hashes, _, minhash, present, blocks = f.placement(0)
                    self.assertEqual((hashes, len(blocks)), (16, 0))
                    self.assertGreater(int((present == 0).sum()), 100, "values without a signature")
                if name == "lma_blocks":
                    self.assertEqual(len(f.placement(0)[2].ravel()), 0)
                if method == "cce":
                    self.assertGreater(struct.unpack_from("<q", f.section("serving", 0), 8)[0], 0, "reclustered")
                ours = self.c_api_scores(cem, dense, ids)
                with torch.no_grad():
                    model = torch_model(cem)
                    t_ids = torch.from_numpy(ids.astype(np.int64))
                    per_feature = [t_ids[:, i].contiguous() for i in range(26)]
                    theirs = torch.sigmoid(model(torch.from_numpy(dense.copy()), per_feature,
                                                 [torch.arange(len(ids))] * 26)).numpy()
                self.assertLess(float(np.abs(theirs - ours).max()), 1e-5)


if __name__ == "__main__":
    unittest.main()
