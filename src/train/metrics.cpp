#include "cembed/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "util/check.h"

namespace cembed {

double roc_auc(std::span<const float> scores, std::span<const float> labels) {
  CEMBED_CHECK(scores.size() == labels.size(), "roc_auc: {} scores, {} labels", scores.size(), labels.size());
  const size_t n = scores.size();
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return scores[a] < scores[b]; });
  double positives = 0, rank_sum = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && scores[order[j]] == scores[order[i]]) ++j;
    const double avg_rank = 0.5 * static_cast<double>(i + 1 + j);  // ranks i+1 .. j
    for (size_t k = i; k < j; ++k) {
      if (labels[order[k]] > 0.5f) {
        positives += 1;
        rank_sum += avg_rank;
      }
    }
    i = j;
  }
  const double negatives = static_cast<double>(n) - positives;
  if (positives == 0 || negatives == 0) return std::numeric_limits<double>::quiet_NaN();
  return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives);
}

double log_loss(std::span<const float> p, std::span<const float> labels, double eps) {
  CEMBED_CHECK(p.size() == labels.size(), "log_loss: {} predictions, {} labels", p.size(), labels.size());
  if (p.empty()) return std::numeric_limits<double>::quiet_NaN();
  double total = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const double q = std::clamp(static_cast<double>(p[i]), eps, 1.0 - eps);
    total -= labels[i] > 0.5f ? std::log(q) : std::log1p(-q);
  }
  return total / static_cast<double>(p.size());
}

}  // namespace cembed
