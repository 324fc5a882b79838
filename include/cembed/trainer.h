// Training and evaluation of DLRM on cembed datasets.
//
// Determinism (docs/reliability.md): the same data, configuration and seed give bitwise the
// same model whatever the thread count, and resuming from a checkpoint gives the model of
// an uninterrupted run. The initial model is a function of `seed`; epoch e visits the
// training rows in a permutation drawn from (seed, e).
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "cembed/dlrm.h"
#include "cembed/memory_plan.h"
#include "cembed/train_config.h"

namespace cembed {

struct EvalResult {
  int64_t rows = 0;
  double auc = 0, logloss = 0, ctr = 0, seconds = 0;
  nlohmann::json to_json() const;
};

EvalResult evaluate(Dlrm& model, const Dataset& data, int64_t batch_size);

// Memory a training run needs, roughly: embedding parameters and their optimizer state,
// dense layers (parameters, gradients, optimizer state) and the batch buffers of training and
// evaluation. The datasets are mapped from their files and not counted.
struct MemoryNeed {
  int64_t embedding_parameters = 0, embedding_optimizer = 0, dense = 0, buffers = 0;
  int64_t total() const { return embedding_parameters + embedding_optimizer + dense + buffers; }
};
MemoryNeed estimate_training_memory(const TrainConfig& config, const MemoryPlan& plan, int64_t num_dense,
                                    int64_t train_rows, int64_t eval_rows);
// Memory this process can still take: /proc/meminfo's MemAvailable, lowered to what a cgroup
// (v2 memory.max) leaves; sysconf's available pages where /proc is missing.
int64_t available_memory_bytes();
// Throws cembed::Error saying how much is needed (by part) and how much is available.
void check_memory_fits(const MemoryNeed& need, int64_t available);

// Trains as configured; prints the plan and progress to stderr; returns the report JSON
// (also written to report_path when set).
nlohmann::json train(const TrainConfig& config);

// Position of a run, saved in checkpoints.
struct TrainState {
  int64_t step = 0;            // optimisation steps done
  int64_t epoch = 0;           // current epoch
  int64_t batch_in_epoch = 0;  // batches of the current epoch done
};

// Checkpoint = training config + memory plan + position + model parameters and optimizer
// state, framed and checksummed (file_format.h), written atomically. `train_data` is the
// training data's Dataset::identity(), kept with the config (key "train_data").
void save_checkpoint(const std::string& path, const TrainConfig& config, const Dlrm& model, const TrainState& state,
                     const nlohmann::json& train_data = nullptr);

struct LoadedCheckpoint {
  std::string path;
  TrainConfig config;
  nlohmann::json train_data;  // the training data's identity; null in checkpoints made before it was kept
  MemoryPlan plan;
  TrainState state;
  std::unique_ptr<Dlrm> model;
};
LoadedCheckpoint load_checkpoint(const std::string& path);

// Throws unless `data` can be scored by the checkpoint's model: numbered by the vocabulary of
// its training data (schema and vocabulary id; older checkpoints: the plan's features).
void check_data_fits_model(const LoadedCheckpoint& checkpoint, const Dataset& data);

// Threads for OpenMP regions and OpenBLAS.
void set_num_threads(int threads);

// Peak resident memory of this process so far (VmHWM), in bytes.
int64_t peak_rss_bytes();

}  // namespace cembed
