// Dlrm: DLRM (Naumov et al. 2019) over an EmbeddingCollection.
//
//   x = bottom_mlp(dense)                         B x d      (ReLU after every layer)
//   e_f = pooled embedding of feature f           B x d      (EmbeddingCollection)
//   r = dot_interaction([x, e_1..e_F])            B x (d + (F+1)F/2)
//   z = top_mlp(r)                                B x 1      (ReLU after all but the last)
//   loss = mean_b BCEWithLogits(z_b, y_b)
//
// train_step() runs forward, backward, the fused table updates and the dense update.
#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "cembed/collection.h"
#include "cembed/communicator.h"
#include "cembed/dataset.h"
#include "cembed/dense_optimizer.h"
#include "cembed/dot_interaction.h"
#include "cembed/mlp.h"

namespace cembed {

// How a data-parallel step exchanges the gradient of a table that offers a dense one
// (EmbeddingTable::dense_gradient_size: robe, lma): Sparse gathers the batch's bags and
// pooled-vector gradients (as for every other table); Dense sums the array's gradient over
// the ranks; Auto takes whichever hands fewer bytes to the collectives for that table and
// batch size.
enum class Exchange { Auto, Sparse, Dense };
Exchange parse_exchange(const std::string& name);  // "auto", "sparse", "dense"

struct DlrmConfig {
  int64_t num_dense = 13;
  int64_t dim = 16;
  std::vector<int64_t> bottom_hidden = {512, 256, 64};  // then -> dim
  std::vector<int64_t> top_hidden = {512, 256};         // then -> 1
  Pooling pooling = Pooling::Sum;

  nlohmann::json to_json() const;
  static DlrmConfig from_json(const nlohmann::json& j);
};

// Seconds train_step() spent in each phase since the model was built (steady_clock), for the
// report and the cost model of docs/scaling.md: under data parallelism forward_backward
// shrinks with a rank's share of the batch, exchange is added, and table_update and
// dense_update are the same on every rank whatever the rank count.
struct StepPhases {
  double forward_backward = 0;  // forward and backward of the (share of the) batch
  double exchange = 0;          // the collectives, with packing and unpacking
  double table_update = 0;      // the fused table update of the (global) batch
  double dense_update = 0;      // the dense optimizer's step
};

class Dlrm {
 public:
  Dlrm(DlrmConfig config, MemoryPlan plan);

  const DlrmConfig& config() const { return config_; }
  EmbeddingCollection& embeddings() { return embeddings_; }
  const EmbeddingCollection& embeddings() const { return embeddings_; }
  Mlp& bottom() { return bottom_; }
  Mlp& top() { return top_; }
  int64_t dense_parameter_count() const { return bottom_.parameter_count() + top_.parameter_count(); }

  void init(uint64_t seed);
  // Dense layers use `dense`; embedding tables use `sparse` (fused in their backward).
  void set_optimizers(const OptimizerConfig& dense, const OptimizerConfig& sparse);
  const DenseOptimizer& dense_optimizer() const { return *dense_opt_; }

  // The arithmetic of the MLPs' GEMMs in training steps (train_step, loss_and_gradients);
  // forward() (evaluation, scoring) always computes in fp32, as an exported model does.
  void set_training_precision(DensePrecision p) { training_precision_ = p; }
  DensePrecision training_precision() const { return training_precision_; }

  // Logits (B) of a batch, in fp32.
  void forward(const Batch& batch, std::vector<float>& logits) { forward(batch, logits, DensePrecision::Fp32); }
  // One optimisation step with learning rate lr; returns the batch's mean loss before the
  // update. Throws cembed::Error on a non-finite loss.
  double train_step(const Batch& batch, float lr);
  // One step of data-parallel training (dlrm_data_parallel.cpp). `batch` is this rank's share
  // of the global batch, which is the ranks' shares in rank order (a share may be empty).
  // The loss is the global batch's mean; dense gradients are summed over the ranks; every
  // rank receives the bags and pooled-vector gradients of the whole global batch and applies
  // the same table update, so all ranks keep one model, the model one process would train
  // on the global batch (up to float summation order). Returns the global batch's mean loss.
  double train_step(const Batch& batch, float lr, Communicator& comm, Exchange exchange = Exchange::Auto);
  // Loss and gradients without any update: fills the MLPs' gradients and returns the loss;
  // `embedding_grads` receives d loss / d pooled embedding per feature (B x d each).
  double loss_and_gradients(const Batch& batch, std::vector<std::vector<float>>* embedding_grads);
  const StepPhases& step_phases() const { return phases_; }

  // Parameters (MLPs and tables) and all optimizer state.
  void save(BinaryWriter& out) const;
  void load(BinaryReader& in);

 private:
  void forward(const Batch& batch, std::vector<float>& logits, DensePrecision precision);
  // `denominator` of the mean loss: the batch size, or the global batch's under data parallelism.
  double forward_backward(const Batch& batch, double denominator);
  std::vector<MatrixView> embedding_views(int64_t batch);

  DlrmConfig config_;
  EmbeddingCollection embeddings_;
  Mlp bottom_, top_;
  DotInteraction interaction_;
  std::unique_ptr<DenseOptimizer> dense_opt_;
  StepPhases phases_;
  DensePrecision training_precision_ = DensePrecision::Fp32;
  // Batch-sized buffers, reused across steps.
  std::vector<float> t_, r_, dr_, dt_, dx_, dz_;
};

// Mean binary cross entropy of logits z against labels y; writes dz = (sigmoid(z) - y) / B
// when dz is not null. B is z.size(), or `denominator` when given (a global batch's size).
double bce_with_logits(std::span<const float> z, std::span<const float> y, float* dz, double denominator = 0);

}  // namespace cembed
