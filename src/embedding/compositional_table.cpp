#include "embedding/compositional_table.h"

#include <algorithm>
#include <cmath>

#include "util/check.h"

namespace cembed {

CompositionOp parse_composition_op(const Spec& spec) {
  const std::string op = spec.get("op", "mult");
  if (op == "mult") return CompositionOp::Mult;
  if (op == "add") return CompositionOp::Add;
  if (op == "concat") return CompositionOp::Concat;
  fail("bad spec '{}': op '{}' (valid: mult, add, concat)", spec.str(), op);
}

std::vector<PartsTable::Part> composition_parts(const std::vector<int64_t>& moduli, int64_t dim, CompositionOp op) {
  const auto k = static_cast<int64_t>(moduli.size());
  std::vector<PartsTable::Part> parts;
  for (int64_t j = 0; j < k; ++j) {
    const int64_t width = op == CompositionOp::Concat ? dim / k + (j < dim % k ? 1 : 0) : dim;
    parts.push_back({moduli[j], width});
  }
  return parts;
}

int64_t parts_bytes(const std::vector<PartsTable::Part>& parts) {
  int64_t floats = 0;
  for (const auto& p : parts) floats += p.rows * p.width;
  return floats * static_cast<int64_t>(sizeof(float));
}

namespace {

constexpr float kSpread = 0.5f;  // non-leading product parts are uniform in [1 - s, 1 + s]

class CompositionalTable final : public PartsTableOf<CompositionalTable> {
 public:
  CompositionalTable(const TableShape& shape, const Spec& spec, Partitions partitions, CompositionOp op)
      : PartsTableOf(shape, composition_parts(partitions.moduli, shape.dim, op)),
        spec_(spec.str()),
        partitions_(std::move(partitions)),
        op_(op) {
    partitions_.check_complementary(num_values(0));
    CEMBED_CHECK(op_ != CompositionOp::Concat || dim() >= partitions_.parts(),
                 "bad spec '{}': concat needs dim >= parts ({} < {})", spec_, dim(), partitions_.parts());
    leading_ = static_cast<int>(std::max_element(partitions_.moduli.begin(), partitions_.moduli.end()) -
                                partitions_.moduli.begin());
  }
  std::string spec() const override { return spec_; }
  std::string method() const override { return Spec::parse(spec_).name; }

 protected:
  // One part at a time: the divisors stay in registers and the loop has no branches.
  void map_batch(std::span<const Id> ids, int64_t* const* rows) const override {
    for (int j = 0; j < partitions_.parts(); ++j) {
      const Partitions::FastDivisor& dv = partitions_.div32[j];
      const Partitions::FastDivisor& md = partitions_.mod32[j];
      int64_t* out = rows[j];
      if (dv.one && !md.one && !md.zero) {
        for (size_t k = 0; k < ids.size(); ++k) out[k] = md.mod(ids[k]);
      } else if (!dv.one && !dv.zero && md.zero) {
        for (size_t k = 0; k < ids.size(); ++k) out[k] = dv.div(ids[k]);
      } else {
        for (size_t k = 0; k < ids.size(); ++k) out[k] = partitions_.index32(ids[k], j);
      }
    }
  }

 private:
  friend class PartsTableOf<CompositionalTable>;
  void map_value(Id id, int64_t* rows) const {
    for (int j = 0; j < partitions_.parts(); ++j) rows[j] = partitions_.index32(id, j);
  }

 protected:
  void init_part(int j, Rng& rng, std::span<float> w) const override {
    const double full_var = 1.0 / (3.0 * static_cast<double>(num_values(0)));  // var of U(+-sqrt(1/n))
    const int k = partitions_.parts();
    double bound = std::sqrt(3.0 * full_var);
    if (op_ == CompositionOp::Mult) {
      if (j != leading_) {
        for (float& x : w) x = rng.uniform(1.0f - kSpread, 1.0f + kSpread);
        return;
      }
      const double second_moment = 1.0 + kSpread * kSpread / 3.0;  // E[x^2] of the other parts
      bound /= std::sqrt(std::pow(second_moment, k - 1));
    } else if (op_ == CompositionOp::Add) {
      bound /= std::sqrt(static_cast<double>(k));
    }
    for (float& x : w) x = rng.uniform(static_cast<float>(-bound), static_cast<float>(bound));
  }

  void combine(const float* const* row, float* e) const {
    const int k = partitions_.parts();
    const int64_t d = dim();
    switch (op_) {
      case CompositionOp::Mult:
        multiply(row[0], row[1], e, d);
        for (int p = 2; p < k; ++p) multiply_into(e, row[p], d);
        break;
      case CompositionOp::Add:
        add(row[0], row[1], e, d);
        for (int p = 2; p < k; ++p) add_into(e, row[p], d);
        break;
      case CompositionOp::Concat:
        for (int p = 0; p < k; ++p) e = std::copy(row[p], row[p] + part(p).width, e);
        break;
    }
  }

  // combine for a batch with dim D and K parts fixed at compile time (the same operations in
  // the same order; concat's widths become constants, so no copy calls).
  void combine_many(int64_t count, const int64_t* const* rows, float* out, int64_t stride) const {
    bool fixed = false;
    with_fixed_dim(dim(), [&](auto d) {
      constexpr int D = decltype(d)::value;
      switch (partitions_.parts()) {
        case 2:
          fixed = combine_op<D, 2>(count, rows, out, stride);
          break;
        case 3:
          fixed = combine_op<D, 3>(count, rows, out, stride);
          break;
        case 4:
          fixed = combine_op<D, 4>(count, rows, out, stride);
          break;
        default:
          break;
      }
    });
    if (!fixed) PartsTableOf::combine_many(count, rows, out, stride);
  }

