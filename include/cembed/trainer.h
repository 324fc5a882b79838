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
#include "cembed/lr_schedule.h"
#include "cembed/memory_plan.h"

namespace cembed {

struct TrainConfig {
  std::string train_path, valid_path, test_path;
  DlrmConfig model;            // num_dense is taken from the training data
  std::string embedding = "full";
  Budget budget;
  int64_t small_threshold = 200;
  std::string optimizer = "sgd";   // dense layers
  std::string table_optimizer;     // embedding tables; empty: same as `optimizer`
  LrSchedule lr;
  int64_t batch_size = 128;
  int64_t epochs = 1;
  int64_t max_steps = -1;          // stop after this many steps (-1: run every epoch)
  int threads = 2;
  uint64_t seed = 1;
  bool shuffle = true;
  int64_t eval_every = 0;          // evaluate on valid (or test) every N steps; 0: only at the end
  int64_t eval_batch_size = 16384;
  std::string checkpoint_path;     // written atomically every checkpoint_every steps and at the end
  int64_t checkpoint_every = 0;
  std::string resume_path;
  std::string report_path;
  std::string export_initial_dir;  // write the initial parameters as .npy files here
  bool progress = true;
  // Ranking evaluation of the test set after training (data prepared with ranking metadata):
  // k and sampled negatives per query (0: every unseen item); report key "ranking".
  bool ranking = false;
  int ranking_k = 10;
  int64_t ranking_negatives = 100;

  nlohmann::json to_json() const;
  static TrainConfig from_json(const nlohmann::json& j);
};

struct EvalResult {
  int64_t rows = 0;
  double auc = 0, logloss = 0, ctr = 0, seconds = 0;
  nlohmann::json to_json() const;
};

EvalResult evaluate(Dlrm& model, const Dataset& data, int64_t batch_size);

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
// state, framed and checksummed (file_format.h), written atomically.
void save_checkpoint(const std::string& path, const TrainConfig& config, const Dlrm& model, const TrainState& state);

struct LoadedCheckpoint {
  TrainConfig config;
  MemoryPlan plan;
  TrainState state;
  std::unique_ptr<Dlrm> model;
};
LoadedCheckpoint load_checkpoint(const std::string& path);

// Threads for OpenMP regions and OpenBLAS.
void set_num_threads(int threads);

// Peak resident memory of this process so far (VmHWM), in bytes.
int64_t peak_rss_bytes();

}  // namespace cembed
