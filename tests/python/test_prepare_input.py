"""cembed prepare fed as a shell feeds it: process substitution (`<(cat f)`, `<(gzip -c f)`),
a FIFO written by another process, /dev/zero, a directory, and a CSV file as R writes it.
Every input is read once as a stream: the dataset is the one the regular file gives."""
import gzip
import json
import os
import subprocess
import tempfile
import unittest

from common import CEMBED, SOURCE_DIR, run

SHARED_AVAZU = os.path.join(os.path.dirname(os.path.abspath(SOURCE_DIR)), "shared", "data", "avazu-9k", "train.csv")


def avazu_text(rows):
    out = ["id,click,hour,C1,banner_pos,site_id,site_domain,site_category,app_id,app_domain,app_category,"
           "device_id,device_ip,device_model,device_type,device_conn_type,C14,C15,C16,C17,C18,C19,C20,C21"]
    for r in range(rows):
        vals = [str(r), str(r % 5 == 0), "141021%02d" % (r % 24), "1005", str(r % 2)]
        vals[1] = "1" if r % 5 == 0 else "0"
        vals += ["%08x" % ((r * 7919 + k * 131) % (40 + 13 * k)) for k in range(10)]
        vals += [str((r * k) % 9) for k in range(9)]
        out.append(",".join(vals))
    return "\n".join(out) + "\n"


class PrepareInput(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name
        cls.avazu = os.path.join(cls.dir, "avazu.csv")
        with open(cls.avazu, "w") as f:
            f.write(avazu_text(12000))  # about 1.2 MB: more than the first read
        cls.base = cls.prepare_stats(["--format", "avazu", "--train", cls.avazu], "base")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @classmethod
    def prepare_stats(cls, args, out, shell=False):
        out_dir = os.path.join(cls.dir, out)
        if shell:  # args: one bash command line after "cembed prepare"
            res = subprocess.run(["bash", "-c", f"'{CEMBED}' prepare {args} --out '{out_dir}'"], capture_output=True,
                                 text=True, timeout=120)
        else:
            res = run([CEMBED, "prepare", *args, "--out", out_dir], timeout=120)
        assert res.returncode == 0, res.stderr
        with open(os.path.join(out_dir, "prepare.json")) as f:
            return json.load(f)

    def expect_base(self, stats):
        self.assertEqual(stats["train"]["rows"], 12000)
        self.assertEqual(stats["train"]["bad_lines"], 0)
        self.assertEqual(stats["features"], self.base["features"])

    def test_process_substitution(self):
        self.expect_base(self.prepare_stats(f"--format avazu --skip-bad-lines --train <(cat '{self.avazu}')", "cat",
                                            shell=True))
        gz = self.avazu + ".gz"
        with open(self.avazu, "rb") as f, gzip.open(gz, "wb") as g:
            g.write(f.read())
        # Compressed through the pipe (magic bytes read from the stream), and decompressed before it.
        self.expect_base(self.prepare_stats(f"--format avazu --train <(cat '{gz}')", "cat_gz", shell=True))
        self.expect_base(self.prepare_stats(f"--format avazu --train <(gzip -dc '{gz}')", "zcat", shell=True))

    @unittest.skipUnless(os.path.exists(SHARED_AVAZU), "shared Avazu sample absent")
    def test_shared_avazu_through_process_substitution(self):
        # The case of the issue: 1,266 of 8,087 rows, rc 0.
        stats = self.prepare_stats(f"--format avazu --skip-bad-lines --train <(cat '{SHARED_AVAZU}')", "shared",
                                   shell=True)
        self.assertEqual(stats["train"]["rows"], 8087)
        self.assertEqual(stats["train"]["bad_lines"], 0)

    def test_fifo_written_by_another_process(self):
        fifo = os.path.join(self.dir, "in.fifo")
        os.mkfifo(fifo)
        writer = subprocess.Popen(["bash", "-c", f"cat '{self.avazu}' > '{fifo}'"])
        try:
            self.expect_base(self.prepare_stats(["--format", "avazu", "--train", fifo], "fifo"))
        finally:
            writer.kill()
            writer.wait()
            os.unlink(fifo)

    def test_endless_line_stops_at_the_limit(self):
        res = run([CEMBED, "prepare", "--format", "criteo", "--train", "/dev/zero", "--out", os.path.join(self.dir, "z")],
                  timeout=60)
        self.assertEqual(res.returncode, 1)
        self.assertIn("/dev/zero:1: line longer than 1048576 bytes", res.stderr)

    def test_endless_line_ends_the_run_even_when_skipping(self):  # read /dev/zero forever before
        res = run([CEMBED, "prepare", "--format", "criteo", "--train", "/dev/zero", "--skip-bad-lines",
                   "--max-line-bytes", "65536", "--out", os.path.join(self.dir, "z2")], timeout=60)
        self.assertEqual(res.returncode, 1, res.stderr)
        self.assertIn("/dev/zero:1: no end of line in", res.stderr)

    def test_directory_is_named(self):
        res = run([CEMBED, "prepare", "--format", "avazu", "--train", self.dir, "--out", os.path.join(self.dir, "d")])
        self.assertEqual(res.returncode, 1)
        self.assertIn(f"{self.dir}: is a directory", res.stderr)
        self.assertNotIn("gzip", res.stderr)
        res = run([CEMBED, "prepare", "--format", "csv", "--schema", self.dir, "--train", self.avazu, "--out",
                   os.path.join(self.dir, "d2")])
        self.assertIn(f"{self.dir}: is a directory", res.stderr)

    def test_r_write_csv_file_with_ratio_split(self):
        # As R's write.csv writes it: row names, quoted header names, quoted text holding commas.
        lines = ['"","user","item","title","click"']
        for r in range(400):
            lines.append(f'"{r + 1}","u{r % 17}","i{r % 23}","Title {r % 23}, part ""{r % 23 % 3}""",{r % 2}')
        path = os.path.join(self.dir, "r.csv")
        with open(path, "w") as f:
            f.write("\r\n".join(lines) + "\r\n")
        schema = os.path.join(self.dir, "r.toml")
        with open(schema, "w") as f:
            f.write('label = "click"\ncategorical = ["user", "item", "title"]\n')
        stats = self.prepare_stats(["--format", "csv", "--schema", schema, "--train", path, "--split", "ratio",
                                    "--test-fraction", "0.2"], "r_out")
        self.assertEqual(stats["train"]["rows"] + stats["test"]["rows"], 400)
        self.assertGreater(stats["test"]["rows"], 40)
        self.assertTrue(os.path.exists(os.path.join(self.dir, "r_out", "test.cds")))
        self.assertEqual([f["name"] for f in stats["features"]], ["user", "item", "title"])
        self.assertEqual(stats["features"][2]["distinct_values"], stats["features"][1]["distinct_values"])


if __name__ == "__main__":
    unittest.main()
