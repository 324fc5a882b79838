"""Fault injection through the command-line tool: kill -9 during training with periodic
checkpoints, then --resume, gives the model of an uninterrupted run; a full disk (a file size
limit, RLIMIT_FSIZE, with SIGXFSZ ignored so writes fail with EFBIG) keeps the previous good
checkpoint and prepared folder, names the file and leaves no temporary file; two prepares
into one folder never mix (one is refused at once)."""
import errno
import fcntl
import glob
import json
import os
import resource
import signal
import struct
import subprocess
import tempfile
import time
import unittest

from common import CEMBED, run


def limited(max_bytes):
    """preexec_fn: the child may write files of at most max_bytes, as on a full disk."""
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # inherited through exec: EFBIG instead of a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    return apply


def checkpoint_model(path):
    """(step, model bytes) of a checkpoint: the framed payload less its config and plan."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack_from("<Q", data, 12)[0]
    payload = data[20:20 + n]
    at = 0
    for _ in range(2):  # config JSON, plan JSON
        size = struct.unpack_from("<Q", payload, at)[0]
        at += 8 + size
    step = struct.unpack_from("<q", payload, at)[0]
    return step, payload[at + 24:]


def tree(folder):
    """Every file under folder: relative name -> bytes."""
    out = {}
    for root, _, files in os.walk(folder):
        for name in files:
            p = os.path.join(root, name)
            with open(p, "rb") as f:
                out[os.path.relpath(p, folder)] = f.read()
    return out


class Faults(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name
        for name, fmt, seed in (("data", "cds", "3"), ("text_a", "criteo", "4"), ("text_b", "criteo", "5")):
            out = run([CEMBED, "synth", "--out", os.path.join(cls.dir, name), "--train-rows", "12000", "--test-rows",
                       "2000", "--scale", "0.0005", "--seed", seed, "--format", fmt, "--threads", "1"])
            assert out.returncode == 0, out.stderr

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def folder(self, name):
        """A new folder for one test's outputs (a kill may leave a temporary file in it)."""
        d = self.path(name)
        os.makedirs(d)
        return d

    def train_args(self):
        return ["--train", self.path("data", "train.cds"), "--test", self.path("data", "test.cds"), "--embedding",
                "hash", "--compression", "4", "--dim", "8", "--bottom", "16,8", "--top", "16,1", "--optimizer", "adagrad",
                "--lr", "0.05", "--batch-size", "32", "--epochs", "3", "--threads", "1", "--seed", "7", "--quiet"]

    def assert_no_temporaries(self, folder):
        left = [n for n in os.listdir(folder) if ".tmp." in n or ".staging." in n]
        self.assertEqual(left, [])

    def test_kill_during_training_then_resume_gives_the_same_model(self):
        steps = 3 * 12000 // 32
        d = self.folder("kill")
        full = run([CEMBED, "train"] + self.train_args() + ["--checkpoint", os.path.join(d, "full.ckpt"), "--report",
                                                             os.path.join(d, "full.json")])
        self.assertEqual(full.returncode, 0, full.stderr)
        ck = os.path.join(d, "killed.ckpt")
        proc = subprocess.Popen([CEMBED, "train"] + self.train_args() + ["--checkpoint", ck, "--checkpoint-every", "20"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while not os.path.exists(ck) and proc.poll() is None:
                time.sleep(0.001)
            time.sleep(0.005)  # a few more steps: the kill may land in the middle of a checkpoint
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait()
        self.assertEqual(proc.returncode, -signal.SIGKILL, "the run ended before it could be killed")
        step, _ = checkpoint_model(ck)
        self.assertGreater(step, 0)
        self.assertLess(step, steps)
        self.assertEqual(step % 20, 0)
        resumed = run([CEMBED, "train"] + self.train_args() + ["--resume", ck, "--checkpoint",
                                                                os.path.join(d, "resumed.ckpt"), "--report",
                                                                os.path.join(d, "resumed.json")])
        self.assertEqual(resumed.returncode, 0, resumed.stderr)
        self.assertIn(f"resumed from {ck} at step {step}", resumed.stderr)
        self.assertEqual(checkpoint_model(os.path.join(d, "resumed.ckpt")), checkpoint_model(os.path.join(d, "full.ckpt")))
        with open(os.path.join(d, "full.json")) as a, open(os.path.join(d, "resumed.json")) as b:
            self.assertEqual(json.load(a)["test"]["auc"], json.load(b)["test"]["auc"])

    def test_full_disk_keeps_the_previous_checkpoint(self):
        d = self.folder("disk")
        ck = os.path.join(d, "disk.ckpt")
        args = ["--checkpoint", ck, "--max-steps", "20"]
        first = run([CEMBED, "train"] + self.train_args() + args)
        self.assertEqual(first.returncode, 0, first.stderr)
        with open(ck, "rb") as f:
            good = f.read()
        out = subprocess.run([CEMBED, "train"] + self.train_args() + ["--checkpoint", ck, "--max-steps", "40"],
                             capture_output=True, text=True, preexec_fn=limited(len(good) // 2))
        self.assertNotEqual(out.returncode, 0)
        self.assertIn(f"cannot write {ck}: {os.strerror(errno.EFBIG)}", out.stderr)
        with open(ck, "rb") as f:
            self.assertEqual(f.read(), good)
        self.assert_no_temporaries(d)

    def prepare(self, text, out, **kw):
        cmd = [CEMBED, "prepare", "--train", self.path(text, "train.txt"), "--test", self.path(text, "test.txt"),
               "--out", out, "--threads", "1"]
        return subprocess.run(cmd, capture_output=True, text=True, **kw)

    def test_full_disk_keeps_the_previous_prepared_folder(self):
        d = self.folder("prepared_disk")
        out = os.path.join(d, "out")
        first = self.prepare("text_a", out)
        self.assertEqual(first.returncode, 0, first.stderr)
        good = tree(out)
        # The first limit stops the assembled train.cds, the second the vocabulary before it.
        for limit, file in ((len(good["train.cds"]) // 2, "train.cds"), (4096, "vocabulary.bin")):
            res = self.prepare("text_b", out, preexec_fn=limited(limit))
            self.assertNotEqual(res.returncode, 0)
            self.assertIn(f"cannot write {os.path.join(out, file)}: {os.strerror(errno.EFBIG)}", res.stderr)
            self.assertNotIn("staging", res.stderr)
            self.assertEqual(tree(out), good)
            self.assert_no_temporaries(d)
            self.assert_no_temporaries(out)

    def test_a_prepare_into_a_folder_being_written_is_refused(self):
        d = self.folder("prepared_locked")
        out = os.path.join(d, "out")
        first = self.prepare("text_a", out)
        self.assertEqual(first.returncode, 0, first.stderr)
        good = tree(out)
        with open(os.path.join(d, ".out.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # as a prepare under way holds it
            res = self.prepare("text_b", out)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn(f"another process is writing {out}", res.stderr)
        self.assertEqual(tree(out), good)

    def test_concurrent_prepares_never_mix(self):
        d = self.folder("prepared_race")
        out = os.path.join(d, "out")
        procs = [subprocess.Popen([CEMBED, "prepare", "--train", self.path(t, "train.txt"), "--test",
                                   self.path(t, "test.txt"), "--out", out, "--threads", "1"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for t in ("text_a", "text_b")]
        results = [p.communicate() + (p.returncode,) for p in procs]
        winners = [i for i, (_, _, rc) in enumerate(results) if rc == 0]
        self.assertGreaterEqual(len(winners), 1)
        for _, err, rc in results:
            if rc != 0:
                self.assertIn(f"another process is writing {out}", err)
        # The folder is one run's, whole: prepare.json, train.cds and test.cds agree.
        with open(os.path.join(out, "prepare.json")) as f:
            stats = json.load(f)
        texts = [self.path(t, "train.txt") for t in ("text_a", "text_b")]
        self.assertIn(stats["train"]["files"][0], [texts[i] for i in winners])
        reference = os.path.join(d, "reference")
        source = "text_a" if stats["train"]["files"][0] == texts[0] else "text_b"
        self.assertEqual(self.prepare(source, reference).returncode, 0)
        self.assertEqual(tree(out), tree(reference))
        self.assert_no_temporaries(d)


if __name__ == "__main__":
    unittest.main()
