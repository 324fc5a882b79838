"""The Python package's examples (examples/torch_*.py) run on the real samples in
../shared/data (skipped when absent) and reach a test AUC well above chance."""
import os
import re
import sys
import unittest

from common import BUILD_DIR, SOURCE_DIR, run

DATA = os.path.join(os.path.dirname(SOURCE_DIR), "shared", "data")


def run_example(name, *args):
    env = dict(os.environ, PYTHONPATH=os.path.join(BUILD_DIR, "python"))
    r = run([sys.executable, os.path.join(SOURCE_DIR, "examples", name), *args], env=env)
    if r.returncode != 0:
        raise AssertionError(f"{name} failed:\n{r.stdout}\n{r.stderr}")
    m = re.search(r"test AUC ([0-9.]+)", r.stdout)
    assert m, r.stdout
    return float(m.group(1)), r.stdout


@unittest.skipUnless(os.path.isdir(DATA), f"{DATA} not present")
class Examples(unittest.TestCase):
    def test_dlrm_on_frappe_with_adam_on_the_dense_part(self):
        auc, out = run_example("torch_dlrm_frappe.py", "--data", os.path.join(DATA, "frappe"))
        self.assertIn("memory plan: method qr", out)
        self.assertGreater(auc, 0.9)  # 0.928 with the defaults (3 epochs)

    def test_dcn_v2_on_criteo_with_qr_at_16x(self):
        auc, out = run_example("torch_dcn_criteo.py", "--data", os.path.join(DATA, "criteo-kaggle-8k"))
        self.assertRegex(out, r"1[56]\.\dx less than full")
        self.assertGreater(auc, 0.68)


if __name__ == "__main__":
    unittest.main()
