// Training and evaluation of DLRM on cembed datasets.
//
// What a run promises about its bits is stated once, in docs/reliability.md ("Determinism").
// The initial model is a function of `seed`; epoch e visits the training rows in a
// permutation drawn from (seed, e).
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "cembed/communicator.h"
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
// The same result (up to float rounding of each score), each rank of `comm` scoring its
// range of rows; every rank receives it.
EvalResult evaluate(Dlrm& model, const Dataset& data, int64_t batch_size, Communicator& comm);

// Trains as configured; prints the plan and progress to stderr; returns the report JSON
// (also written to report_path when set).
nlohmann::json train(const TrainConfig& config);
// Data-parallel training over the ranks of `comm` (docs/distributed.md): every rank calls it
// with the same configuration (checked at the start) and trains on its shard of the data;
// rank 0 alone prints, writes checkpoints and the report. Every rank returns the report.
nlohmann::json train(const TrainConfig& config, Communicator& comm);

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

// Threads for OpenMP regions, process-wide (train() sets them from its config):
// run one train() or evaluate() at a time in a process.
void set_num_threads(int threads);

}  // namespace cembed
