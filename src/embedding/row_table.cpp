#include "embedding/row_table.h"

#include <cmath>

#include "cembed/errors.h"
#include "cembed/random.h"

namespace cembed {

RowTable::RowTable(TableShape shape, int64_t rows) : EmbeddingTable(std::move(shape)), rows_(rows) {
  CEMBED_CHECK(num_features() == 1, "a row table serves one feature, got {}", num_features());
  CEMBED_CHECK(rows_ > 0, "table needs at least one row, got {}", rows_);
  weights_.resize(rows_ * dim());
}

void RowTable::init(uint64_t seed) {
  // DLRM's initialisation: uniform in [-sqrt(1/rows), sqrt(1/rows)].
  Rng rng(seed);
  const float bound = std::sqrt(1.0f / static_cast<float>(rows_));
  for (float& w : weights_) w = rng.uniform(-bound, bound);
}

void RowTable::set_optimizer(const OptimizerConfig& config) {
  optimizer_ = config;
  state_.assign(optimizer_state_floats(config.kind, rows_, dim()), config.initial_accumulator);
}

kernels::RowBags RowTable::map_bags(const BagBatch& bags) const {
  const int64_t n = num_values(0);
  mapped_.resize(bags.ids.size());
  for (size_t k = 0; k < bags.ids.size(); ++k) {
    const Id id = bags.ids[k];
    CEMBED_CHECK(id < n, "{} table: value id {} out of range [0, {})", method(), id, n);
    mapped_[k] = map_row(id);
  }
  return {mapped_, bags.offsets, bags.weights};
}

void RowTable::forward(std::span<const BagBatch> bags, Pooling pooling, std::span<const MatrixView> out) const {
  kernels::pool_rows(weights_.data(), rows_, dim(), map_bags(bags[0]), pooling, out[0]);
}

void RowTable::backward(std::span<const BagBatch> bags, Pooling pooling, std::span<const ConstMatrixView> grad_out,
                        float lr) {
  CEMBED_CHECK(state_.size() == static_cast<size_t>(optimizer_state_floats(optimizer_.kind, rows_, dim())),
               "{} table: set_optimizer() was not called before backward()", method());
  kernels::coalesce_gradients(map_bags(bags[0]), pooling, grad_out[0], dim(), grads_);
  kernels::apply_row_updates(weights_.data(), state_.data(), rows_, dim(), grads_, optimizer_, lr);
}

void RowTable::save(BinaryWriter& out) const {
  out.str(spec());
  out.i64(rows_);
  out.i64(dim());
  out.floats(weights_);
  out.u32(static_cast<uint32_t>(optimizer_.kind));
  out.floats(state_);
}

void RowTable::load(BinaryReader& in) {
  const std::string s = in.str("table spec");
  CEMBED_CHECK(s == spec(), "{}: table spec '{}' in file, '{}' expected", in.context(), s, spec());
  const int64_t rows = in.i64("table rows"), d = in.i64("table dim");
  CEMBED_CHECK(rows == rows_ && d == dim(), "{}: table is {}x{} in file, {}x{} expected", in.context(), rows, d,
               rows_, dim());
  in.floats_into(weights_, "table weights");
  const uint32_t kind = in.u32("optimizer kind");
  CEMBED_CHECK(kind <= static_cast<uint32_t>(OptimizerKind::RowwiseAdagrad), "{}: unknown optimizer kind {}",
               in.context(), kind);
  CEMBED_CHECK(kind == static_cast<uint32_t>(optimizer_.kind), "{}: table optimizer in file is {}, configured {}",
               in.context(), optimizer_kind_name(static_cast<OptimizerKind>(kind)), optimizer_kind_name(optimizer_.kind));
  state_.resize(optimizer_state_floats(optimizer_.kind, rows_, dim()));
  in.floats_into(state_, "optimizer state");
}

}  // namespace cembed
