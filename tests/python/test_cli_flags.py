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
    ("sweep", "--ranks-per-cell", "0", "must be 1 to"),
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
    ("synth", "--group-scale", "-1", "must be 0 to 100"),
    ("synth", "--latent-groups", "0", "must be 1 to"),
    ("synth", "--cooccurrence", "1.5", "must be 0 to 1"),
    ("synth", "--duplicate", "-0.5", "must be 0 to 1"),
    ("synth", "--cooccur-signal", "-1", "must be 0 to 100"),
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
    ["--ranking-negatives", "0"], ["--ranking-k", "1"], ["--epochs", "0", "--max-steps", "2"], ["--dim", "1", "--bottom", "8,1"],
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

    def args(self, data="a", method=True):
        """A small run's flags; without the method and budget (method=False) for compare and sweep."""
        return ["--train", os.path.join(self.dir, data, "train.cds"), "--test", os.path.join(self.dir, data, "test.cds"),
                "--dim", "4", "--bottom", "8,4", "--top", "8,1", "--batch-size", "128", "--threads", "2",
                "--quiet"] + (["--embedding", "hash", "--compression", "4"] if method else [])

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
                    'embedding = "hash"\ncompression = 4\ndim = 4\nbottom = [8, 4]\ntop = [8, 4, 1]\n'
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
        out = run([CEMBED, "compare"] + self.args(method=False) + ["--epochs", "1000", "--out",
                                                                   self.path("typo", "all.json")], timeout=60)
        self.assertIn("does not exist", out.stderr)
        out = run([CEMBED, "sweep"] + self.args(method=False) + ["--epochs", "1000", "--out",
                                                                 self.path("a", "train.cds", "sw")], timeout=60)
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


    # Every option of train, a value unlike its default, and what the report's config holds
    # then (one entry per setting of visit_train_settings; --resume, --ranking and --config
    # are tried on their own below).
    def every_setting(self):
        a = lambda *n: self.path("a", *n)
        return {
            "--train": (a("train.cds"), {"train_path": a("train.cds")}),
            "--valid": (a("test.cds"), {"valid_path": a("test.cds")}),
            "--test": (a("test.cds"), {"test_path": a("test.cds")}),
            "--dim": ("4", {"model": {"dim": 4}}),
            "--bottom": ("8,4", {"model": {"bottom_hidden": [8]}}),
            "--top": ("6,2,1", {"model": {"top_hidden": [6, 2]}}),
            "--pooling": ("mean", {"model": {"pooling": "mean"}}),
            "--embedding": ("hash", {"embedding": "hash"}),
            "--compression": ("4", {"budget_kind": "ratio", "budget_value": 4.0}),
            "--small-threshold": ("7", {"small_threshold": 7}),
            "--allocation": ("uniform", {"allocation": "uniform"}),
            "--optimizer": ("adagrad", {"optimizer": "adagrad"}),
            "--table-optimizer": ("rowwise_adagrad", {"table_optimizer": "rowwise_adagrad"}),
            "--dense-precision": ("bf16", {"dense_precision": "bf16"}),
            "--lr": ("0.5", {"lr": 0.5}),
            "--warmup-steps": ("1", {"warmup_steps": 1}),
            "--decay-start": ("1", {"decay_start": 1}),
            "--decay-steps": ("2", {"decay_steps": 2}),
            "--batch-size": ("64", {"batch_size": 64}),
            "--epochs": ("2", {"epochs": 2}),
            "--max-steps": ("3", {"max_steps": 3}),
            "--threads": ("1", {"threads": 1}),
            "--fixed-threads": (None, {"fixed_threads": True}),
            "--seed": ("9", {"seed": 9}),
            "--shards": ("2", {"shards": 2}),
            "--exchange": ("dense", {"exchange": "dense"}),
            "--no-shuffle": (None, {"shuffle": False}),
            "--eval-every": ("2", {"eval_every": 2}),
            "--eval-batch-size": ("100", {"eval_batch_size": 100}),
            "--checkpoint": (self.path("every.ckpt"), {"checkpoint_path": self.path("every.ckpt")}),
            "--checkpoint-every": ("2", {"checkpoint_every": 2}),
            "--report": (self.path("every.json"), {"report_path": self.path("every.json")}),
            "--export-initial": (self.path("every-init"), {"export_initial_dir": self.path("every-init")}),
            "--quiet": (None, {"progress": False}),
            "--ranking-k": ("5", {"ranking_k": 5}),
            "--ranking-negatives": ("7", {"ranking_negatives": 7}),
        }

    @staticmethod
    def flags(settings):
        args = []
        for flag, (value, _) in settings.items():
            args += [flag] if value is None else [flag, value]
        return args

    def options_in_help(self, command):
        out = run([CEMBED, command, "--help"])
        self.assertEqual(out.returncode, 0, out.stderr)
        return {w.rstrip(",") for line in out.stdout.splitlines() for w in line.split()[:2] if w.startswith("--")}

    def check_config(self, config, expected):
        for key, value in expected.items():
            if isinstance(value, dict):
                self.check_config(config[key], value)
            elif isinstance(value, float):
                self.assertAlmostEqual(config[key], value, places=6, msg=key)
            else:
                self.assertEqual(config[key], value, key)

    def test_every_train_setting_round_trips_through_the_command_line_and_a_config_file(self):
        settings = self.every_setting()
        untried = {"--resume", "--ranking", "--embedding-budget", "--config", "--help"}
        self.assertEqual(self.options_in_help("train") - untried, set(settings), "a setting without a test value")
        args = self.flags(settings)
        out = run([CEMBED, "train"] + args, timeout=300)
        self.assertEqual(out.returncode, 0, out.stderr)
        with open(self.path("every.json")) as f:
            by_flags = json.load(f)["config"]
        for flag, (_, expected) in settings.items():
            with self.subTest(flag=flag):
                self.check_config(by_flags, expected)
        # The same settings from a TOML file (keys: the option names) give the same config.
        cfg = self.path("every.toml")
        with open(cfg, "w") as f:
            for flag, (value, _) in settings.items():
                key = flag[2:]
                if value is None:
                    f.write(f"{key} = true\n")
                elif "," in value:
                    f.write(f"{key} = [{value}]\n")
                elif value.replace(".", "", 1).isdigit():
                    f.write(f"{key} = {value}\n")
                else:
                    f.write(f'{key} = "{value}"\n')
        out = run([CEMBED, "train", "--config", cfg], timeout=300)
        self.assertEqual(out.returncode, 0, out.stderr)
        with open(self.path("every.json")) as f:
            self.assertEqual(json.load(f)["config"], by_flags)
        # --resume from the checkpoint of those settings, with more steps.
        more = dict(settings, **{"--max-steps": ("4", {})})
        out = run([CEMBED, "train"] + self.flags(more) + ["--resume", self.path("every.ckpt")], timeout=300)
        self.assertEqual(out.returncode, 0, out.stderr)
        with open(self.path("every.json")) as f:
            self.check_config(json.load(f)["config"], {"resume_path": self.path("every.ckpt"), "max_steps": 4})
        # --embedding-budget, as bytes.
        bytes_budget = dict(settings)
        del bytes_budget["--compression"]
        bytes_budget["--embedding-budget"] = ("100000", {"budget_kind": "bytes", "budget_value": 100000.0})
        out = run([CEMBED, "train"] + self.flags(bytes_budget), timeout=300)
        self.assertEqual(out.returncode, 0, out.stderr)
        with open(self.path("every.json")) as f:
            self.check_config(json.load(f)["config"], bytes_budget["--embedding-budget"][1])

    def test_the_resume_check_names_the_setting_that_differs(self):
        part = self.path("named.ckpt")
        out = run([CEMBED, "train"] + self.args() + ["--max-steps", "2", "--checkpoint", part, "--lr", "0.05"])
        self.assertEqual(out.returncode, 0, out.stderr)
        out = run([CEMBED, "train"] + self.args() + ["--max-steps", "4", "--resume", part, "--lr", "0.01"])
        self.assertEqual(out.returncode, 1, out.stderr)
        self.assertIn("another configuration: --lr is 0.05 there, 0.01 in this run", out.stderr)
        args = self.args()
        args[args.index("--bottom") + 1] = "16,4"
        out = run([CEMBED, "train"] + args + ["--max-steps", "4", "--resume", part, "--lr", "0.05"])
        self.assertEqual(out.returncode, 1, out.stderr)
        self.assertIn("--bottom is 8,4 there, 16,4 in this run", out.stderr)

    def test_each_command_takes_only_the_options_it_uses(self):
        a = self.path("a", "train.cds")
        for command, flag, value in [("sweep", "--embedding", "x"), ("sweep", "--compression", "4"),
                                     ("sweep", "--embedding-budget", "1MiB"), ("sweep", "--report", "r.json"),
                                     ("sweep", "--seed", "3"), ("sweep", "--checkpoint", "c"),
                                     ("sweep", "--resume", "c"), ("compare", "--report", "r.json"),
                                     ("compare", "--embedding", "hash"), ("compare", "--compression", "4"),
                                     ("compare", "--checkpoint", "c"), ("compare", "--export-initial", "d"),
                                     ("plan", "--lr", "0.1"), ("plan", "--train", a)]:
            with self.subTest(command=command, flag=flag):
                out = run([CEMBED, command, "--train" if command != "plan" else "--data", a, flag, value])
                self.assertEqual(out.returncode, 1, out.stderr)
                self.assertIn(f"unknown option '{flag}' for '{command}'", out.stderr)
        # The same refusal in a config file.
        cfg = self.path("compare.toml")
        with open(cfg, "w") as f:
            f.write('report = "r.json"\n')
        out = run([CEMBED, "compare", "--train", a, "--config", cfg])
        self.assertEqual(out.returncode, 1, out.stderr)
        self.assertIn("'report' is not an option of 'compare'", out.stderr)
        # compare and sweep still take the settings they honour.
        for command in ("compare", "sweep"):
            for flag in ("--dim", "--bottom", "--top", "--lr", "--max-steps", "--quiet", "--test", "--threads"):
                self.assertIn(flag, self.options_in_help(command), command)
        self.assertIn("--seed", self.options_in_help("compare"))

    def test_every_memory_ratio_has_the_range_of_compression(self):
        a = self.path("a", "train.cds")
        cases = ((["sweep", "--train", a, "--test", a, "--ratios", "4", "0", "--out", self.path("sw")], "bad ratio '0'"),
                 (["sweep", "--train", a, "--test", a, "--ratios", "2e9", "--out", self.path("sw")], "bad ratio '2e9'"),
                 (["sweep", "--train", a, "--test", a, "--ratios", "x4", "--out", self.path("sw")], "bad ratio 'x4'"),
                 (["compare", "--train", a, "--test", a, "--runs", "hash@2e9"], "bad ratio of run 'hash@2e9'"),
                 (["compare", "--train", a, "--test", a, "--runs", "hash@-1"], "bad ratio of run 'hash@-1'"),
                 (["train", "--train", a, "--compression", "2e9"], "--compression"))
        bound = "at most 1000000000"
        for args, message in cases:
            with self.subTest(args=args):
                out = run([CEMBED] + args)
                self.assertNotEqual(out.returncode, 0, out.stderr)
                self.assertIn(message, out.stderr)
                if "2e9" in " ".join(args):
                    self.assertIn(bound, out.stderr)

    def test_plan_takes_the_budget_as_train_does(self):
        a = self.path("a", "train.cds")
        for command, data in (("train", "--train"), ("plan", "--data")):
            with self.subTest(command=command):
                out = run([CEMBED, command, data, a, "--embedding", "hash", "--compression", "4", "--embedding-budget",
                           "1MiB"])
                self.assertEqual(out.returncode, 1, out.stderr)
                self.assertIn("give --embedding-budget or --compression, not both", out.stderr)
        help_train, help_plan = (run([CEMBED, c, "--help"]).stdout for c in ("train", "plan"))
        for line in help_plan.splitlines():
            if line.strip().startswith(("--compression", "--embedding-budget", "--dim", "--small-threshold",
                                        "--embedding ")):
                self.assertIn(line.strip(), help_train)  # one declaration: the same help and default
        out = run([CEMBED, "plan", "--data", a, "--embedding", "hash", "--compression", "4"])
        self.assertEqual(out.returncode, 0, out.stderr)

    def test_layer_lists_end_with_dim_and_1(self):
        args = self.args()  # --dim 4 --bottom 8,4 --top 8,1
        for flag, value, fragment in [
                ("--bottom", "8", "--bottom 8: the last size is the bottom MLP's output and must equal --dim 4 "
                                  "(TorchRec's dense_arch_layer_sizes); write --bottom 8,4"),
                ("--bottom", "512,256,64", "write --bottom 512,256,64,4 (or give --dim 64)"),
                ("--top", "8", "--top 8: the last size is the top MLP's output, the click logit, and must be 1"),
                ("--top", "512,256", "write --top 512,256,1")]:
            with self.subTest(flag=flag, value=value):
                a = list(args)
                a[a.index(flag) + 1] = value
                out = run([CEMBED, "train"] + a + ["--max-steps", "1"])
                self.assertEqual(out.returncode, 1, out.stderr)
                self.assertIn(fragment, out.stderr)
        # The lists as TorchRec writes them; the defaults end with --dim and 1.
        report = self.path("layers.json")
        out = run([CEMBED, "train"] + args + ["--max-steps", "1", "--report", report])
        self.assertEqual(out.returncode, 0, out.stderr)
        with open(report) as f:
            model = json.load(f)["config"]["model"]
        self.assertEqual((model["bottom_hidden"], model["top_hidden"]), ([8], [8]))
        a = [x for i, x in enumerate(args) if x not in ("--bottom", "--top") and args[i - 1] not in ("--bottom", "--top")]
        out = run([CEMBED, "train"] + a + ["--max-steps", "1", "--report", report])
        self.assertEqual(out.returncode, 0, out.stderr)
        with open(report) as f:
            model = json.load(f)["config"]["model"]
        self.assertEqual((model["bottom_hidden"], model["top_hidden"]), ([512, 256, 64], [512, 256]))
        help_text = run([CEMBED, "train", "--help"]).stdout
        for text in ("dense_arch_layer_sizes", "over_arch_layer_sizes", "--arch-mlp-bot", "512,256,64,<dim>",
                     "512,256,1"):
            self.assertIn(text, help_text)


    def sweep(self, out_dir, *extra):
        return run([CEMBED, "sweep"] + self.args(method=False) + ["--methods", "full", "--max-steps", "2", "--out",
                                                                  out_dir] + list(extra), timeout=300)

    def test_sweep_plots_without_a_shell_and_keeps_its_results_when_they_fail(self):
        # The build tree keeps the plot script beside the executable, where sweep looks first.
        self.assertTrue(os.path.isfile(os.path.join(os.path.dirname(CEMBED), "plot_sweep.py")))
        failing = self.path("fail_plot.py")
        with open(failing, "w") as f:
            f.write("import sys\nsys.exit(1)\n")
        out_dir = self.path("sweep fail")
        out = self.sweep(out_dir, "--plot-script", failing)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("warning: no plots", out.stderr)
        self.assertIn("exited with status 1", out.stderr)
        self.assertTrue(os.path.isfile(os.path.join(out_dir, "results.json")))
        # A missing script: a warning, the results stay.
        out = self.sweep(out_dir, "--plot-script", self.path("no_such_plot.py"))
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("no_such_plot.py is not a file", out.stderr)
        # The script gets the folder as one argument, whatever characters it holds (no shell).
        recording = self.path("record_plot.py")
        with open(recording, "w") as f:
            f.write("import sys\nopen(sys.argv[1] + '/plotted', 'w').write(repr(sys.argv[1:]))\n")
        odd = self.path("it's a $(sweep)")
        out = self.sweep(odd, "--plot-script", recording)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertNotIn("warning", out.stderr)
        with open(os.path.join(odd, "plotted")) as f:
            self.assertEqual(f.read(), repr([odd]))
        # An installed layout: bin/cembed finds share/cembed/plot_sweep.py.
        prefix = self.path("installed")
        os.makedirs(os.path.join(prefix, "bin"))
        os.makedirs(os.path.join(prefix, "share", "cembed"))
        shutil.copy(CEMBED, os.path.join(prefix, "bin", "cembed"))
        shutil.copy(recording, os.path.join(prefix, "share", "cembed", "plot_sweep.py"))
        out_dir = self.path("sweep installed")
        out = run([os.path.join(prefix, "bin", "cembed"), "sweep"] + self.args(method=False) +
                  ["--methods", "full", "--max-steps", "2", "--out", out_dir], timeout=300)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertTrue(os.path.isfile(os.path.join(out_dir, "plotted")), out.stderr)


if __name__ == "__main__":
    unittest.main()
