"""The command line's flags, config files, messages, output checks and data identities
(docs/reliability.md): every numeric flag's range is checked (a table of bad values and
the message each gets, and good boundary values that run), nothing hangs or crashes."""
import json
import os
import shutil
import tempfile
import unittest

from common import CEMBED, run

# (command, flag, bad value, what the message says). Every numeric flag of every command.
BAD_VALUES = [
    ("train", "--lr", "-1", "must be above 0"),
    ("train", "--lr", "0", "must be above 0"),
    ("train", "--threads", "0", "must be 1 to"),
    ("train", "--threads", "-1", "must be 1 to"),
    ("train", "--threads", "100000", "must be 1 to"),
    ("train", "--warmup-steps", "-5", "must be at least 0"),
    ("train", "--checkpoint-every", "-1", "must be at least 0"),
    ("train", "--small-threshold", "-1", "must be at least 0"),
    ("train", "--max-steps", "0", "must be at least 1, or -1 (all epochs)"),
    ("train", "--max-steps", "-2", "must be at least 1, or -1 (all epochs)"),
    ("train", "--ranking-negatives", "-5", "must be 0 to"),
    ("train", "--ranking-k", "0", "must be 1 to"),
    ("train", "--eval-batch-size", "0", "must be 1 to 16777216"),
    ("train", "--eval-batch-size", "-1", "must be 1 to 16777216"),
    ("train", "--batch-size", "0", "must be 1 to 16777216"),
    ("train", "--batch-size", "99999999", "must be 1 to 16777216"),
    ("train", "--dim", "0", "must be 1 to"),
    ("train", "--dim", "99999999", "must be 1 to"),
    ("train", "--epochs", "-1", "must be 0 to"),
    ("train", "--decay-start", "-2", "or -1 (no decay)"),
    ("train", "--decay-steps", "-1", "must be at least 0"),
    ("train", "--eval-every", "-1", "must be at least 0"),
    ("train", "--compression", "0", "must be above 0"),
    ("train", "--compression", "-4", "must be above 0"),
    ("train", "--bottom", "32,0", "must be 1 to"),
    ("train", "--top", "-3", "must be 1 to"),
    ("compare", "--threads", "0", "must be 1 to"),
    ("sweep", "--max-steps", "0", "must be at least 1"),
    ("eval", "--batch-size", "0", "must be 1 to 16777216"),
    ("eval", "--batch-size", "-1", "must be 1 to 16777216"),
    ("eval", "--threads", "0", "must be 1 to"),
    ("eval", "--ranking-k", "0", "must be 1 to"),
    ("eval", "--ranking-negatives", "-5", "must be 0 to"),
    ("plan", "--dim", "0", "must be 1 to"),
    ("plan", "--compression", "-1", "must be above 0"),
    ("plan", "--small-threshold", "-1", "must be at least 0"),
    ("synth", "--train-rows", "0", "must be 1 to"),
    ("synth", "--valid-rows", "-1", "must be 0 to"),
    ("synth", "--test-rows", "-1", "must be 0 to"),
    ("synth", "--scale", "0", "must be above 0"),
    ("synth", "--cardinality", "-3", "or 0 (Criteo's, scaled)"),
    ("synth", "--zipf", "-1", "must be 0 to 10"),
    ("synth", "--value-noise", "-1", "must be 0 to 100"),
    ("synth", "--logit-scale", "-1", "must be 0 to 100"),
    ("synth", "--ctr", "1", "must be above 0, below 1"),
    ("synth", "--ctr", "0", "must be above 0, below 1"),
    ("synth", "--threads", "0", "must be 1 to"),
    ("prepare", "--min-count", "0", "must be 1 to"),
    ("prepare", "--threads", "0", "must be 1 to"),
    ("prepare", "--test-fraction", "1", "must be at least 0, below 1"),
    ("prepare", "--valid-fraction", "-0.1", "must be at least 0, below 1"),
    ("prepare", "--hash-buckets", "1", "or 0 (count a vocabulary)"),
    ("prepare", "--max-line-bytes", "0", "must be 1 to"),
    ("prepare", "--libfm-fields", "-1", "must be 0 to"),
    ("signatures", "--hashes", "0", "must be 1 to 256"),
    ("signatures", "--hashes", "257", "must be 1 to 256"),
    ("signatures", "--sample", "0", "must be above 0, at most 1"),
    ("signatures", "--sample", "1.5", "must be above 0, at most 1"),
]

