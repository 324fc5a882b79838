#include "embedding/row_table.h"

#include <cmath>

#include "util/check.h"
#include "util/random.h"

namespace cembed {

namespace {

int64_t checked_rows(int64_t rows) {
  CEMBED_CHECK(rows > 0, "table needs at least one row, got {}", rows);
  return rows;
}

}  // namespace

RowTable::RowTable(TableShape shape, int64_t rows)
    : EmbeddingTable(std::move(shape)), matrix_(checked_rows(rows), dim()) {
  CEMBED_CHECK(num_features() == 1, "a row table serves one feature, got {}", num_features());
}

void RowTable::init(uint64_t seed) {
  // DLRM's initialisation: uniform in [-sqrt(1/rows), sqrt(1/rows)].
  Rng rng(seed);
  const float bound = std::sqrt(1.0f / static_cast<float>(rows()));
  for (float& w : matrix_.weights()) w = rng.uniform(-bound, bound);
}

void RowTable::set_optimizer(const OptimizerConfig& config) { matrix_.set_optimizer(config); }

void RowTable::use_mapped_weights(std::span<const WeightView> weights) {
  CEMBED_CHECK(weights.size() == 1, "{}: {} mapped blocks for 1", spec(), weights.size());
  matrix_.use_mapped_weights(weights[0]);
}

kernels::RowBags RowTable::map_bags(const BagBatch& bags) const {
  check_ids(0, bags.ids);
  mapped_.resize(bags.ids.size());
  map_ids(bags.ids, mapped_.data());
  return {mapped_, bags.offsets, bags.weights};
}

void RowTable::forward(std::span<const BagBatch> bags, Pooling pooling, std::span<const MatrixView> out) const {
  kernels::pool_rows(matrix_.view(), dim(), map_bags(bags[0]), pooling, out[0]);
}

void RowTable::backward(std::span<const BagBatch> bags, Pooling pooling, std::span<const ConstMatrixView> grad_out,
                        float lr) {
  CEMBED_CHECK(matrix_.has_optimizer(), "{} table: set_optimizer() was not called before backward()", method());
  matrix_.update(map_bags(bags[0]), pooling, grad_out[0], lr, update_scratch_);
}

void RowTable::save(BinaryWriter& out) const {
  save_table_spec(out, spec());
  matrix_.save_weights(out, true);
  save_optimizer_state(out, {&matrix_, 1});
}

void RowTable::load(BinaryReader& in) {
  load_table_spec(in, spec());
  matrix_.load_weights(in, true, "table");
  load_optimizer_state(in, {&matrix_, 1});
}

}  // namespace cembed
