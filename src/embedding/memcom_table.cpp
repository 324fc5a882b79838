// memcom: MEmCom (Pansare et al., MLSys 2022). A table of `rows` rows shared by many values
// through a hash, times one trainable weight per value, plus an optional per-value bias:
//
//   memcom:rows=M[,bias=none|scalar|vector][,seed=S]
//   e(v) = E[h(v) mod M] * w[v]  (+ b[v])
//
// w starts at 1 and b at 0, so training starts from the hashing trick (E at the hashing
// trick's +-sqrt(1/M)). Two values sharing a row still get distinct vectors once their
// weights differ. Memory: (M * dim + n + bias) floats, bias n (scalar) or n * dim (vector),
// so its compression ratio is below dim (or about 1/2 with a vector bias).
#include <algorithm>
#include <cmath>

#include "embedding/parts_table.h"
#include "embedding/registry.h"
#include "util/check.h"
#include "util/fast_mod.h"
#include "util/random.h"

namespace cembed {
namespace {

constexpr uint64_t kDefaultSeed = 0x5eed;

enum class Bias { None, Scalar, Vector };

Bias parse_bias(const Spec& spec) {
  const std::string b = spec.get("bias", "none");
  if (b == "none") return Bias::None;
  if (b == "scalar") return Bias::Scalar;
  if (b == "vector") return Bias::Vector;
  fail("bad spec '{}': bias '{}' (valid: none, scalar, vector)", spec.str(), b);
}

int64_t bias_width(Bias bias, int64_t dim) { return bias == Bias::None ? 0 : bias == Bias::Scalar ? 1 : dim; }

std::vector<PartsTable::Part> memcom_parts(int64_t n, int64_t rows, int64_t dim, Bias bias) {
  std::vector<PartsTable::Part> parts = {{rows, dim}, {n, 1}};
  if (bias != Bias::None) parts.push_back({n, bias_width(bias, dim)});
  return parts;
}

int64_t memcom_bytes_for(int64_t n, int64_t rows, int64_t dim, Bias bias) {
  return (rows * dim + n + n * bias_width(bias, dim)) * static_cast<int64_t>(sizeof(float));
}

class MemcomTable final : public PartsTableOf<MemcomTable> {
 public:
  MemcomTable(const TableShape& shape, const Spec& spec, int64_t rows, Bias bias, uint64_t seed)
      : PartsTableOf(shape, memcom_parts(shape.cardinalities.at(0), rows, shape.dim, bias)),
        spec_(spec.str()),
        rows_(rows),
        bias_(bias),
        seed_(seed),
        mod_rows_(static_cast<uint64_t>(rows)) {}
  std::string spec() const override { return spec_; }
  std::string method() const override { return "memcom"; }

 private:
  friend class PartsTableOf<MemcomTable>;
  void map_value(Id id, int64_t* rows) const {
    rows[0] = static_cast<int64_t>(mix64(id ^ mix64(seed_)) % static_cast<uint64_t>(rows_));
    rows[1] = id;
    if (bias_ != Bias::None) rows[2] = id;
  }

 protected:
  // map_value for a batch, the remainder by multiplication (the same rows).
  void map_batch(std::span<const Id> ids, int64_t* const* rows) const override {
    const uint64_t key = mix64(seed_);
    for (size_t k = 0; k < ids.size(); ++k) {
      rows[0][k] = static_cast<int64_t>(mod_rows_(mix64(ids[k] ^ key)));
      rows[1][k] = ids[k];
    }
    if (bias_ != Bias::None) std::copy(rows[1], rows[1] + ids.size(), rows[2]);
  }

  // combine for a batch: without a bias, each vector is its row times its weight.
  void combine_many(int64_t count, const int64_t* const* rows, float* out, int64_t stride) const {
    const bool fixed = bias_ == Bias::None &&
                       with_fixed_dim(dim(), [&](auto d) { scale_rows<decltype(d)::value>(count, rows, out, stride); });
    if (!fixed) PartsTableOf::combine_many(count, rows, out, stride);
  }

