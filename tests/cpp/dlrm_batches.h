// Random DLRM batches and numbered features, for the tests that train or differentiate a
// whole model (test_dlrm.cpp, test_dense_precision.cpp).
#pragma once

#include <string>
#include <vector>

#include "cembed/dataset.h"
#include "cembed/memory_plan.h"
#include "test_helpers.h"

namespace cembed::testing {

// Features C0, C1, ... of cardinalities cards.
inline std::vector<FeatureInfo> numbered_features(const std::vector<int64_t>& cards) {
  std::vector<FeatureInfo> features;
  for (size_t f = 0; f < cards.size(); ++f) features.push_back({"C" + std::to_string(f), cards[f]});
  return features;
}

struct DlrmBatchShape {
  int min_len = 1, max_len = 1;   // ids per bag of every feature after the first (the first holds one)
  bool learnable_labels = false;  // label 1 where the first dense value is positive; else with probability 0.4
};

// b samples: num_dense random dense values each, a label, and per feature f a bag of ids
// below cards[f] (lengths as `shape` says).
inline Batch random_dlrm_batch(Rng& rng, int64_t b, int64_t num_dense, const std::vector<int64_t>& cards,
                               DlrmBatchShape shape) {
  Batch batch;
  batch.size = b;
  batch.dense = random_vector(rng, b * num_dense);
  for (int64_t i = 0; i < b; ++i) {
    const bool positive = shape.learnable_labels ? batch.dense[i * num_dense] > 0.0f : rng.uniform() < 0.4;
    batch.labels.push_back(positive ? 1.0f : 0.0f);
  }
  for (size_t f = 0; f < cards.size(); ++f) {
    const auto bags = random_bags(rng, b, cards[f], f == 0 ? 1 : shape.min_len, f == 0 ? 1 : shape.max_len, false);
    batch.ids.push_back(bags.ids);
    batch.offsets.push_back(bags.offsets);
  }
  return batch;
}

}  // namespace cembed::testing
