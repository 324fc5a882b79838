#include "embedding/parts_table.h"

#include <numeric>

#include "cembed/errors.h"

namespace cembed {

PartsTable::PartsTable(TableShape shape, std::vector<Part> parts)
    : EmbeddingTable(std::move(shape)), parts_(std::move(parts)) {
  CEMBED_CHECK(num_features() == 1, "a {}-part table serves one feature, got {}", parts_.size(), num_features());
  CEMBED_CHECK(!parts_.empty() && parts_.size() <= 8, "a parts table has 1 to 8 parts, got {}", parts_.size());
  for (const Part& p : parts_) {
    CEMBED_CHECK(p.rows > 0 && p.width > 0, "table part of {} x {} floats", p.rows, p.width);
    weights_.emplace_back(p.rows * p.width);
  }
  state_.resize(parts_.size());
  mapped_.resize(parts_.size());
  part_grads_.resize(parts_.size());
  coalesced_.resize(parts_.size());
}

int64_t PartsTable::parameter_bytes() const {
  int64_t total = 0;
  for (const Part& p : parts_) total += p.rows * p.width * static_cast<int64_t>(sizeof(float));
  return total;
}

int64_t PartsTable::optimizer_bytes() const {
  int64_t total = 0;
  for (const auto& s : state_) total += static_cast<int64_t>(s.size() * sizeof(float));
  return total;
}

void PartsTable::init(uint64_t seed) {
  for (int j = 0; j < num_parts(); ++j) {
    Rng rng(derive_seed(seed, static_cast<uint64_t>(j)));
    init_part(j, rng, weights_[j]);
  }
}

void PartsTable::set_optimizer(const OptimizerConfig& config) {
  optimizer_ = config;
  optimizer_set_ = true;
  for (int j = 0; j < num_parts(); ++j) {
    state_[j].assign(optimizer_state_floats(config.kind, parts_[j].rows, parts_[j].width), config.initial_accumulator);
  }
}

std::vector<std::span<float>> PartsTable::parameter_blocks() {
  std::vector<std::span<float>> out;
  for (auto& w : weights_) out.emplace_back(w);
  return out;
}

void PartsTable::map_ids(const BagBatch& bags) const {
  const int64_t n = num_values(0);
  const size_t count = bags.ids.size();
  for (const Id id : bags.ids) {
    CEMBED_CHECK(id < n, "{} table: value id {} out of range [0, {})", method(), id, n);
  }
  int64_t* rows[8];
  for (size_t j = 0; j < parts_.size(); ++j) {
    mapped_[j].resize(count);
    rows[j] = mapped_[j].data();
  }
  map_batch(bags.ids, rows);
}

void PartsTable::forward(std::span<const BagBatch> bags, Pooling pooling, std::span<const MatrixView> out) const {
  const BagBatch& b = bags[0];
  map_ids(b);
  const int64_t d = dim();
  const int64_t* rows[8];
  for (size_t j = 0; j < parts_.size(); ++j) rows[j] = mapped_[j].data();
  CEMBED_CHECK(out[0].rows == b.batch_size() && out[0].cols == d, "{} table: output is {}x{}, expected {}x{}",
               method(), out[0].rows, out[0].cols, b.batch_size(), d);
  combine_pooled(b, rows, pooling, out[0]);
}

void PartsTable::backward(std::span<const BagBatch> bags, Pooling pooling, std::span<const ConstMatrixView> grad_out,
                          float lr) {
  CEMBED_CHECK(optimizer_set_, "{} table: set_optimizer() was not called before backward()", method());
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
    kernels::apply_row_updates(weights_[j].data(), state_[j].data(), parts_[j].rows, w, coalesced_[j], optimizer_,
                               lr);
  }
}

void PartsTable::save(BinaryWriter& out) const {
  out.str(spec());
  out.i64(dim());
  out.u32(static_cast<uint32_t>(parts_.size()));
  for (size_t j = 0; j < parts_.size(); ++j) {
    out.i64(parts_[j].rows);
    out.i64(parts_[j].width);
    out.floats(weights_[j]);
  }
  out.u32(static_cast<uint32_t>(optimizer_.kind));
  for (const auto& s : state_) out.floats(s);
}

void PartsTable::load(BinaryReader& in) {
  const std::string s = in.str("table spec");
  CEMBED_CHECK(s == spec(), "{}: table spec '{}' in file, '{}' expected", in.context(), s, spec());
  const int64_t d = in.i64("table dim");
  CEMBED_CHECK(d == dim(), "{}: table dim {} in file, {} expected", in.context(), d, dim());
  const uint32_t parts = in.u32("table parts");
  CEMBED_CHECK(parts == parts_.size(), "{}: {} table parts in file, {} expected", in.context(), parts, parts_.size());
  for (size_t j = 0; j < parts_.size(); ++j) {
    const int64_t rows = in.i64("part rows"), width = in.i64("part width");
    CEMBED_CHECK(rows == parts_[j].rows && width == parts_[j].width, "{}: table part {} is {}x{} in file, {}x{} expected",
                 in.context(), j, rows, width, parts_[j].rows, parts_[j].width);
    in.floats_into(weights_[j], "table part weights");
  }
  const uint32_t kind = in.u32("optimizer kind");
  CEMBED_CHECK(kind <= static_cast<uint32_t>(OptimizerKind::RowwiseAdagrad), "{}: unknown optimizer kind {}",
               in.context(), kind);
  CEMBED_CHECK(kind == static_cast<uint32_t>(optimizer_.kind), "{}: table optimizer in file is {}, configured {}",
               in.context(), optimizer_kind_name(static_cast<OptimizerKind>(kind)), optimizer_kind_name(optimizer_.kind));
  for (size_t j = 0; j < parts_.size(); ++j) {
    state_[j].resize(optimizer_state_floats(optimizer_.kind, parts_[j].rows, parts_[j].width));
    in.floats_into(state_[j], "optimizer state");
  }
}

}  // namespace cembed
