// EmbeddingCollection: every categorical feature of a model, built from one MemoryPlan.
// Each planned table serves one feature, or (shared-array methods) several; forward and
// backward run the tables in parallel (one thread per table at a time, so results do not
// depend on the thread count).
#pragma once

#include <vector>

#include "cembed/embedding_table.h"
#include "cembed/memory_plan.h"

namespace cembed {

class EmbeddingCollection {
 public:
  explicit EmbeddingCollection(MemoryPlan plan);

  int num_features() const { return static_cast<int>(plan_.features.size()); }
  int64_t dim() const { return plan_.dim; }
  const MemoryPlan& plan() const { return plan_; }
  int num_tables() const { return static_cast<int>(tables_.size()); }
  EmbeddingTable& table(int t) { return *tables_[t]; }

  int64_t parameter_bytes() const;
  int64_t optimizer_bytes() const;
  int64_t auxiliary_bytes() const;

  // The signature kinds some table needs (LMA), and handing them the signatures: call
  // attach_signatures() for each before init() when a table needs them.
  std::vector<SignatureKind> needed_signatures() const;
  void attach_signatures(const ValueSignatures& sigs);

  void init(uint64_t seed);
  void set_optimizer(const OptimizerConfig& config);

  // bags and out have num_features() entries; out[f] is B x dim().
  void forward(std::span<const BagBatch> bags, Pooling pooling, std::span<const MatrixView> out) const;
  void backward(std::span<const BagBatch> bags, Pooling pooling, std::span<const ConstMatrixView> grad_out, float lr);
  // backward() of the tables t with run[t] != 0 only; the features of the others are not read
  // (a data-parallel step updates those from their exchanged dense gradient).
  void backward(std::span<const BagBatch> bags, Pooling pooling, std::span<const ConstMatrixView> grad_out, float lr,
                std::span<const char> run);

  void save(BinaryWriter& out) const;
  void load(BinaryReader& in);

 private:
  MemoryPlan plan_;
  std::vector<EmbeddingTablePtr> tables_;
};

}  // namespace cembed
