// SharedArrayTable: the machinery of methods that keep one array of `size` floats for
// every feature they serve (robe, lma), cut into size / Z blocks of Z contiguous floats.
// Element j of a value's vector lies in chunk c = j div Z, at offset j mod Z of the block
// its BlockPlacement gives (block_placement.h); a subclass (robe_table.cpp, lma_table.cpp)
// says which placement. Everything else lives here: id checks, the pooled gather of the
// pieces, the backward pass (per-id gradients cut into chunks, coalesced per block, the
// optimizer update fused), bytes, state and I/O.
//
// Blocks are aligned (unlike ROBE's reference, whose offsets h mod (M - Z + 1) overlap by
// any amount): a shared slot is a whole block, and the gradients of every (value, element)
// that land on one block add up exactly before the optimizer sees them, element-wise
// Adagrad included. Initialisation: uniform +-sqrt(1/n) with n the mean cardinality of the
// served features (a full table's scale for a typical feature). Memory: M floats, and what
// the placement keeps per value (auxiliary bytes, saved with the model).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cembed/embedding_table.h"
#include "cembed/spec.h"
#include "embedding/block_placement.h"
#include "embedding/table_state.h"
#include "kernels/embedding_kernels.h"

namespace cembed {

// The keys every shared-array method reads: size=M, block=Z, seed=S.
struct SharedArrayConfig {
  int64_t size = 0;
  int64_t block = 1;
  uint64_t seed = 0x5eed;

  // `default_block` when the spec gives none; checks block in [1, 4096].
  static SharedArrayConfig parse(const Spec& spec, int64_t default_block);
};

class SharedArrayTable : public EmbeddingTable {
 public:
  std::string spec() const override { return spec_; }
  std::string method() const override { return method_; }
  int64_t parameter_bytes() const override { return array_.parameter_bytes(); }
  int64_t optimizer_bytes() const override { return array_.optimizer_bytes(); }
  int64_t auxiliary_bytes() const override { return placement_ ? placement_->data().bytes() : 0; }
  void init(uint64_t seed) override;
  void set_optimizer(const OptimizerConfig& config) override;
  void forward(std::span<const BagBatch> bags, Pooling pooling, std::span<const MatrixView> out) const override;
  void backward(std::span<const BagBatch> bags, Pooling pooling, std::span<const ConstMatrixView> grad_out,
                float lr) override;
  void save(BinaryWriter& out) const override;
  void load(BinaryReader& in) override;
  std::vector<Block> blocks() override { return {array_.block()}; }
  void use_mapped_weights(std::span<const WeightView> weights) override;
  int64_t dense_gradient_size() const override;
  void add_gradient(std::span<const BagBatch> bags, Pooling pooling, std::span<const ConstMatrixView> grad_out,
                    std::span<float> grad) override;
  void apply_gradient(std::span<const float> grad, float lr) override;
  // The placement's data in the exported layout, read in place (PlacementData's section;
  // none for robe, whose placement is a hash).
  void save_serving_data(BinaryWriter& out) const override { save_placement(out, true); }
  void load_serving_data(BinaryReader& in) override { load_placement(in, true); }

 protected:
  SharedArrayTable(const TableShape& shape, const Spec& spec, const SharedArrayConfig& config);

  const PlacementGrid& grid() const { return grid_; }
  // The placement in use; a table without one (lma before its signatures) refuses to run
  // with not_ready().
  void set_placement(std::unique_ptr<BlockPlacement> placement) { placement_ = std::move(placement); }
  const BlockPlacement* placement() const { return placement_.get(); }
  // The placement from its file section (load).
  virtual std::unique_ptr<BlockPlacement> placement_from(PlacementData data, BinaryReader& in) const = 0;
  // Thrown by forward and backward while the table has no placement.
  [[noreturn]] virtual void not_ready() const;

 private:
  // The placement's section: `mapped`, the exported layout read in place; else a
  // checkpoint's packed layout, copied.
  void save_placement(BinaryWriter& out, bool mapped) const;
  void load_placement(BinaryReader& in, bool mapped);
  // The batch's gradient coalesced per block into coalesced_ (backward without the update).
  void coalesce(std::span<const BagBatch> bags, Pooling pooling, std::span<const ConstMatrixView> grad_out);
  const BlockPlacement& ready_placement() const;

  std::string spec_, method_;
  int64_t block_;
  PlacementGrid grid_;
  TableState array_;  // blocks x block, on cache lines
  std::unique_ptr<BlockPlacement> placement_;
  // Scratch reused across batches.
  mutable std::vector<int64_t> blocks_scratch_;
  std::vector<int64_t> slot_blocks_;
  std::vector<float> slot_grads_, per_id_;
  std::vector<uint32_t> identity_offsets_;
  kernels::RowGradients coalesced_;
};

// Registry functions shared by the shared-array methods (bytes M * 4; sized by a budget
// in whole blocks; at least one block).
int64_t shared_array_bytes(const Spec& spec, const TableShape& shape);
Spec fit_shared_array(const Spec& spec, const SharedArrayConfig& config, int64_t budget);
bool shared_array_is_sized(const Spec& spec);

}  // namespace cembed
