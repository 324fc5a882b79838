"""Data-parallel training under mpirun (docs/distributed.md): 2 ranks on loopback train the
model one process trains on the same global batches (--shards 2), for every method and
optimizer; a configuration mismatch is refused; a killed rank stops the job, and its last
checkpoint resumes with another rank count; a sweep spreads its cells over the ranks, one
rank or one group of ranks (--ranks-per-cell) per cell.

Tolerance: the ranks sum the dense gradients of their halves of each batch (MPI allreduce),
where one process sums the whole batch inside one GEMM: the same terms in another order,
about 1e-7 relative per step in float. Over these runs the loss curves agree to about 1e-6
relative (measured); the tests allow 1e-4, while a lost or misordered share of a batch moves
the loss by more than 1e-3 (test_a_different_batch_order_is_told_apart shows the tests see it).
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from common import CEMBED, run

MPIRUN = shutil.which("mpirun")
MPI = [MPIRUN, "--oversubscribe", "--allow-run-as-root", "-np"] if MPIRUN else None
TOLERANCE = 1e-4
METHODS = ["full", "hash", "qr", "cp:kind=crt,parts=3", "path", "memcom", "robe", "lma", "md"]


def common_args(d):
    return ["--train", os.path.join(d, "train.cds"), "--test", os.path.join(d, "test.cds"), "--dim", "8",
            "--bottom", "16,8", "--top", "16,1", "--batch-size", "64", "--threads", "1", "--quiet"]


@unittest.skipUnless(MPIRUN, "mpirun not found (scripts/install-deps.sh installs openmpi-bin)")
class DistributedTraining(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="cembed_mpi_")
        out = run([CEMBED, "synth", "--out", cls.dir, "--train-rows", "6000", "--test-rows", "2000", "--scale",
                   "0.001", "--threads", "1"])
        assert out.returncode == 0, out.stderr

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def train(self, ranks, extra, report, timeout=300):
        cmd = ([CEMBED] if ranks == 0 else MPI + [str(ranks), CEMBED]) + ["train"] + common_args(self.dir) + extra
        out = run(cmd + ["--report", self.path(report)], timeout=timeout)
        self.assertEqual(out.returncode, 0, f"{' '.join(cmd)}\n{out.stdout}\n{out.stderr}")
        with open(self.path(report)) as f:
            return json.load(f), out

    def assert_same_model(self, one, job, what):
        a = [c["loss"] for c in one["train"]["curve"]]
        b = [c["loss"] for c in job["train"]["curve"]]
        self.assertEqual(len(a), len(b), what)
        worst = max(abs(x - y) / abs(x) for x, y in zip(a, b))
        self.assertLess(worst, TOLERANCE, f"{what}: loss curves differ by {worst:.3g} relative at worst")
        for key in ("logloss", "auc"):
            x, y = one["test"][key], job["test"][key]
            self.assertLess(abs(x - y) / abs(x), TOLERANCE, f"{what}: test {key} {x} in one process, {y} in 2 ranks")

    def test_every_method_trains_the_one_process_model(self):
        for method in METHODS:
            with self.subTest(method=method):
                extra = ["--embedding", method, "--optimizer", "adagrad", "--lr", "0.05"]
                if method != "full":
                    extra += ["--compression", "4"]
                one, _ = self.train(0, extra + ["--shards", "2"], "one.json")
                job, out = self.train(2, extra, "job.json")
                self.assert_same_model(one, job, method)
                dist = job["distributed"]
                self.assertEqual(dist["ranks"], 2)
                self.assertEqual([r["samples"] for r in dist["per_rank"]], [3000, 3000])
                self.assertTrue(all(r["bytes_sent_per_step"] > 0 for r in dist["per_rank"]))
                self.assertEqual(out.stdout.count("test AUC"), 1, "only rank 0 prints the table")
                self.assert_phases_add_up(one["train"], exchanged=False)
                for r in dist["per_rank"]:
                    self.assert_phases_add_up(r, exchanged=True)

    def assert_phases_add_up(self, record, exchanged):
        """The timed phases of the steps lie inside the training seconds, and only a job exchanges."""
        phases = record["phase_seconds"]
        self.assertEqual(set(phases), {"batch", "forward_backward", "exchange", "table_update", "dense_update"})
        self.assertTrue(all(v >= 0 for v in phases.values()), phases)
        self.assertGreater(phases["forward_backward"], 0)
        self.assertGreater(phases["table_update"], 0)
        self.assertLessEqual(sum(phases.values()), record["seconds"] * (1 + 1e-9), phases)
        self.assertEqual(phases["exchange"] > 0, exchanged, phases)

    def test_every_optimizer_trains_the_one_process_model(self):
        for opt in ("sgd", "adagrad", "rowwise_adagrad"):
            with self.subTest(optimizer=opt):
                extra = ["--embedding", "hash", "--compression", "4", "--optimizer", opt, "--lr", "0.05"]
                one, _ = self.train(0, extra + ["--shards", "2"], "one.json")
                job, _ = self.train(2, extra, "job.json")
                self.assert_same_model(one, job, opt)

    def test_the_sparse_and_the_dense_exchange_train_the_same_model(self):
        for method in ("robe", "lma"):
            for opt in ("adagrad", "rowwise_adagrad"):
                with self.subTest(method=method, optimizer=opt):
                    extra = ["--embedding", method, "--compression", "16", "--optimizer", opt, "--lr", "0.05"]
                    one, _ = self.train(0, extra + ["--shards", "2"], "one.json")
                    sparse, _ = self.train(2, extra + ["--exchange", "sparse"], "sparse.json")
                    dense, _ = self.train(2, extra + ["--exchange", "dense"], "dense.json")
                    self.assert_same_model(one, dense, f"{method} dense exchange")
                    self.assert_same_model(sparse, dense, f"{method} sparse against dense")
                    s = sparse["distributed"]["per_rank"][0]["bytes_sent_per_step"]
                    d = dense["distributed"]["per_rank"][0]["bytes_sent_per_step"]
                    self.assertNotEqual(s, d, "the two exchanges move different bytes")

    def test_a_different_batch_order_is_told_apart(self):
        extra = ["--embedding", "qr", "--compression", "4", "--optimizer", "adagrad", "--lr", "0.05"]
        one, _ = self.train(0, extra, "one.json")  # one shard: another order of rows
        job, _ = self.train(2, extra, "job.json")
        with self.assertRaises(AssertionError):
            self.assert_same_model(one, job, "one shard against two")

    def test_ranks_with_different_configurations_are_refused(self):
        args = ["train"] + common_args(self.dir)
        cmd = MPI + ["1", CEMBED] + args + ["--lr", "0.05", ":", "-np", "1", CEMBED] + args + ["--lr", "0.02"]
        out = run(cmd, timeout=120)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("rank 1 was started with another configuration than rank 0: --lr is 0.05 on rank 0, 0.02 here",
                      out.stderr)

    def sweep_in_one_process_and_on_two_ranks(self, args, one_extra, job_extra, outs):
        """The sweep `args` (with hash among its methods) in one process and as a job of 2 ranks,
        into the folders `outs`: both succeed, rank 0 alone prints, and both record the same
        configuration; returns their results.json."""
        one = run([CEMBED] + args + one_extra + ["--out", self.path(outs[0])], timeout=300)
        self.assertEqual(one.returncode, 0, one.stderr)
        job = run(MPI + ["2", CEMBED] + args + job_extra + ["--out", self.path(outs[1])], timeout=300)
        self.assertEqual(job.returncode, 0, job.stderr)
        self.assertEqual(job.stdout.count("| hash |"), 2, "rank 0 alone prints the tables")
        results = []
        for out in outs:
            with open(self.path(os.path.join(out, "results.json"))) as f:
                results.append(json.load(f))
        self.assertEqual(results[0]["config"], results[1]["config"])
        return results

    def test_a_sweep_spread_over_ranks_records_what_one_process_records(self):
        args = ["sweep"] + common_args(self.dir) + ["--methods", "full,hash,qr", "--ratios", "4,16", "--no-plot"]
        results = self.sweep_in_one_process_and_on_two_ranks(args, [], [], ("sweep1", "sweep2"))
        cells = [[(r["method"], r["ratio"], r["parameter_bytes"], r["test"]) for r in res["runs"]] for res in results]
        self.assertEqual(len(cells[1]), 5)
        for a, b in zip(*cells):
            self.assertEqual(a[:3], b[:3])
            self.assertEqual(a[3]["auc"], b[3]["auc"], f"{a[:2]}: each cell trains in one process either way")

    def test_a_sweep_of_cells_trained_by_groups_of_ranks_records_the_one_process_sweep_with_their_shards(self):
        args = ["sweep"] + common_args(self.dir) + ["--methods", "hash,lma", "--ratios", "8", "--optimizer",
                                                    "adagrad", "--lr", "0.05", "--max-steps", "40", "--no-plot"]
        results = self.sweep_in_one_process_and_on_two_ranks(args, ["--shards", "2"], ["--ranks-per-cell", "2"],
                                                             ("sweep_one", "sweep_cells"))
        self.assertEqual(results[1]["config"]["shards"], 2, "cells of 2 ranks train on 2 shards")
        self.assertEqual([(r["method"], r["ratio"]) for r in results[1]["runs"]], [("hash", 8), ("lma", 8)])
        for a, b in zip(results[0]["runs"], results[1]["runs"]):
            self.assertEqual(a["parameter_bytes"], b["parameter_bytes"])
            self.assert_same_model({"train": {"curve": a["curve"]}, "test": a["test"]},
                                   {"train": {"curve": b["curve"]}, "test": b["test"]}, a["method"])

    def test_a_sweep_whose_rank_count_is_not_a_multiple_of_its_ranks_per_cell_is_refused(self):
        args = ["sweep"] + common_args(self.dir) + ["--methods", "hash", "--ratios", "8", "--no-plot",
                                                    "--ranks-per-cell", "2", "--out", self.path("sweep_odd")]
        out = run(MPI + ["3", CEMBED] + args, timeout=120)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("sweep: --ranks-per-cell 2 does not divide the job's 3 ranks", out.stderr)
        self.assertFalse(os.path.exists(self.path(os.path.join("sweep_odd", "results.json"))))

    def test_other_commands_refuse_to_run_as_a_job(self):
        out = run(MPI + ["2", CEMBED, "plan", "--train", self.path("train.cds")], timeout=120)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("cembed plan runs in one process", out.stderr)

    def test_a_killed_rank_stops_the_job_and_its_checkpoint_resumes_with_another_rank_count(self):
        ckpt = self.path("run.ckpt")
        extra = ["--embedding", "hash", "--compression", "4", "--optimizer", "adagrad", "--lr", "0.05",
                 "--epochs", "400", "--checkpoint", ckpt, "--checkpoint-every", "20"]
        cmd = MPI + ["2", CEMBED, "train"] + common_args(self.dir) + extra
        job = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.time() + 60
            while not os.path.exists(ckpt) and time.time() < deadline:
                time.sleep(0.1)
            self.assertTrue(os.path.exists(ckpt), "no checkpoint within 60 s")
            victim = rank_pid(job.pid, 1)
            self.assertIsNotNone(victim, "rank 1's process not found")
            os.kill(victim, signal.SIGKILL)
            killed_at = time.time()
            _, err = job.communicate(timeout=30)
            self.assertLess(time.time() - killed_at, 15, "the job took too long to stop")
        finally:
            if job.poll() is None:
                job.kill()
                job.communicate()
        self.assertNotEqual(job.returncode, 0)
        self.assertRegex(err, r"rank 1 .*(killed|signal 9)", err[-2000:])
        extra_resume = [e for e in extra if e not in ("400",)]
        extra_resume[extra_resume.index("--epochs") + 1:extra_resume.index("--epochs") + 1] = ["1"]
        resumed, _ = self.train(0, extra_resume + ["--resume", ckpt], "resumed.json")
        self.assertGreater(resumed["train"]["steps"], 0)
        self.assertIn("auc", resumed["test"])


def rank_pid(mpirun_pid, rank):
    """The pid of the process of `rank` started by this mpirun (its OMPI_COMM_WORLD_RANK)."""
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                env = f.read().split(b"\0")
            with open(f"/proc/{name}/cmdline", "rb") as f:
                argv0 = f.read().split(b"\0")[0]
        except OSError:
            continue
        if argv0.endswith(b"cembed") and f"OMPI_COMM_WORLD_RANK={rank}".encode() in env and \
                f"OMPI_MCA_orte_hnp_pid".encode() not in env and is_descendant(int(name), mpirun_pid):
            return int(name)
    return None


def is_descendant(pid, ancestor):
    while pid > 1:
        if pid == ancestor:
            return True
        try:
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            return False
    return False


if __name__ == "__main__":
    unittest.main()
