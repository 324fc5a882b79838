// RowTable: shared machinery for methods whose parameters are one matrix of `rows` x dim
// and whose ids map to exactly one row (full tables, the hashing trick). A subclass only
// says how an id maps to a row; gather, fused update, state and I/O live here.
#pragma once

#include <vector>

#include "cembed/embedding_table.h"
#include "kernels/embedding_kernels.h"

namespace cembed {

class RowTable : public EmbeddingTable {
 public:
  int64_t rows() const { return rows_; }
  int64_t parameter_bytes() const override { return rows_ * dim() * static_cast<int64_t>(sizeof(float)); }
  int64_t optimizer_bytes() const override { return static_cast<int64_t>(state_.size() * sizeof(float)); }
  void init(uint64_t seed) override;
  void set_optimizer(const OptimizerConfig& config) override;
  void forward(std::span<const BagBatch> bags, Pooling pooling, std::span<const MatrixView> out) const override;
  void backward(std::span<const BagBatch> bags, Pooling pooling, std::span<const ConstMatrixView> grad_out,
                float lr) override;
  void save(BinaryWriter& out) const override;
  void load(BinaryReader& in) override;
  std::vector<std::span<float>> parameter_blocks() override { return {weights_}; }

 protected:
  RowTable(TableShape shape, int64_t rows);
  // Row of value `id` (already checked to be < num_values(0)).
  virtual int64_t map_row(Id id) const = 0;

 private:
  kernels::RowBags map_bags(const BagBatch& bags) const;

  int64_t rows_;
  std::vector<float> weights_;
  std::vector<float> state_;
  OptimizerConfig optimizer_;
  mutable std::vector<int64_t> mapped_;
  kernels::RowGradients grads_;
};

}  // namespace cembed
