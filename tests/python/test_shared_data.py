"""cembed prepare on the real samples in ../shared/data (skipped when absent): row counts and
click rates as ../shared/data/README.md states them, and a short training run learns."""
import json
import os
import tempfile
import unittest

from common import CEMBED, SOURCE_DIR, run

DATA = os.path.join(os.path.dirname(SOURCE_DIR), "shared", "data")

CASES = {
    # name: (format, train, valid, test, rows (train, valid, test), ctr of all rows)
    "criteo": ("criteo", "criteo-kaggle-8k/train.csv", "criteo-kaggle-8k/dev.csv", "criteo-kaggle-8k/test.csv",
               (7200, 409, 391), 0.216),
    "avazu": ("avazu", "avazu-9k/train.csv", "avazu-9k/dev.csv", "avazu-9k/test.csv", (8087, 480, 432), 0.17),
    "frappe": ("libfm", "frappe/frappe.validation.libfm", None, "frappe/frappe.test.libfm", (57722, 0, 28860), 0.33),
}


@unittest.skipUnless(os.path.isdir(DATA), f"{DATA} not present")
class SharedData(unittest.TestCase):
    def prepare(self, name, out):
        fmt, train, valid, test, rows, ctr = CASES[name]
        cmd = [CEMBED, "prepare", "--format", fmt, "--train", os.path.join(DATA, train), "--test",
               os.path.join(DATA, test), "--out", out]
        if valid:
            cmd += ["--valid", os.path.join(DATA, valid)]
        res = run(cmd)
        self.assertEqual(res.returncode, 0, res.stderr)
        with open(os.path.join(out, "prepare.json")) as f:
            stats = json.load(f)
        got = (stats["train"]["rows"], stats["valid"]["rows"] if valid else 0, stats["test"]["rows"])
        self.assertEqual(got, rows)
        clicks = sum(stats[s]["ctr"] * stats[s]["rows"] for s in ("train", "valid", "test") if s in stats)
        self.assertAlmostEqual(clicks / sum(rows), ctr, delta=0.006)
        self.assertEqual(stats["train"]["bad_lines"], 0)
        return stats

    def test_criteo(self):
        with tempfile.TemporaryDirectory() as d:
            stats = self.prepare("criteo", d)
            self.assertEqual(len(stats["features"]), 26)

    def test_avazu(self):
        with tempfile.TemporaryDirectory() as d:
            stats = self.prepare("avazu", d)
            self.assertEqual(len(stats["features"]), 23)

    def test_frappe_trains(self):
        with tempfile.TemporaryDirectory() as d:
            stats = self.prepare("frappe", d)
            self.assertEqual(len(stats["features"]), 10)
            ids = set()
            with open(os.path.join(DATA, CASES["frappe"][1])) as f:
                for line in f:
                    ids.update(tok.split(":")[0] for tok in line.split()[1:])
            self.assertEqual(sum(f["distinct_values"] for f in stats["features"]), len(ids))
            report = os.path.join(d, "r.json")
            res = run([CEMBED, "train", "--train", os.path.join(d, "train.cds"), "--test", os.path.join(d, "test.cds"),
                       "--bottom", "16,16", "--top", "64,1", "--optimizer", "adagrad", "--lr", "0.01", "--epochs", "2",
                       "--quiet", "--report", report])
            self.assertEqual(res.returncode, 0, res.stderr)
            with open(report) as f:
                self.assertGreater(json.load(f)["test"]["auc"], 0.9)

    def test_ml100k_schema_with_side_files_and_ranking(self):
        with tempfile.TemporaryDirectory() as d:
            res = run([CEMBED, "prepare", "--format", "csv", "--schema",
                       os.path.join(SOURCE_DIR, "data", "schemas", "ml-100k.toml"), "--train",
                       os.path.join(DATA, "ml-100k", "ml-100k.inter"), "--out", d])
            self.assertEqual(res.returncode, 0, res.stderr)
            with open(os.path.join(d, "prepare.json")) as f:
                stats = json.load(f)
            # 100,000 ratings; each of the 943 users' latest one is the test set.
            self.assertEqual(stats["train"]["rows"] + stats["test"]["rows"], 100000)
            self.assertEqual(stats["test"]["rows"], 943)
            clicks = sum(stats[s]["ctr"] * stats[s]["rows"] for s in ("train", "test"))
            self.assertAlmostEqual(clicks / 100000, 0.55, delta=0.01)  # README: 55% have rating >= 4
            feats = {f["name"]: f for f in stats["features"]}
            self.assertEqual(list(feats), ["user_id", "item_id", "age", "gender", "occupation", "zip_code",
                                           "release_year", "class"])
            self.assertEqual(feats["user_id"]["distinct_values"], 943)
            self.assertEqual(feats["gender"]["distinct_values"], 2)
            self.assertTrue(feats["class"]["multi_valued"])
            self.assertEqual(feats["class"]["distinct_values"], 19)  # genres as one bag per item
            self.assertEqual(stats["rows_without_side_row"], 0)
            report = os.path.join(d, "r.json")
            res = run([CEMBED, "train", "--train", os.path.join(d, "train.cds"), "--test", os.path.join(d, "test.cds"),
                       "--bottom", "16,16", "--top", "64,1", "--optimizer", "adagrad", "--lr", "0.01", "--ranking",
                       "--quiet", "--report", report])
            self.assertEqual(res.returncode, 0, res.stderr)
            self.assertIn("ranking: ", res.stdout)  # printed, not only in the report
            self.assertIn("nDCG@10", res.stdout)
            with open(report) as f:
                r = json.load(f)
            self.assertGreater(r["test"]["auc"], 0.7)
            rk = r["ranking"]
            self.assertEqual((rk["k"], rk["negatives"]), (10, 100))
            self.assertGreater(rk["queries"], 400)  # users whose latest rating is >= 4
            # Better than a random ranking (nDCG@10 of a random rank among 101 is about 0.04).
            self.assertGreater(rk["ndcg_at_k"], 0.08)
            self.assertGreater(rk["hit_rate_at_k"], rk["ndcg_at_k"])

    def test_auc_matches_pytorch_reference(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "rows.json")
            res = run(["/usr/bin/python3", os.path.join(SOURCE_DIR, "bench", "real_data_results.py"), "--data", DATA,
                       "--json", out])
            self.assertEqual(res.returncode, 0, res.stderr)
            print(res.stdout)
            with open(out) as f:
                rows = json.load(f)
        self.assertEqual({r["data"] for r in rows}, {"criteo-kaggle-8k", "avazu-9k", "frappe", "ml-100k"})
        for r in rows:
            self.assertLess(abs(r["cembed_auc"] - r["torch_auc"]), 0.003, r)
            self.assertGreater(r["cembed_auc"], 0.65, r)


if __name__ == "__main__":
    unittest.main()
