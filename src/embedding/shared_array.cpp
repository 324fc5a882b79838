#include "embedding/shared_array.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "util/check.h"
#include "util/random.h"

namespace cembed {

SharedArrayConfig SharedArrayConfig::parse(const Spec& spec, int64_t default_block) {
  SharedArrayConfig c;
  c.size = spec.get_int("size", 0);
  c.block = spec.get_int("block", default_block);
  c.seed = static_cast<uint64_t>(spec.get_int("seed", static_cast<int64_t>(c.seed)));
  CEMBED_CHECK(c.block >= 1 && c.block <= 4096, "bad spec '{}': block must be in [1, 4096], got {}", spec.str(),
               c.block);
  return c;
}

namespace {

PlacementGrid grid_of(const Spec& spec, const SharedArrayConfig& c, int64_t dim) {
  CEMBED_CHECK(c.size > 0 && c.size % c.block == 0, "bad spec '{}': size must be a positive multiple of block {}",
               spec.str(), c.block);
  CEMBED_CHECK(
      c.block <= dim,
      "bad spec '{}': block {} is wider than the vector ({} floats): blocks are aligned, so {} floats of every "
      "block would never be read; give block <= {}",
      spec.str(), c.block, dim, c.block - dim, dim);
  const int64_t blocks = c.size / c.block;
  CEMBED_CHECK(blocks <= kMaxBlocks, "bad spec '{}': at most 2^32 blocks, got {}", spec.str(), blocks);
  return {blocks, (dim + c.block - 1) / c.block, mix64(c.seed)};
}

}  // namespace

SharedArrayTable::SharedArrayTable(const TableShape& shape, const Spec& spec, const SharedArrayConfig& config)
    : EmbeddingTable(shape),
      spec_(spec.str()),
      method_(spec.name),
      block_(config.block),
      grid_(grid_of(spec, config, shape.dim)),
      array_(grid_.blocks, config.block) {}

void SharedArrayTable::init(uint64_t seed) {
  int64_t total = 0;
  for (int f = 0; f < num_features(); ++f) total += num_values(f);
  const double mean_n = static_cast<double>(total) / num_features();
  const auto bound = static_cast<float>(std::sqrt(1.0 / mean_n));
  Rng rng(seed);
  for (float& x : array_.weights()) x = rng.uniform(-bound, bound);
}

void SharedArrayTable::set_optimizer(const OptimizerConfig& config) { array_.set_optimizer(config); }

void SharedArrayTable::use_mapped_weights(std::span<const WeightView> weights) {
  CEMBED_CHECK(weights.size() == 1, "{}: {} mapped blocks for 1", spec_, weights.size());
  array_.use_mapped_weights(weights[0]);
}

void SharedArrayTable::not_ready() const { fail("{} table: no block placement", spec_); }

const BlockPlacement& SharedArrayTable::ready_placement() const {
  if (!placement_) not_ready();
  return *placement_;
}

void SharedArrayTable::forward(std::span<const BagBatch> bags, Pooling pooling, std::span<const MatrixView> out) const {
  const BlockPlacement& placement = ready_placement();
  const WeightView array = array_.view();
  for (int f = 0; f < num_features(); ++f) {
    const BagBatch& b = bags[f];
    check_ids(f, b.ids);
    // Where every (id, chunk) lies first, then the gather (which prefetches ahead).
    blocks_scratch_.resize(b.ids.size() * grid_.chunks);
    placement.blocks_of(f, b.ids, block_, blocks_scratch_.data());
    kernels::pool_pieces(array, dim(), block_, {blocks_scratch_, b.offsets, b.weights}, pooling, out[f]);
  }
}

void SharedArrayTable::backward(std::span<const BagBatch> bags, Pooling pooling,
                                std::span<const ConstMatrixView> grad_out, float lr) {
  CEMBED_CHECK(array_.has_optimizer(), "{} table: set_optimizer() was not called before backward()", method_);
  coalesce(bags, pooling, grad_out);
  array_.update(coalesced_, lr);
}

int64_t SharedArrayTable::dense_gradient_size() const { return array_.rows() * array_.width(); }

void SharedArrayTable::add_gradient(std::span<const BagBatch> bags, Pooling pooling,
                                    std::span<const ConstMatrixView> grad_out, std::span<float> grad) {
  CEMBED_CHECK(static_cast<int64_t>(grad.size()) == dense_gradient_size(),
               "{} table: a dense gradient of {} floats for an array of {}", method_, grad.size(),
               dense_gradient_size());
  coalesce(bags, pooling, grad_out);
  const int64_t Z = block_;
  for (size_t i = 0; i < coalesced_.rows.size(); ++i) {
    float* to = grad.data() + coalesced_.rows[i] * Z;
    const float* from = coalesced_.grads.data() + static_cast<int64_t>(i) * Z;
    for (int64_t j = 0; j < Z; ++j) to[j] += from[j];
  }
}

void SharedArrayTable::apply_gradient(std::span<const float> grad, float lr) {
  CEMBED_CHECK(array_.has_optimizer(), "{} table: set_optimizer() was not called before apply_gradient()", method_);
  CEMBED_CHECK(static_cast<int64_t>(grad.size()) == dense_gradient_size(),
               "{} table: a dense gradient of {} floats for an array of {}", method_, grad.size(),
               dense_gradient_size());
  const int64_t Z = block_, blocks = dense_gradient_size() / Z;
  coalesced_.rows.clear();
  coalesced_.grads.clear();
  for (int64_t b = 0; b < blocks; ++b) {
    const float* g = grad.data() + b * Z;
    if (std::all_of(g, g + Z, [](float x) { return x == 0.0f; })) continue;
    coalesced_.rows.push_back(b);
    coalesced_.grads.insert(coalesced_.grads.end(), g, g + Z);
  }
  array_.update(coalesced_, lr);
}

void SharedArrayTable::coalesce(std::span<const BagBatch> bags, Pooling pooling,
                                std::span<const ConstMatrixView> grad_out) {
  const BlockPlacement& placement = ready_placement();
  const int64_t d = dim(), Z = block_, chunks = grid_.chunks;
  int64_t total = 0;
  for (int f = 0; f < num_features(); ++f) total += static_cast<int64_t>(bags[f].ids.size()) * chunks;
  slot_blocks_.resize(total);
  slot_grads_.assign(total * Z, 0.0f);
  int64_t i = 0;
  for (int f = 0; f < num_features(); ++f) {
    const BagBatch& b = bags[f];
    check_ids(f, b.ids);
    const auto count = static_cast<int64_t>(b.ids.size());
    per_id_.resize(count * d);
    kernels::occurrence_gradients(b.offsets, b.weights, pooling, grad_out[f], d, {per_id_.data(), count, d, d});
    placement.blocks_of(f, b.ids, 1, slot_blocks_.data() + i);
    for (int64_t k = 0; k < count; ++k) {
      for (int64_t c = 0; c < chunks; ++c, ++i) {
        const int64_t width = std::min(Z, d - c * Z);
        std::copy_n(per_id_.data() + k * d + c * Z, width, slot_grads_.data() + i * Z);
      }
    }
  }
  if (identity_offsets_.size() < static_cast<size_t>(total + 1)) {
    identity_offsets_.resize(total + 1);
    std::iota(identity_offsets_.begin(), identity_offsets_.end(), uint32_t{0});
  }
  const kernels::RowBags slots{slot_blocks_, std::span<const uint32_t>(identity_offsets_.data(), total + 1), {}};
  kernels::coalesce_gradients(slots, Pooling::Sum, ConstMatrixView{slot_grads_.data(), total, Z, Z}, Z, coalesced_);
}

void SharedArrayTable::save(BinaryWriter& out) const {
  save_table_spec(out, spec_);
  out.i64(dim());
  array_.save_weights(out, false);
  save_optimizer_state(out, {&array_, 1});
  save_placement(out, false);
}

void SharedArrayTable::save_placement(BinaryWriter& out, bool mapped) const {
  if (placement_) {
    placement_->data().save(out, mapped);
  } else {
    PlacementData{}.save(out, mapped);
  }
}

void SharedArrayTable::load_placement(BinaryReader& in, bool mapped) {
  PlacementData data = PlacementData::load(in, num_features(), grid_, mapped);
  // Lookups index the placement by the feature's first value plus the id, the id checked
  // against the feature's cardinality: each feature must have exactly that many values.
  for (int f = 0; !data.empty() && f < num_features(); ++f) {
    CEMBED_CHECK(data.offset[f + 1] - data.offset[f] == num_values(f),
                 "{}: {} table places {} values of feature {}, its cardinality is {}", in.context(), spec_,
                 data.offset[f + 1] - data.offset[f], f, num_values(f));
  }
  placement_ = placement_from(std::move(data), in);
}

void SharedArrayTable::load(BinaryReader& in) {
  load_table_spec(in, spec_);
  const int64_t d = in.i64("table dim");
  CEMBED_CHECK(d == dim(), "{}: table dim {} in file, {} expected", in.context(), d, dim());
  array_.load_weights(in, false, "shared array");
  load_optimizer_state(in, {&array_, 1});
  load_placement(in, false);
}

int64_t shared_array_bytes(const Spec& spec, const TableShape&) {
  return spec.get_int("size", 0) * static_cast<int64_t>(sizeof(float));
}

Spec fit_shared_array(const Spec& spec, const SharedArrayConfig& c, int64_t budget) {
  const int64_t block_bytes = c.block * static_cast<int64_t>(sizeof(float));
  CEMBED_CHECK(budget >= block_bytes, "{} needs at least one block ({} bytes), budget is {}", spec.name, block_bytes,
               budget);
  Spec sized = spec;
  sized.set("size", std::to_string(std::min(budget / block_bytes, kMaxBlocks) * c.block));
  return sized;
}

bool shared_array_is_sized(const Spec& spec) { return spec.has("size"); }

}  // namespace cembed
