// Shared helpers for the C++ tests: random bags and finite differences.
#pragma once

#include <gtest/gtest.h>
#include <hwy/targets.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <functional>
#include <iomanip>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "cembed/bags.h"
#include "cembed/embedding_table.h"
#include "kernels/embedding_kernels.h"
#include "util/check.h"
#include "util/random.h"

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

// Bags over a kernel's table rows: lengths 0..max_len, rows in [0, num_rows) (repeated rows
// are likely when num_rows is small), weights in [-1, 2) when weighted.
struct RowBatch {
  std::vector<int64_t> rows;
  std::vector<uint32_t> offsets{0};
  std::vector<float> weights;
  kernels::RowBags view() const { return {rows, offsets, weights}; }
};

inline RowBatch random_row_bags(Rng& rng, int64_t bags, int64_t num_rows, int max_len, bool weighted) {
  RowBatch c;
  for (int64_t b = 0; b < bags; ++b) {
    const auto len = static_cast<int>(rng.below(static_cast<uint64_t>(max_len + 1)));
    for (int k = 0; k < len; ++k) {
      c.rows.push_back(static_cast<int64_t>(rng.below(static_cast<uint64_t>(num_rows))));
      if (weighted) c.weights.push_back(rng.uniform(-1.0f, 2.0f));
    }
    c.offsets.push_back(static_cast<uint32_t>(c.rows.size()));
  }
  return c;
}

// The same bits element by element; a failure names `what`, the element and the difference.
inline void expect_same_bits(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(std::bit_cast<uint32_t>(got[i]), std::bit_cast<uint32_t>(want[i]))
        << what << ", element " << i << ": " << got[i] << " vs " << want[i] << ", off by " << got[i] - want[i];
  }
}

// Runs body(target name) once on every Highway target compiled in and supported by this CPU,
// each in turn the one run-time dispatch chooses; dispatch chooses the CPU's best again after.
inline void for_each_simd_target(const std::function<void(const std::string&)>& body) {
  const std::vector<int64_t> targets = hwy::SupportedAndGeneratedTargets();
  ASSERT_FALSE(targets.empty());
  for (int64_t target : targets) {
    hwy::SetSupportedTargetsForTest(target);
    body(hwy::TargetName(target));
  }
  hwy::SetSupportedTargetsForTest(0);
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

// A probe of a table's forward: loss = sum_b <out[b], R[b]>, so d loss / d out = R.
inline double probe_loss(const EmbeddingTable& t, const BagBatch& bags, Pooling p, const std::vector<float>& r) {
  const int64_t b = bags.batch_size(), d = t.dim();
  std::vector<float> out(b * d);
  MatrixView view{out.data(), b, d, d};
  t.forward(std::span(&bags, 1), p, std::span(&view, 1));
  double loss = 0;
  for (size_t i = 0; i < out.size(); ++i) loss += static_cast<double>(out[i]) * r[i];
  return loss;
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

// The message of the cembed::Error that f throws; empty when it throws none.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Where two sets of named float blocks differ, in words: the first block that differs, how
// many of its elements differ, the first such element and the largest absolute difference.
// Empty when every block is bitwise equal. For determinism tests, whose failures must say
// what differs and by how much rather than dump bytes.
struct NamedBlock {
  std::string name;
  std::span<const float> values;
};
inline std::string describe_difference(const std::vector<NamedBlock>& a, const std::vector<NamedBlock>& b) {
  if (a.size() != b.size())
    return "block counts differ: " + std::to_string(a.size()) + " vs " + std::to_string(b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    const auto& x = a[i].values;
    const auto& y = b[i].values;
    if (x.size() != y.size()) {
      return a[i].name + ": sizes differ: " + std::to_string(x.size()) + " vs " + std::to_string(y.size());
    }
    size_t differing = 0, first = 0;
    double max_abs = 0, max_rel = 0;
    for (size_t k = 0; k < x.size(); ++k) {
      if (std::memcmp(&x[k], &y[k], sizeof(float)) == 0) continue;
      if (differing++ == 0) first = k;
      const double d = std::abs(static_cast<double>(x[k]) - y[k]);
      max_abs = std::max(max_abs, d);
      max_rel = std::max(max_rel, d / std::max(1e-30, std::max(std::abs(double{x[k]}), std::abs(double{y[k]}))));
    }
    if (differing > 0) {
      std::ostringstream out;
      out << std::setprecision(9) << a[i].name << ": " << differing << " of " << x.size()
          << " elements differ, first at " << first << " (" << x[first] << " vs " << y[first] << "), max |difference| "
          << max_abs << ", max relative " << max_rel;
      return out.str();
    }
  }
  return {};
}

}  // namespace cembed::testing
