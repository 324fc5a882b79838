"""The command-line tool end to end: synth -> train (flags and TOML config) -> eval, and
clear errors for bad input."""
import json
import os
import tempfile
import unittest

from common import CEMBED, run


class CliEndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name
        out = run([CEMBED, "synth", "--out", cls.dir, "--train-rows", "20000", "--test-rows", "4000",
                   "--scale", "0.001", "--seed", "3"])
        assert out.returncode == 0, out.stderr
        cls.synth_stdout = out.stdout

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def train_args(self):
        return ["--train", self.path("train.cds"), "--test", self.path("test.cds"), "--embedding", "hash",
                "--compression", "4", "--dim", "8", "--bottom", "32,16,8", "--top", "32,1", "--optimizer", "adagrad",
                "--lr", "0.05", "--batch-size", "256", "--threads", "2", "--seed", "7", "--quiet"]

    def test_synth_reports_its_ceiling(self):
        self.assertIn("AUC ceiling", self.synth_stdout)
        with open(self.path("synthetic.json")) as f:
            stats = json.load(f)
        self.assertEqual(stats["train"]["rows"], 20000)
        self.assertGreater(stats["test"]["bayes_auc"], 0.7)

    def test_train_eval_and_config_file(self):
        ck, report = self.path("model.ckpt"), self.path("report.json")
        out = run([CEMBED, "train"] + self.train_args() + ["--checkpoint", ck, "--report", report])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("test AUC", out.stdout)
        with open(report) as f:
            r = json.load(f)
        auc = r["test"]["auc"]
        self.assertGreater(auc, 0.6)
        self.assertLess(auc, r["data"]["test"]["bayes_auc"] + 0.01)
        self.assertEqual(r["embedding"]["parameter_bytes"], r["plan"]["parameter_bytes"])
        self.assertLessEqual(r["embedding"]["parameter_bytes"], r["plan"]["budget_bytes"])

        # eval on the saved model gives the report's numbers
        ev = run([CEMBED, "eval", "--model", ck, "--data", self.path("test.cds"), "--report", self.path("eval.json")])
        self.assertEqual(ev.returncode, 0, ev.stderr)
        with open(self.path("eval.json")) as f:
            self.assertAlmostEqual(json.load(f)["auc"], auc, places=12)

        # the same options from a TOML file give the same model
        args = self.train_args()
        toml = []
        i = 0
        while i < len(args):
            key = args[i][2:]
            if key == "quiet":
                toml.append("quiet = true")
                i += 1
                continue
            value = args[i + 1]
            toml.append(f"{key} = [{value}]" if "," in value else f'{key} = "{value}"')
            i += 2
        with open(self.path("train.toml"), "w") as f:
            f.write("\n".join(toml) + "\n")
        report2 = self.path("report2.json")
        out = run([CEMBED, "train", "--config", self.path("train.toml"), "--report", report2])
        self.assertEqual(out.returncode, 0, out.stderr)
        with open(report2) as f:
            self.assertEqual(json.load(f)["test"]["auc"], auc)

    def test_version_and_help_name_the_program(self):
        out = run([CEMBED, "--version"])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertRegex(out.stdout, r"^cembed \d+\.\d+\.\d+ \(x86-64-v3; fp32 GEMM Highway \S+ \(\d+ x \d+ tiles\); "
                                     r"bf16 GEMM ")
        out = run([CEMBED, "--help"])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("Usage: cembed", out.stdout)

    def test_bad_spec_is_a_clear_error(self):
        args = self.train_args()
        args[args.index("--embedding") + 1] = "hsah"
        out = run([CEMBED, "train"] + args)
        self.assertEqual(out.returncode, 1)
        self.assertIn("unknown method 'hsah'", out.stderr)
        self.assertIn("valid methods: full, hash", out.stderr)

    def test_unknown_config_key_names_the_file(self):
        cfg = self.path("bad.toml")
        with open(cfg, "w") as f:
            f.write('train = "x.cds"\nlearning-rate = 0.1\n')
        out = run([CEMBED, "train", "--config", cfg])
        self.assertEqual(out.returncode, 1)
        self.assertIn(f"{cfg}: 'learning-rate' is not an option of 'train'", out.stderr)

    def test_impossible_budget_names_the_smallest(self):
        out = run([CEMBED, "plan", "--data", self.path("train.cds"), "--embedding", "hash", "--embedding-budget", "1KB"])
        self.assertEqual(out.returncode, 1)
        self.assertIn("smallest budget", out.stderr)

    def test_damaged_dataset_is_refused(self):
        bad = self.path("bad.cds")
        with open(self.path("test.cds"), "rb") as f:
            data = f.read()
        with open(bad, "wb") as f:
            f.write(data[: len(data) // 2])
        out = run([CEMBED, "train", "--train", bad, "--quiet"])
        self.assertEqual(out.returncode, 1)
        self.assertIn(bad, out.stderr)
        self.assertIn("truncated", out.stderr)

    def test_methods_lists_every_method(self):
        out = run([CEMBED, "methods"])
        self.assertEqual(out.returncode, 0)
        for name in ("full", "hash", "qr", "cp", "path", "memcom", "robe", "lma", "md", "hot", "cce"):
            self.assertIn(name, out.stdout)

    def test_hot_and_cce_through_train_and_sweep(self):
        # A nested cold method with its own keys, and cce's schedule, from train and from the
        # sweep's method list (cold.op=add stays with its hot spec, not a method of its own).
        for spec in ("hot:cold=qr,cold.op=add", "cce:every=10,times=2"):
            args = self.train_args()
            args[args.index("--embedding") + 1] = spec
            report = self.path("new_method.json")
            out = run([CEMBED, "train"] + args + ["--max-steps", "40", "--report", report])
            self.assertEqual(out.returncode, 0, out.stderr)
            with open(report) as f:
                r = json.load(f)
            self.assertEqual(r["embedding"]["method"], spec)
            self.assertLessEqual(r["embedding"]["parameter_bytes"], r["plan"]["budget_bytes"])
            self.assertTrue(any(t["spec"].startswith(spec.split(":")[0] + ":") for t in r["plan"]["tables"]))
        out_dir = self.path("sweep_new")
        out = run([CEMBED, "sweep", "--train", self.path("train.cds"), "--test", self.path("test.cds"),
                   "--methods", "hot:cold=qr,cold.op=add,cce:every=10", "--ratios", "4", "--dim", "8",
                   "--bottom", "16,8", "--top", "16,1", "--max-steps", "30", "--quiet", "--no-plot", "--out", out_dir])
        self.assertEqual(out.returncode, 0, out.stderr)
        with open(os.path.join(out_dir, "results.json")) as f:
            runs = json.load(f)["runs"]
        self.assertEqual(sorted(r["method"] for r in runs), ["cce:every=10", "hot:cold=qr,cold.op=add"])
        self.assertTrue(all(r["status"] == "ok" for r in runs), runs)

    def test_tiny_sweep_end_to_end_and_resume(self):
        out_dir = self.path("sweep")
        args = [CEMBED, "sweep", "--train", self.path("train.cds"), "--test", self.path("test.cds"),
                "--methods", "full,hash,cp:kind=crt,parts=3,memcom,lma", "--ratios", "2,64", "--dim", "8",
                "--bottom", "16,8", "--top", "16,1", "--optimizer", "adagrad", "--lr", "0.05", "--max-steps", "80",
                "--quiet", "--out", out_dir]
        out = run(args)
        self.assertEqual(out.returncode, 0, out.stderr)
        with open(os.path.join(out_dir, "results.json")) as f:
            runs = json.load(f)["runs"]
        # full once at 1x, four methods at two ratios
        self.assertEqual(len(runs), 9)
        by_key = {(r["method"], r["ratio"]): r for r in runs}
        self.assertEqual(by_key[("full", 1)]["status"], "ok")
        # MEmCom keeps a weight per value: 64x at dim 8 is out of its reach, and said so
        self.assertEqual(by_key[("memcom", 64)]["status"], "infeasible")
        self.assertIn("smallest budget", by_key[("memcom", 64)]["error"])
        full_bytes = by_key[("full", 1)]["parameter_bytes"]
        for r in runs:
            if r["status"] == "ok" and r["method"] != "full":
                self.assertLessEqual(r["parameter_bytes"], full_bytes / r["ratio"] + 1)
                self.assertGreater(r["test"]["auc"], 0.55, r["method"])
        md = open(os.path.join(out_dir, "results.md")).read()
        self.assertIn("| cp:kind=crt,parts=3 |", md)
        self.assertIn("—", md)
        csv_lines = open(os.path.join(out_dir, "results.csv")).read().strip().split("\n")
        self.assertEqual(len(csv_lines), 1 + 9)
        for name in ("auc_vs_bytes", "logloss_vs_bytes", "training_curves"):
            for ext in ("png", "svg"):
                self.assertGreater(os.path.getsize(os.path.join(out_dir, f"{name}.{ext}")), 1000)
        # Resuming trains nothing new; another configuration in the same folder is refused.
        again = run(args + ["--no-plot"])
        self.assertEqual(again.returncode, 0, again.stderr)
        with open(os.path.join(out_dir, "results.json")) as f:
            self.assertEqual(json.load(f)["runs"], runs)
        other = run(args + ["--no-plot", "--batch-size", "64"])
        self.assertEqual(other.returncode, 1)
        self.assertIn("another configuration", other.stderr)


# The flags' ranges, config files, messages, output checks and data identities run with
# this module (CTest runs it as python_cli_end_to_end).


if __name__ == "__main__":
    unittest.main()
