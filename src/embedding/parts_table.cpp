#include "embedding/parts_table.h"

#include <numeric>

#include "util/check.h"

namespace cembed {

PartsTable::PartsTable(TableShape shape, std::vector<Part> parts)
    : EmbeddingTable(std::move(shape)), parts_(std::move(parts)) {
  CEMBED_CHECK(num_features() == 1, "a {}-part table serves one feature, got {}", parts_.size(), num_features());
  CEMBED_CHECK(!parts_.empty() && parts_.size() <= 8, "a parts table has 1 to 8 parts, got {}", parts_.size());
  for (const Part& p : parts_) {
    CEMBED_CHECK(p.rows > 0 && p.width > 0, "table part of {} x {} floats", p.rows, p.width);
    matrices_.emplace_back(p.rows, p.width);
  }
  mapped_.resize(parts_.size());
  part_grads_.resize(parts_.size());
  coalesced_.resize(parts_.size());
}

int64_t PartsTable::parameter_bytes() const {
  int64_t total = 0;
  for (const TableState& m : matrices_) total += m.parameter_bytes();
  return total;
}

int64_t PartsTable::optimizer_bytes() const {
  int64_t total = 0;
  for (const TableState& m : matrices_) total += m.optimizer_bytes();
  return total;
}

void PartsTable::init(uint64_t seed) {
  for (int j = 0; j < num_parts(); ++j) {
    Rng rng(derive_seed(seed, static_cast<uint64_t>(j)));
    init_part(j, rng, matrices_[j].weights());
  }
}

void PartsTable::set_optimizer(const OptimizerConfig& config) {
  for (TableState& m : matrices_) m.set_optimizer(config);
}

std::vector<EmbeddingTable::Block> PartsTable::blocks() {
  std::vector<Block> out;
  for (TableState& m : matrices_) out.push_back(m.block());
  return out;
}

void PartsTable::use_mapped_weights(std::span<const WeightView> weights) {
  CEMBED_CHECK(weights.size() == matrices_.size(), "{}: {} mapped blocks for {} parts", spec(), weights.size(),
               matrices_.size());
  for (size_t j = 0; j < matrices_.size(); ++j) matrices_[j].use_mapped_weights(weights[j]);
}

void PartsTable::map_ids(const BagBatch& bags) const {
  const size_t count = bags.ids.size();
  check_ids(0, bags.ids);
  int64_t* rows[8];
  for (size_t j = 0; j < parts_.size(); ++j) {
    mapped_[j].resize(count);
    rows[j] = mapped_[j].data();
  }
  map_batch(bags.ids, rows);
}

void PartsTable::check_output(const BagBatch& bags, const MatrixView& out) const {
  CEMBED_CHECK(out.rows == bags.batch_size() && out.cols == dim(), "{} table: output is {}x{}, expected {}x{}",
               method(), out.rows, out.cols, bags.batch_size(), dim());
}

void PartsTable::forward(std::span<const BagBatch> bags, Pooling pooling, std::span<const MatrixView> out) const {
  const BagBatch& b = bags[0];
  map_ids(b);
  const int64_t* rows[8];
  for (size_t j = 0; j < parts_.size(); ++j) rows[j] = mapped_[j].data();
  check_output(b, out[0]);
  combine_pooled(b, rows, pooling, out[0]);
}

void PartsTable::forward_reference(const BagBatch& bags, Pooling pooling, MatrixView out) const {
  // One id at a time through map_rows too (not map_batch's fast division).
  const int64_t n = num_values(0), count = static_cast<int64_t>(bags.ids.size());
  std::vector<std::vector<int64_t>> mapped(parts_.size(), std::vector<int64_t>(count));
  int64_t r[8];
  for (int64_t k = 0; k < count; ++k) {
    CEMBED_CHECK(bags.ids[k] < n, "{} table: value id {} out of range [0, {})", method(), bags.ids[k], n);
    map_rows(bags.ids[k], r);
    for (size_t j = 0; j < parts_.size(); ++j) mapped[j][k] = r[j];
  }
  const int64_t* rows[8];
  for (size_t j = 0; j < parts_.size(); ++j) rows[j] = mapped[j].data();
  check_output(bags, out);
  combine_pooled_reference(bags, rows, pooling, out);
}

void PartsTable::backward(std::span<const BagBatch> bags, Pooling pooling, std::span<const ConstMatrixView> grad_out,
                          float lr) {
  CEMBED_CHECK(matrices_[0].has_optimizer(), "{} table: set_optimizer() was not called before backward()", method());
  const BagBatch& b = bags[0];
  map_ids(b);
  const int64_t count = static_cast<int64_t>(b.ids.size()), d = dim();
  vectors_.resize(count * d);
  kernels::occurrence_gradients(b.offsets, b.weights, pooling, grad_out[0], d, {vectors_.data(), count, d, d});
  // All part gradients from the weights before any update.
  const int64_t* rows[8];
  float* grads[8];
  for (int j = 0; j < num_parts(); ++j) {
    part_grads_[j].resize(count * parts_[j].width);
    rows[j] = mapped_[j].data();
    grads[j] = part_grads_[j].data();
  }
  gradients_batch(count, rows, vectors_.data(), grads);
  if (identity_offsets_.size() < static_cast<size_t>(count + 1)) {
    identity_offsets_.resize(count + 1);
    std::iota(identity_offsets_.begin(), identity_offsets_.end(), uint32_t{0});
  }
  const std::span<const uint32_t> one_per_bag(identity_offsets_.data(), count + 1);
  for (int j = 0; j < num_parts(); ++j) {
    const int64_t w = parts_[j].width;
    const kernels::RowBags part_bags{mapped_[j], one_per_bag, {}};
    kernels::coalesce_gradients(part_bags, Pooling::Sum, ConstMatrixView{part_grads_[j].data(), count, w, w}, w,
                                coalesced_[j]);
    matrices_[j].update(coalesced_[j], lr);
  }
}

void PartsTable::save(BinaryWriter& out) const {
  save_table_spec(out, spec());
  out.i64(dim());
  out.u32(static_cast<uint32_t>(parts_.size()));
  for (const TableState& m : matrices_) m.save_weights(out, true);
  save_optimizer_state(out, matrices_);
}

void PartsTable::load(BinaryReader& in) {
  load_table_spec(in, spec());
  const int64_t d = in.i64("table dim");
  CEMBED_CHECK(d == dim(), "{}: table dim {} in file, {} expected", in.context(), d, dim());
  const uint32_t parts = in.u32("table parts");
  CEMBED_CHECK(parts == parts_.size(), "{}: {} table parts in file, {} expected", in.context(), parts, parts_.size());
  for (size_t j = 0; j < parts_.size(); ++j) matrices_[j].load_weights(in, true, "table part " + std::to_string(j));
  load_optimizer_state(in, matrices_);
}

}  // namespace cembed
