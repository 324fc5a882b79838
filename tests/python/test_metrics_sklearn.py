"""cembed's AUC (with ties) and log loss equal sklearn's on fixed vectors; its ranking
metrics (nDCG@k, HitRate@k, per-query AUC) equal a direct numpy computation."""
import json
import unittest

import numpy as np
from sklearn.metrics import log_loss, roc_auc_score

from common import EXPORT, run


def export_json(args, text):
    """Runs reference_export with `args` on `text` and returns the JSON it prints."""
    out = run([EXPORT] + args, input=text)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def cembed_metrics(scores, labels):
    return export_json(["metrics"], "\n".join(f"{s:.9g} {int(l)}" for s, l in zip(scores, labels)))


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


def cembed_ranking(positive, negatives, k):
    lines = []
    for q, (p, negs) in enumerate(zip(positive, negatives)):
        lines.append(f"{q} {p:.17g} 1")
        lines += [f"{q} {s:.17g} 0" for s in negs]
    return export_json(["ranking", "--k", str(k)], "\n".join(lines))


class RankingAgainstNumpy(unittest.TestCase):
    def test_fixed_rankings(self):
        rng = np.random.default_rng(1)
        for trial in range(10):
            k = int(rng.integers(1, 20))
            queries = int(rng.integers(1, 300))
            positive = rng.normal(size=queries)
            negatives = [rng.normal(size=int(rng.integers(1, 120))) for _ in range(queries)]
            if trial % 2 == 0:  # ties: coarse scores
                positive = np.round(positive * 2) / 2
                negatives = [np.round(n * 2) / 2 for n in negatives]
            # numpy: rank = 1 + #(negatives >= positive), pessimistic on ties
            rank = np.array([1 + np.sum(n >= p) for p, n in zip(positive, negatives)])
            ndcg = np.where(rank <= k, 1.0 / np.log2(rank + 1), 0.0).mean()
            hit = (rank <= k).mean()
            auc = np.mean([(np.sum(n < p) + 0.5 * np.sum(n == p)) / len(n) for p, n in zip(positive, negatives)])
            got = cembed_ranking(positive, negatives, k)
            self.assertEqual(got["queries"], queries)
            self.assertAlmostEqual(got["ndcg_at_k"], ndcg, places=12)
            self.assertAlmostEqual(got["hit_rate_at_k"], hit, places=12)
            self.assertAlmostEqual(got["auc"], auc, places=12)

    def test_top_and_bottom(self):
        got = cembed_ranking([5.0, -5.0], [[1.0, 2.0], [1.0, 2.0]], 10)
        self.assertAlmostEqual(got["ndcg_at_k"], (1.0 + 1 / np.log2(4)) / 2)  # ranks 1 and 3
        self.assertEqual(got["hit_rate_at_k"], 1.0)
        self.assertEqual(got["auc"], 0.5)


if __name__ == "__main__":
    unittest.main()