# Good values at the ends of their ranges: a short training run takes each.
GOOD_TRAIN_VALUES = [
    ["--threads", "1"], ["--max-steps", "1"], ["--max-steps", "-1", "--epochs", "1"], ["--warmup-steps", "0"],
    ["--checkpoint-every", "0"], ["--small-threshold", "0"], ["--eval-batch-size", "1"], ["--batch-size", "1"],
    ["--decay-start", "-1"], ["--decay-start", "0", "--decay-steps", "0"], ["--eval-every", "0"],
    ["--ranking-negatives", "0"], ["--ranking-k", "1"], ["--epochs", "0", "--max-steps", "2"], ["--dim", "1"],
]


class CliFlags(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name
        for sub, seed in (("a", "3"), ("b", "4")):  # b: same shape, another vocabulary
            out = run([CEMBED, "synth", "--out", os.path.join(cls.dir, sub), "--train-rows", "3000", "--test-rows",
                       "800", "--scale", "0.0005", "--seed", seed])
            assert out.returncode == 0, out.stderr
        cls.ckpt = os.path.join(cls.dir, "model.ckpt")
        out = run([CEMBED, "train"] + cls.args(cls) + ["--checkpoint", cls.ckpt])
        assert out.returncode == 0, out.stderr

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def path(self, *names):
        return os.path.join(self.dir, *names)

    def args(self, data="a"):
        return ["--train", os.path.join(self.dir, data, "train.cds"), "--test", os.path.join(self.dir, data, "test.cds"),
                "--embedding", "hash", "--compression", "4", "--dim", "4", "--bottom", "8", "--top", "8",
                "--batch-size", "128", "--threads", "2", "--quiet"]

    def required(self, command):
        a = self.path("a", "train.cds")
        return {"train": ["--train", a], "compare": ["--train", a], "sweep": ["--train", a],
                "eval": ["--model", self.ckpt, "--data", a], "plan": ["--data", a], "synth": ["--out", self.path("s")],
                "prepare": ["--train", a, "--out", self.path("p")], "signatures": ["--data", a]}[command]

    def test_every_numeric_flag_refuses_values_outside_its_range(self):
        for command, flag, value, fragment in BAD_VALUES:
            with self.subTest(command=command, flag=flag, value=value):
                out = run([CEMBED, command] + self.required(command) + [flag, value], timeout=60)
                self.assertNotEqual(out.returncode, 0, out.stdout)
                self.assertNotIn("unexpected error", out.stderr)
                self.assertIn(flag, out.stderr)
                self.assertIn(fragment, out.stderr)
                self.assertIn(f"got {value.split(',')[-1]}", out.stderr)

    def test_help_shows_every_range(self):
        out = run([CEMBED, "train", "--help"])
        for text in ("--lr", "above 0, at most 100", "--max-steps", "at least 1, or -1 (all epochs)",
                     "--eval-batch-size", "1 to 16777216"):
            self.assertIn(text, out.stdout)

    def test_good_boundary_values_are_accepted(self):
        for extra in GOOD_TRAIN_VALUES:
            with self.subTest(extra=extra):
                args = self.args()
                for i in range(0, len(extra), 2):  # the value given here replaces the default args'
                    if extra[i] in args:
                        del args[args.index(extra[i]):args.index(extra[i]) + 2]
                base = [] if "--max-steps" in extra else ["--max-steps", "3"]
                out = run([CEMBED, "train"] + args + base + extra, timeout=300)
                self.assertEqual(out.returncode, 0, out.stderr)
        out = run([CEMBED, "eval", "--model", self.ckpt, "--data", self.path("a", "test.cds"), "--batch-size", "1",
                   "--threads", "1"], timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)

    def test_batch_size_zero_ends_at_once(self):  # spun at 200% CPU forever before
        out = run([CEMBED, "eval", "--model", self.ckpt, "--data", self.path("a", "test.cds"), "--batch-size", "0"],
                  timeout=60)
        self.assertNotEqual(out.returncode, 0)
        out = run([CEMBED, "train"] + self.args() + ["--eval-batch-size", "0"], timeout=60)
        self.assertNotEqual(out.returncode, 0)

    def test_a_run_too_big_for_the_machine_says_so(self):  # std::bad_alloc before
        args = self.args()
        args[args.index("--embedding") + 1] = "hash:rows=1000000000000"  # 1e12 rows: more than any machine
        del args[args.index("--compression"):args.index("--compression") + 2]
        out = run([CEMBED, "train"] + args, timeout=60)
        self.assertEqual(out.returncode, 1, out.stderr)
        self.assertIn("needs about", out.stderr)
        self.assertIn("GiB available", out.stderr)

    def test_readme_config_file_with_numbers(self):
        # README: "keys are the long option names: batch-size = 2048"; numbers, floats,
        # arrays and booleans as TOML writes them (every number failed before).
        cfg = self.path("readme.toml")
        with open(cfg, "w") as f:
            f.write(f'train = "{self.path("a", "train.cds")}"\ntest = "{self.path("a", "test.cds")}"\n'
                    'embedding = "hash"\ncompression = 4\ndim = 4\nbottom = [8]\ntop = [8, 4]\n'
                    'optimizer = "adagrad"\nlr = 0.05\nbatch-size = 2048\nmax-steps = 3\nquiet = true\n'
                    'no-shuffle = false\n')
        report = self.path("readme.json")
        out = run([CEMBED, "train", "--config", cfg, "--report", report])
        self.assertEqual(out.returncode, 0, out.stderr)
        with open(report) as f:
            c = json.load(f)["config"]
        self.assertEqual((c["batch_size"], c["max_steps"], c["model"]["top_hidden"], c["shuffle"]), (2048, 3, [8, 4], True))
        self.assertAlmostEqual(c["lr"], 0.05, places=7)  # a float32 setting
        # The command line wins over the file, also as --flag=value.
        out = run([CEMBED, "train", "--config", cfg, "--batch-size=64", "--report", report])
        self.assertEqual(out.returncode, 0, out.stderr)
        with open(report) as f:
            self.assertEqual(json.load(f)["config"]["batch_size"], 64)
        # A value out of range in the file gets the flag's message.
        with open(cfg, "a") as f:
            f.write("eval-batch-size = 0\n")
        out = run([CEMBED, "train", "--config", cfg])
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("--eval-batch-size", out.stderr)

    def test_no_test_set_is_said_not_printed_as_zeros(self):
        args = self.args()
        del args[args.index("--test"):args.index("--test") + 2]
        report = self.path("notest.json")
        out = run([CEMBED, "train"] + args + ["--max-steps", "3", "--report", report])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("no test set", out.stdout)
        self.assertNotIn("0.00000", out.stdout)
        with open(report) as f:
            self.assertNotIn("test", json.load(f))

    def test_unknown_command_and_option_are_named(self):
        out = run([CEMBED, "trian", "--train", "x.cds"])
        self.assertEqual(out.returncode, 1)
        self.assertIn("unknown command 'trian'; did you mean 'train'?", out.stderr)
        out = run([CEMBED, "train", "--train", "x.cds", "--lrr", "0.5"])
        self.assertEqual(out.returncode, 1)
        self.assertIn("unknown option '--lrr' for 'train'; did you mean '--lr'?", out.stderr)
        self.assertNotIn("0.5", out.stderr)
        out = run([CEMBED, "eval", "--bogus=3"])
        self.assertIn("unknown option '--bogus' for 'eval'", out.stderr)

    def test_explicit_size_and_budget_together_are_refused(self):
        args = self.args()
        args[args.index("--embedding") + 1] = "hash:rows=10"
        out = run([CEMBED, "train"] + args)
        self.assertEqual(out.returncode, 1)
        self.assertIn("'hash:rows=10' gives its size and a memory budget", out.stderr)
        out = run([CEMBED, "plan", "--data", self.path("a", "train.cds"), "--embedding", "hash:rows=10",
                   "--compression", "4"])
        self.assertIn("give one or the other", out.stderr)

    def test_outputs_are_checked_before_training(self):
        ck = self.path("never.ckpt")
        for flag, value, fragment in (("--report", self.path("typo", "r.json"), "does not exist"),
                                      ("--checkpoint", self.path("typo", "m.ckpt"), "does not exist"),
                                      ("--report", self.path("a"), "is a folder"),
                                      ("--export-initial", self.path("a", "train.cds", "init"), "is not a folder")):
            with self.subTest(flag=flag):
                extra = [] if flag == "--checkpoint" else ["--checkpoint", ck]
                out = run([CEMBED, "train"] + self.args() + ["--epochs", "1000", flag, value] + extra, timeout=60)
                self.assertEqual(out.returncode, 1, out.stderr)
                self.assertIn(fragment, out.stderr)
                self.assertFalse(os.path.exists(ck))
        out = run([CEMBED, "compare"] + self.args() + ["--epochs", "1000", "--out", self.path("typo", "all.json")],
                  timeout=60)
        self.assertIn("does not exist", out.stderr)
        out = run([CEMBED, "sweep"] + self.args() + ["--epochs", "1000", "--out", self.path("a", "train.cds", "sw")],
                  timeout=60)
        self.assertIn("is not a folder", out.stderr)
        out = run([CEMBED, "eval", "--model", self.ckpt, "--data", self.path("a", "test.cds"), "--report",
                   self.path("typo", "e.json")])
        self.assertIn("does not exist", out.stderr)

    def test_eval_refuses_another_vocabulary(self):
        ok = run([CEMBED, "eval", "--model", self.ckpt, "--data", self.path("a", "test.cds")])
        self.assertEqual(ok.returncode, 0, ok.stderr)
        out = run([CEMBED, "eval", "--model", self.ckpt, "--data", self.path("b", "test.cds")])
        self.assertEqual(out.returncode, 1)
        self.assertIn("prepared with another vocabulary", out.stderr)
        out = run([CEMBED, "eval", "--model", self.ckpt, "--data", self.path("a", "test.cds"), "--ranking",
                   "--history", self.path("b", "train.cds")])
        self.assertEqual(out.returncode, 1)
        self.assertIn("prepared with another vocabulary", out.stderr)

    def test_resume_knows_the_data_by_content(self):
        part = self.path("part.ckpt")
        out = run([CEMBED, "train"] + self.args() + ["--max-steps", "4", "--checkpoint", part])
        self.assertEqual(out.returncode, 0, out.stderr)
        copy = self.path("copy.cds")
        shutil.copyfile(self.path("a", "train.cds"), copy)
        for train in (copy, os.path.relpath(self.path("a", "train.cds"))):
            with self.subTest(train=train):
                args = self.args()
                args[args.index("--train") + 1] = train
                out = run([CEMBED, "train"] + args + ["--max-steps", "8", "--resume", part])
                self.assertEqual(out.returncode, 0, out.stderr)
                self.assertIn("resumed from", out.stderr)
        out = run([CEMBED, "train"] + self.args("b") + ["--max-steps", "8", "--resume", part])
        self.assertEqual(out.returncode, 1)
        self.assertIn("trained on other data", out.stderr)


if __name__ == "__main__":
    unittest.main()
