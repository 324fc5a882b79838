// path: path-based compositional embeddings (Shi et al., KDD 2020, section 4.2). The
// first partition picks a base vector, the second partition's class picks a linear map
// applied to it:
//
//   path:maps=P     B = ceil(n/P) base rows;  e(i) = W[i div B] * base[i mod B] + b[i div B]
//
// (i mod B, i div B) is a complementary pair, and the maps differ, so vectors are unique.
// Memory: B * dim + P * (dim*dim + dim) floats; a map's W and b are one row of the second
// part. Initialisation: base uniform +-sqrt(1/n) (a full table's scale, reduced by the
// maps' gain), W = identity + uniform noise, b = 0.
#include <algorithm>
#include <cmath>

#include "embedding/linear_map.h"
#include "embedding/partitions.h"
#include "embedding/parts_table.h"
#include "embedding/registry.h"
#include "kernels/linear_maps.h"
#include "util/aligned_vector.h"
#include "util/check.h"

namespace cembed {
namespace {

constexpr float kMapNoise = 0.5f;  // W = I + U(+-kMapNoise / sqrt(dim))

int64_t base_rows(int64_t n, int64_t maps) { return (n + maps - 1) / maps; }

std::vector<PartsTable::Part> path_parts(int64_t n, int64_t maps, int64_t dim) {
  return {{base_rows(n, maps), dim}, {maps, dim * dim + dim}};
}

int64_t path_bytes_for(int64_t n, int64_t maps, int64_t dim) {
  return (base_rows(n, maps) * dim + maps * (dim * dim + dim)) * static_cast<int64_t>(sizeof(float));
}

class PathTable final : public PartsTableOf<PathTable> {
 public:
  PathTable(const TableShape& shape, int64_t maps)
      : PartsTableOf(shape, path_parts(shape.cardinalities.at(0), maps, shape.dim)),
        maps_(maps),
        base_(base_rows(shape.cardinalities.at(0), maps)) {}
  std::string spec() const override { return "path:maps=" + std::to_string(maps_); }
  std::string method() const override { return "path"; }

 private:
  friend class PartsTableOf<PathTable>;
  void map_value(Id id, int64_t* rows) const {
    rows[0] = id % base_;
    rows[1] = id / base_;
  }

 protected:
  void init_part(int j, Rng& rng, std::span<float> w) const override {
    const int64_t d = dim();
    const float noise = kMapNoise / std::sqrt(static_cast<float>(d));
    if (j == 0) {
      // E|W x|^2 = |x|^2 (1 + d * noise^2 / 3) for W = I + U(+-noise).
      const double gain = 1.0 + static_cast<double>(d) * noise * noise / 3.0;
      const auto bound = static_cast<float>(std::sqrt(1.0 / static_cast<double>(num_values(0)) / gain));
      for (float& x : w) x = rng.uniform(-bound, bound);
      return;
    }
    for (int64_t m = 0; m < maps_; ++m) {
      float* row = w.data() + m * (d * d + d);
      for (int64_t i = 0; i < d * d; ++i) row[i] = (i / d == i % d ? 1.0f : 0.0f) + rng.uniform(-noise, noise);
      std::fill(row + d * d, row + d * d + d, 0.0f);
    }
  }

  void combine(const float* const* row, float* e) const {
    const int64_t d = dim();
    linear_map(row[1], row[0], row[1] + d * d, d, d, e);
  }

  // combine for a batch: each used map transposed once, then kernels::apply_maps (the same
  // fmas per output element as combine).
  void combine_many(int64_t count, const int64_t* const* rows, float* out, int64_t stride) const {
    const int64_t d = dim(), map_floats = d * d + d;  // a map: W, then b
    thread_local AlignedVector<float> transposed;     // on cache lines: no load of a column straddles two
    thread_local std::vector<uint8_t> ready;
    transposed.resize(maps_ * d * d);
    ready.assign(maps_, 0);
    const float* maps = part_weights(1);
    for (int64_t k = 0; k < count; ++k) {
      const int64_t m = rows[1][k];
      if (ready[m]) continue;
      kernels::transpose(maps + m * map_floats, d, d, transposed.data() + m * d * d);
      ready[m] = 1;
    }
    kernels::apply_maps({.count = count,
                         .rows = d,
                         .cols = d,
                         .maps_t = transposed.data(),
                         .map_of = rows[1],
                         .bias = maps + d * d,
                         .bias_stride = map_floats,
                         .x = part_weights(0),
                         .x_row = rows[0],
                         .y = out,
                         .y_stride = stride});
  }

  // map_value for a batch, dividing by multiplication (the same rows).
  void map_batch(std::span<const Id> ids, int64_t* const* rows) const override {
    if (base_ == 1) {
      for (size_t k = 0; k < ids.size(); ++k) rows[0][k] = 0, rows[1][k] = ids[k];
      return;
    }
    const Partitions::FastDivisor by(base_);
    for (size_t k = 0; k < ids.size(); ++k) {
      const uint32_t q = by.div(ids[k]);
      rows[1][k] = q;
      rows[0][k] = ids[k] - q * static_cast<uint32_t>(base_);
    }
  }

  void part_gradients(const float* const* row, const float* g, float* const* grad) const {
    const int64_t d = dim();
    linear_map_gradients(row[1], row[0], g, d, d, grad[0], grad[1]);
    std::copy(g, g + d, grad[1] + d * d);  // the bias
  }

 private:
  int64_t maps_;
  int64_t base_;
};

int64_t path_scan_limit(int64_t n, int64_t dim) {
  // Memory falls with P up to about sqrt(n / (dim + 1)).
  return static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(n) / static_cast<double>(dim + 1)))) + 1;
}

}  // namespace

MethodEntry path_method() {
  return {
      {"path", "path-based compositional: base row i mod B through linear map i div B (maps=P)", {"maps"}, false},
      [](const Spec& spec, const TableShape& shape) -> EmbeddingTablePtr {
        const int64_t maps = spec.get_int("maps", 0);
        CEMBED_CHECK(maps > 0 && maps <= shape.cardinalities.at(0),
                     "bad spec '{}': maps must be in [1, {}] (the number of values)", spec.str(),
                     shape.cardinalities.at(0));
        return std::make_unique<PathTable>(shape, maps);
      },
      [](const Spec& spec, const TableShape& shape) {
        return path_bytes_for(shape.cardinalities.at(0), spec.get_int("maps", 0), shape.dim);
      },
      [](const Spec& spec, const TableShape& shape, int64_t budget) {
        const int64_t n = shape.cardinalities.at(0), hi = path_scan_limit(n, shape.dim);
        int64_t best_min = path_bytes_for(n, 1, shape.dim);
        for (int64_t p = 1; p <= hi; ++p) {
          const int64_t bytes = path_bytes_for(n, p, shape.dim);
          if (bytes <= budget) {
            Spec sized = spec;
            sized.set("maps", std::to_string(p));
            return sized;
          }
          best_min = std::min(best_min, bytes);
        }
        fail("path needs at least {} bytes for {} values at dim {}, budget is {}", best_min, n, shape.dim, budget);
      },
      [](const Spec& spec) { return spec.has("maps"); },
      [](const Spec&, const TableShape& shape) {
        const int64_t n = shape.cardinalities.at(0);
        int64_t best = path_bytes_for(n, 1, shape.dim);
        for (int64_t p = 2; p <= path_scan_limit(n, shape.dim); ++p)
          best = std::min(best, path_bytes_for(n, p, shape.dim));
        return best;
      },
  };
}

}  // namespace cembed