  template <int D, int K>
  bool combine_op(int64_t count, const int64_t* const* rows, float* out, int64_t stride) const {
    if constexpr (K > D) {
      return false;
    } else {
      switch (op_) {
        case CompositionOp::Mult:
          combine_fixed<D, K, CompositionOp::Mult>(count, rows, out, stride);
          break;
        case CompositionOp::Add:
          combine_fixed<D, K, CompositionOp::Add>(count, rows, out, stride);
          break;
        case CompositionOp::Concat:
          combine_fixed<D, K, CompositionOp::Concat>(count, rows, out, stride);
          break;
      }
      return true;
    }
  }

  template <int D, int K, CompositionOp Op>
  void combine_fixed(int64_t count, const int64_t* const* rows, float* out, int64_t stride) const {
    // Part p's width: D for mult and add; concat's split (composition_parts).
    constexpr auto width = [](int p) { return Op == CompositionOp::Concat ? D / K + (p < D % K ? 1 : 0) : D; };
    const float* table[K];
    for (int p = 0; p < K; ++p) table[p] = part_weights(p);
    for (int64_t k = 0; k < count; ++k) {
      if (k + kPrefetch < count) {
        for (int p = 0; p < K; ++p) __builtin_prefetch(table[p] + rows[p][k + kPrefetch] * width(p));
      }
      const float* row[K];
      for (int p = 0; p < K; ++p) row[p] = table[p] + rows[p][k] * width(p);
      float* e = out + k * stride;
      if constexpr (Op == CompositionOp::Mult) {
        float acc[D];
        for (int i = 0; i < D; ++i) acc[i] = row[0][i] * row[1][i];
        for (int p = 2; p < K; ++p) {
          for (int i = 0; i < D; ++i) acc[i] *= row[p][i];
        }
        for (int i = 0; i < D; ++i) e[i] = acc[i];
      } else if constexpr (Op == CompositionOp::Add) {
        float acc[D];
        for (int i = 0; i < D; ++i) acc[i] = row[0][i] + row[1][i];
        for (int p = 2; p < K; ++p) {
          for (int i = 0; i < D; ++i) acc[i] += row[p][i];
        }
        for (int i = 0; i < D; ++i) e[i] = acc[i];
      } else {
        int offset = 0;
        for (int p = 0; p < K; ++p) {
          for (int i = 0; i < width(p); ++i) e[offset + i] = row[p][i];
          offset += width(p);
        }
      }
    }
  }

  // Element-wise loops on distinct arrays (restrict lets the compiler vectorise them).
  static void multiply(const float* __restrict a, const float* __restrict b, float* __restrict e, int64_t d) {
    for (int64_t i = 0; i < d; ++i) e[i] = a[i] * b[i];
  }
  static void multiply_into(float* __restrict e, const float* __restrict b, int64_t d) {
    for (int64_t i = 0; i < d; ++i) e[i] *= b[i];
  }
  static void add(const float* __restrict a, const float* __restrict b, float* __restrict e, int64_t d) {
    for (int64_t i = 0; i < d; ++i) e[i] = a[i] + b[i];
  }
  static void add_into(float* __restrict e, const float* __restrict b, int64_t d) {
    for (int64_t i = 0; i < d; ++i) e[i] += b[i];
  }

  void part_gradients(const float* const* row, const float* g, float* const* grad) const {
    const int k = partitions_.parts();
    const int64_t d = dim();
    switch (op_) {
      case CompositionOp::Mult:
        for (int p = 0; p < k; ++p) {
          for (int64_t i = 0; i < d; ++i) {
            float v = g[i];
            for (int q = 0; q < k; ++q) v *= q == p ? 1.0f : row[q][i];
            grad[p][i] = v;
          }
        }
        break;
      case CompositionOp::Add:
        for (int p = 0; p < k; ++p) std::copy(g, g + d, grad[p]);
        break;
      case CompositionOp::Concat:
        for (int p = 0; p < k; ++p) {
          std::copy(g, g + part(p).width, grad[p]);
          g += part(p).width;
        }
        break;
    }
  }

 private:
  std::string spec_;
  Partitions partitions_;
  CompositionOp op_;
  int leading_ = 0;
};

template <typename Bytes>
int64_t smallest_fitting(int64_t hi, Bytes bytes, int64_t budget) {
  for (int64_t c = 1; c <= hi; ++c) {
    if (bytes(c) <= budget) return c;
  }
  return -1;
}

}  // namespace

EmbeddingTablePtr make_compositional_table(const TableShape& shape, const Spec& spec, Partitions partitions,
                                           CompositionOp op) {
  return std::make_unique<CompositionalTable>(shape, spec, std::move(partitions), op);
}

int64_t collision_scan_limit(int64_t n, int parts) {
  return static_cast<int64_t>(std::ceil(std::pow(static_cast<double>(n), 1.0 / parts))) + 1;
}

int64_t min_bytes_over_collisions(int64_t hi, const std::function<int64_t(int64_t)>& bytes) {
  int64_t best = bytes(1);
  for (int64_t c = 2; c <= hi; ++c) best = std::min(best, bytes(c));
  return best;
}

Spec fit_collisions(const Spec& spec, const TableShape& shape, int64_t budget, int parts,
                    const std::function<int64_t(int64_t)>& bytes) {
  const int64_t hi = collision_scan_limit(shape.cardinalities.at(0), parts);
  const int64_t c = smallest_fitting(hi, bytes, budget);
  CEMBED_CHECK(c > 0, "{} needs at least {} bytes for {} values at dim {}, budget is {}", spec.name,
               min_bytes_over_collisions(hi, bytes), shape.cardinalities.at(0), shape.dim, budget);
  Spec sized = spec;
  sized.set("collisions", std::to_string(c));
  return sized;
}

}  // namespace cembed
