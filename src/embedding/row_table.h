// RowTable: shared machinery for methods whose parameters are one matrix of `rows` x dim
// and whose ids map to exactly one row (full tables, the hashing trick). A subclass only
// says how an id maps to a row; gather, fused update, state and I/O live here.
#pragma once

#include <vector>

#include "cembed/embedding_table.h"
#include "embedding/table_state.h"
#include "kernels/embedding_kernels.h"

namespace cembed {

class RowTable : public EmbeddingTable {
 public:
  int64_t rows() const { return matrix_.rows(); }
  int64_t parameter_bytes() const override { return matrix_.parameter_bytes(); }
  int64_t optimizer_bytes() const override { return matrix_.optimizer_bytes(); }
  void init(uint64_t seed) override;
  void set_optimizer(const OptimizerConfig& config) override;
  void forward(std::span<const BagBatch> bags, Pooling pooling, std::span<const MatrixView> out) const override;
  void backward(std::span<const BagBatch> bags, Pooling pooling, std::span<const ConstMatrixView> grad_out,
                float lr) override;
  void save(BinaryWriter& out) const override;
  void load(BinaryReader& in) override;
  std::vector<Block> blocks() override { return {matrix_.block()}; }
  void use_mapped_weights(std::span<const WeightView> weights) override;

 protected:
  RowTable(TableShape shape, int64_t rows);
  // rows[k] = the row of value ids[k], for every k (ids already checked to be <
  // num_values(0)); a batch per call, so the loop is the subclass's own (no call per id).
  virtual void map_ids(std::span<const Id> ids, int64_t* rows) const = 0;

 private:
  kernels::RowBags map_bags(const BagBatch& bags) const;

  TableState matrix_;  // rows x dim
  mutable std::vector<int64_t> mapped_;
  kernels::UpdateScratch update_scratch_;
};

}  // namespace cembed
