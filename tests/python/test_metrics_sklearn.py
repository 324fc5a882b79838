"""cembed's AUC (with ties) and log loss equal sklearn's on fixed vectors."""
import json
import unittest

import numpy as np
from sklearn.metrics import log_loss, roc_auc_score

from common import EXPORT, run


def cembed_metrics(scores, labels):
    text = "\n".join(f"{s:.9g} {int(l)}" for s, l in zip(scores, labels))
    out = run([EXPORT, "metrics"], input=text)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


class MetricsAgainstSklearn(unittest.TestCase):
    def test_random_vectors_with_ties(self):
        rng = np.random.default_rng(0)
        for trial in range(20):
            n = int(rng.integers(10, 3000))
            labels = (rng.random(n) < rng.uniform(0.05, 0.6)).astype(np.float32)
            scores = rng.random(n).astype(np.float32)
            if trial % 2 == 0:  # many ties
                scores = (np.round(scores * 7) / 7 * 0.98 + 0.01).astype(np.float32)
            scores = np.clip(scores, 0.01, 0.99).astype(np.float32)
            got = cembed_metrics(scores, labels)
            self.assertAlmostEqual(got["auc"], roc_auc_score(labels, scores), places=10)
            self.assertAlmostEqual(got["logloss"], log_loss(labels, scores.astype(np.float64)), places=6)

    def test_all_tied(self):
        got = cembed_metrics(np.full(10, 0.3, np.float32), np.array([0, 1] * 5, np.float32))
        self.assertEqual(got["auc"], 0.5)


if __name__ == "__main__":
    unittest.main()
