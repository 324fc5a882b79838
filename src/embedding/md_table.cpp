// md: mixed-dimension embeddings (Ginart et al.; DLRM's md_embedding_bag). A feature gets
// its own dimension K <= dim, and a trainable K -> dim projection shared by its values:
//
//   md:dim=K[,alpha=A]      e(v) = P * E[v],  E: n x K,  P: dim x K
//
// Sized by the planner, features share the budget in proportion to n^(1 - alpha) (so
// K is about lambda * n^-alpha, DLRM's rule; alpha 0.3 by default). Memory (n + dim) * K
// floats. Initialisation: E uniform +-sqrt(1/n), P uniform +-sqrt(3/K), so e has a full
// table's variance.
#include <algorithm>
#include <cmath>

#include "embedding/linear_map.h"
#include "embedding/parts_table.h"
#include "embedding/registry.h"
#include "kernels/linear_maps.h"
#include "util/aligned_vector.h"
#include "util/check.h"

namespace cembed {
namespace {

constexpr double kDefaultAlpha = 0.3;

int64_t md_bytes_for(int64_t n, int64_t k, int64_t dim) { return (n + dim) * k * static_cast<int64_t>(sizeof(float)); }

class MdTable final : public PartsTableOf<MdTable> {
 public:
  MdTable(const TableShape& shape, const Spec& spec, int64_t k)
      : PartsTableOf(shape, {{shape.cardinalities.at(0), k}, {1, shape.dim * k}}), spec_(spec.str()), k_(k) {}
  std::string spec() const override { return spec_; }
  std::string method() const override { return "md"; }

 private:
  friend class PartsTableOf<MdTable>;
  void map_value(Id id, int64_t* rows) const {
    rows[0] = id;
    rows[1] = 0;
  }

 protected:
  void init_part(int j, Rng& rng, std::span<float> w) const override {
    const double bound =
        j == 0 ? std::sqrt(1.0 / static_cast<double>(num_values(0))) : std::sqrt(3.0 / static_cast<double>(k_));
    for (float& x : w) x = rng.uniform(static_cast<float>(-bound), static_cast<float>(bound));
  }

  void combine(const float* const* row, float* e) const { linear_map(row[1], row[0], nullptr, dim(), k_, e); }

  // combine for a batch: the projection transposed once, then kernels::apply_maps (the same
  // fmas per output element as combine).
  void combine_many(int64_t count, const int64_t* const* rows, float* out, int64_t stride) const {
    thread_local AlignedVector<float> transposed;  // on cache lines: no load of a column straddles two
    transposed.resize(dim() * k_);
    kernels::transpose(part_weights(1), dim(), k_, transposed.data());
    kernels::apply_maps({.count = count,
                         .rows = dim(),
                         .cols = k_,
                         .maps_t = transposed.data(),
                         .x = part_weights(0),
                         .x_row = rows[0],
                         .y = out,
                         .y_stride = stride});
  }

  void part_gradients(const float* const* row, const float* g, float* const* grad) const {
    linear_map_gradients(row[1], row[0], g, dim(), k_, grad[0], grad[1]);
  }

 private:
  std::string spec_;
  int64_t k_;
};

double md_alpha(const Spec& spec) {
  const double a = spec.get_double("alpha", kDefaultAlpha);
  CEMBED_CHECK(a >= 0 && a < 1, "bad spec '{}': alpha must be in [0, 1), got {}", spec.str(), a);
  return a;
}

}  // namespace

MethodEntry md_method() {
  MethodEntry m{
      {"md", "mixed dimension: dim=K per feature (K ~ n^-alpha) and a K -> dim projection", {"dim", "alpha"}, false},
      [](const Spec& spec, const TableShape& shape) -> EmbeddingTablePtr {
        md_alpha(spec);
        const int64_t k = spec.get_int("dim", 0);
        CEMBED_CHECK(k >= 1 && k <= shape.dim, "bad spec '{}': dim must be in [1, {}] (the model's dimension)",
                     spec.str(), shape.dim);
        return std::make_unique<MdTable>(shape, spec, k);
      },
      [](const Spec& spec, const TableShape& shape) {
        return md_bytes_for(shape.cardinalities.at(0), spec.get_int("dim", 0), shape.dim);
      },
      [](const Spec& spec, const TableShape& shape, int64_t budget) {
        const int64_t n = shape.cardinalities.at(0);
        const int64_t min = md_bytes_for(n, 1, shape.dim);
        CEMBED_CHECK(budget >= min, "md needs at least {} bytes for {} values at dim 1, budget is {}", min, n, budget);
        Spec sized = spec;
        sized.set("dim", std::to_string(std::min(budget / md_bytes_for(n, 1, shape.dim), shape.dim)));
        return sized;
      },
      [](const Spec& spec) { return spec.has("dim"); },
      [](const Spec&, const TableShape& shape) { return md_bytes_for(shape.cardinalities.at(0), 1, shape.dim); },
  };
  m.share_weight = [](const Spec& spec, const TableShape& shape) {
    return std::pow(static_cast<double>(shape.cardinalities.at(0)), 1.0 - md_alpha(spec));
  };
  return m;
}

}  // namespace cembed
