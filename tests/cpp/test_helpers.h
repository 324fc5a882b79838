// Shared helpers for the C++ tests: random bags and finite differences.
#pragma once

#include <cmath>
#include <functional>
#include <span>
#include <vector>

#include "cembed/bags.h"
#include "cembed/embedding_table.h"
#include "cembed/random.h"

namespace cembed::testing {

// Random bags of lengths in [min_len, max_len] over ids [0, n).
struct OwnedBags {
  std::vector<Id> ids;
  std::vector<uint32_t> offsets{0};
  std::vector<float> weights;
  BagBatch view() const { return {ids, offsets, weights}; }
};

inline OwnedBags random_bags(Rng& rng, int64_t batch, int64_t n, int min_len, int max_len, bool weighted) {
  OwnedBags b;
  for (int64_t i = 0; i < batch; ++i) {
    const auto len = min_len + static_cast<int>(rng.below(static_cast<uint64_t>(max_len - min_len + 1)));
    for (int k = 0; k < len; ++k) {
      b.ids.push_back(static_cast<Id>(rng.below(static_cast<uint64_t>(n))));
      if (weighted) b.weights.push_back(rng.uniform(0.5f, 1.5f));
    }
    b.offsets.push_back(static_cast<uint32_t>(b.ids.size()));
  }
  return b;
}

inline std::vector<float> random_vector(Rng& rng, size_t n, float scale = 1.0f) {
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(rng.normal()) * scale;
  return v;
}

// Central difference of f with respect to x[i].
inline double finite_difference(const std::function<double()>& f, float& x, double h) {
  const float saved = x;
  x = static_cast<float>(saved + h);
  const double up = f();
  x = static_cast<float>(saved - h);
  const double down = f();
  x = saved;
  return (up - down) / (2 * h);
}

// |a - b| <= atol + rtol * max(|a|, |b|)
inline bool close(double a, double b, double rtol, double atol) {
  return std::abs(a - b) <= atol + rtol * std::max(std::abs(a), std::abs(b));
}

// Vectors of values `ids` of a one-feature table (one-hot bags), ids.size() x dim.
inline std::vector<float> vectors_of(const EmbeddingTable& t, const std::vector<Id>& ids) {
  std::vector<uint32_t> offsets(ids.size() + 1);
  for (size_t i = 0; i < offsets.size(); ++i) offsets[i] = static_cast<uint32_t>(i);
  std::vector<float> out(ids.size() * t.dim());
  BagBatch bags{ids, offsets, {}};
  MatrixView view{out.data(), static_cast<int64_t>(ids.size()), t.dim(), t.dim()};
  t.forward(std::span(&bags, 1), Pooling::Sum, std::span(&view, 1));
  return out;
}

}  // namespace cembed::testing