  template <int D>
  void scale_rows(int64_t count, const int64_t* const* rows, float* out, int64_t stride) const {
    const float* table = part_weights(0);
    const float* weight = part_weights(1);
    for (int64_t k = 0; k < count; ++k) {
      if (k + kPrefetch < count) {
        __builtin_prefetch(table + rows[0][k + kPrefetch] * D);
        __builtin_prefetch(weight + rows[1][k + kPrefetch]);
      }
      const float* row = table + rows[0][k] * D;
      const float w = weight[rows[1][k]];
      float* e = out + k * stride;
      for (int i = 0; i < D; ++i) e[i] = row[i] * w;
    }
  }

 protected:
  void init_part(int j, Rng& rng, std::span<float> w) const override {
    if (j == 0) {
      const float bound = std::sqrt(1.0f / static_cast<float>(rows_));
      for (float& x : w) x = rng.uniform(-bound, bound);
    } else {
      std::fill(w.begin(), w.end(), j == 1 ? 1.0f : 0.0f);
    }
  }

  void combine(const float* const* row, float* e) const {
    const int64_t d = dim();
    const float w = row[1][0];
    for (int64_t i = 0; i < d; ++i) e[i] = row[0][i] * w;
    if (bias_ == Bias::Scalar) {
      for (int64_t i = 0; i < d; ++i) e[i] += row[2][0];
    } else if (bias_ == Bias::Vector) {
      for (int64_t i = 0; i < d; ++i) e[i] += row[2][i];
    }
  }

  void part_gradients(const float* const* row, const float* g, float* const* grad) const {
    const int64_t d = dim();
    const float w = row[1][0];
    float dw = 0.0f, sum = 0.0f;
    for (int64_t i = 0; i < d; ++i) {
      grad[0][i] = g[i] * w;
      dw += g[i] * row[0][i];
      sum += g[i];
    }
    grad[1][0] = dw;
    if (bias_ == Bias::Scalar) grad[2][0] = sum;
    if (bias_ == Bias::Vector) std::copy(g, g + d, grad[2]);
  }

 private:
  std::string spec_;
  int64_t rows_;
  Bias bias_;
  uint64_t seed_;
  FastMod64 mod_rows_;
};

}  // namespace

MethodEntry memcom_method() {
  return {
      {"memcom",
       "MEmCom: hashed row h(v) mod rows times a weight per value (bias=none|scalar|vector)",
       {"rows", "bias", "seed"},
       false},
      [](const Spec& spec, const TableShape& shape) -> EmbeddingTablePtr {
        const int64_t rows = spec.get_int("rows", 0);
        CEMBED_CHECK(rows > 0, "bad spec '{}': rows must be positive", spec.str());
        const auto seed = static_cast<uint64_t>(spec.get_int("seed", kDefaultSeed));
        return std::make_unique<MemcomTable>(shape, spec, rows, parse_bias(spec), seed);
      },
      [](const Spec& spec, const TableShape& shape) {
        return memcom_bytes_for(shape.cardinalities.at(0), spec.get_int("rows", 0), shape.dim, parse_bias(spec));
      },
      [](const Spec& spec, const TableShape& shape, int64_t budget) {
        const int64_t n = shape.cardinalities.at(0);
        const Bias bias = parse_bias(spec);
        const int64_t min = memcom_bytes_for(n, 1, shape.dim, bias);
        CEMBED_CHECK(budget >= min,
                     "memcom needs at least {} bytes for {} values at dim {} (one row plus a weight per value{}), "
                     "budget is {}",
                     min, n, shape.dim, bias == Bias::None ? "" : " and its bias", budget);
        const int64_t fixed = memcom_bytes_for(n, 0, shape.dim, bias);
        const int64_t row_bytes = shape.dim * static_cast<int64_t>(sizeof(float));
        Spec sized = spec;
        sized.set("rows", std::to_string(std::min((budget - fixed) / row_bytes, n)));
        return sized;
      },
      [](const Spec& spec) { return spec.has("rows"); },
      [](const Spec& spec, const TableShape& shape) {
        return memcom_bytes_for(shape.cardinalities.at(0), 1, shape.dim, parse_bias(spec));
      },
  };
}

}  // namespace cembed
