// TableState: a parameter matrix of rows x width floats and its optimizer state, with the
// fused update and the pieces of their save/load. Every table keeps its parameters in
// one or more of these (row tables one, parts tables one per part, the shared array one
// of blocks x block), and every table's file section reads and writes through the
// functions below, so the header, the optimizer-kind check and the payload are one code.
//
// A table's section of a checkpoint, in order:
//   spec                  save_table_spec / load_table_spec (the spec must match)
//   its shape fields and each matrix's weights (save_weights / load_weights)
//   optimizer kind, then each matrix's state   save_optimizer_state / load_optimizer_state
//   anything the table keeps beside (lma's signatures)
//
// An exported model's tables read their weights in place from the file's read-only mapping
// (use_mapped_weights), in the file's precision: the matrix then owns no weights and no
// optimizer state, and only reads are allowed (view(), which lookups decode row by row
// through kernels/weight_reader.h; the const weights() for fp32); everything that writes
// refuses.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "cembed/embedding_table.h"
#include "cembed/optimizer.h"
#include "kernels/embedding_kernels.h"
#include "util/aligned_vector.h"
#include "util/binary_io.h"
#include "util/zeroed_array.h"

namespace cembed {

class TableState {
 public:
  TableState(int64_t rows, int64_t width);

  int64_t rows() const { return rows_; }
  int64_t width() const { return width_; }
  // Writable weights; refuses read-only (mapped) ones.
  std::span<float> weights();
  // fp32 weights, read-only (refuses an fp16 or int8 mapping: read those through view()).
  const float* weights() const;
  // The weights as lookups read them: the matrix's own (fp32) or the mapped block.
  WeightView view() const {
    return mapped() ? mapped_ : WeightView{Precision::Fp32, weights_.data(), nullptr, rows_ * width_, 0};
  }
  std::span<float> state() { return state_; }
  // The matrix as a block of EmbeddingTable::blocks().
  EmbeddingTable::Block block() { return {weights(), state(), rows_, width_}; }
  int64_t parameter_bytes() const { return rows_ * width_ * static_cast<int64_t>(sizeof(float)); }
  int64_t optimizer_bytes() const { return static_cast<int64_t>(state_.size() * sizeof(float)); }

  // Reads the weights from `weights` (rows x width floats in read-only memory that outlives
  // this matrix: an exported model's mapping) instead of its own, which are released.
  void use_mapped_weights(std::span<const float> weights);
  // The same from a block in any precision (weights.size floats of rows x width).
  void use_mapped_weights(const WeightView& weights);
  bool mapped() const { return mapped_.values != nullptr; }

  // State sized for `config.kind` and filled with its initial accumulator.
  void set_optimizer(const OptimizerConfig& config);
  // The state back to its initial accumulator (rows whose meaning changed: cce's reclustering).
  void reset_optimizer_state() { set_optimizer(optimizer_); }
  bool has_optimizer() const { return optimizer_set_; }
  OptimizerKind optimizer_kind() const { return optimizer_.kind; }
  // The optimizer step on the rows of `grads` (coalesced: one gradient per row), fused.
  void update(const kernels::RowGradients& grads, float lr);
  // The same from a batch's rows and output gradient (kernels::coalesce_and_apply): the
  // gradients of repeated rows summed, then the step, in one pass.
  void update(const kernels::RowBags& bags, Pooling pooling, ConstMatrixView grad, float lr,
              kernels::UpdateScratch& scratch);

  // Weights: with_shape writes i64 rows, i64 width before them (and load checks them
  // against this matrix, naming it `what` in the error).
  void save_weights(BinaryWriter& out, bool with_shape) const;
  void load_weights(BinaryReader& in, bool with_shape, std::string_view what);

 private:
  friend void save_optimizer_state(BinaryWriter& out, std::span<const TableState> matrices);
  friend void load_optimizer_state(BinaryReader& in, std::span<TableState> matrices);

  int64_t rows_, width_;
  // On cache lines (shared arrays are read in blocks); the weights start zero without touching
  // their pages (zeroed_array.h), so a model read in place never pays for them.
  ZeroedArray weights_;
  AlignedVector<float> state_;
  WeightView mapped_;  // values set: the weights, read-only, and weights_ empty
  OptimizerConfig optimizer_;
  bool optimizer_set_ = false;
};

// The table's spec; load refuses a section written by another spec.
void save_table_spec(BinaryWriter& out, const std::string& spec);
void load_table_spec(BinaryReader& in, const std::string& spec);

// u32 optimizer kind, then the state of each matrix. Load refuses an unknown kind or one
// other than configured (set_optimizer) and reads the states.
void save_optimizer_state(BinaryWriter& out, std::span<const TableState> matrices);
void load_optimizer_state(BinaryReader& in, std::span<TableState> matrices);

// The kind alone (the dense optimizer writes its own state): `what` names it in errors,
// e.g. "table optimizer", "dense optimizer".
void save_optimizer_kind(BinaryWriter& out, OptimizerKind kind);
void load_optimizer_kind(BinaryReader& in, OptimizerKind configured, std::string_view what);

}  // namespace cembed
