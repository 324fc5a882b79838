// measure_value_frequencies (dataset.h): each feature's effective number of values.
#include <cmath>
#include <vector>

#include "cembed/dataset.h"

namespace cembed {
namespace {

double bernoulli_kl(double p, double q) {
  auto term = [](double a, double b) { return a <= 0 ? 0.0 : a * std::log(a / b); };
  return term(p, q) + term(1 - p, 1 - q);
}

// Mutual information (nats) between a lookup's value and its row's label, each value's click
// rate shrunk toward the mean by kPrior pseudo-lookups so that values seen once or twice do
// not look informative: sum_v (n_v / N) KL(ctr_v || ctr).
double label_information(const std::vector<uint32_t>& count, const std::vector<float>& positive, int64_t total,
                         double label_sum) {
  constexpr double kPrior = 20;
  const double mean = label_sum / static_cast<double>(total);
  if (mean <= 0 || mean >= 1) return 0;
  double info = 0;
  for (size_t v = 0; v < count.size(); ++v) {
    if (count[v] == 0) continue;
    const double ctr = (positive[v] + kPrior * mean) / (count[v] + kPrior);
    info += count[v] * bernoulli_kl(ctr, mean);
  }
  return info / static_cast<double>(total);
}

}  // namespace

std::vector<FeatureInfo> measure_value_frequencies(const Dataset& data) {
  std::vector<FeatureInfo> out = data.schema().sparse;
  for (int f = 0; f < data.schema().num_sparse(); ++f) {
    std::vector<uint32_t> count(static_cast<size_t>(out[f].cardinality), 0);
    std::vector<float> positive(static_cast<size_t>(out[f].cardinality), 0);
    int64_t total = 0;
    double label_sum = 0;
    for (int64_t r = 0; r < data.rows(); ++r) {
      const float y = data.label(r);
      for (Id id : data.bag(f, r)) {
        ++count[id];
        positive[id] += y;
        ++total;
        label_sum += y;
      }
    }
    double sum_sq = 0;
    for (uint32_t c : count) sum_sq += static_cast<double>(c) * static_cast<double>(c);
    // No ids at all: nothing measured (the planner takes the cardinality).
    out[f].effective_values = total == 0 ? 0.0 : static_cast<double>(total) * static_cast<double>(total) / sum_sq;
    out[f].label_information = total == 0 ? 0.0 : label_information(count, positive, total, label_sum);
  }
  return out;
}

}  // namespace cembed
