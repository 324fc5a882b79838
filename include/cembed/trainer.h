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
#include "cembed/ranges.h"

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
  // Throws cembed::Error naming the first setting outside its range (visit_numeric_settings)
  // or inconsistent with another. train() calls it first; so does the CLI.
  void validate() const;
};

// Ranges shared by TrainConfig and other commands (eval) that take the same setting.
namespace ranges {
inline const Range batch_size{1, 1 << 24};
inline const Range dim{1, 1 << 20};
inline const Range small_threshold{0};
inline const Range compression{0, 1e9, true};  // full-table bytes / budget
inline const Range ranking_k{1, 1 << 20};
inline const Range ranking_negatives{0, 1 << 30, false, std::nullopt, ""};
inline Range threads() { return {1, static_cast<double>(max_threads())}; }
}  // namespace ranges

// Every numeric setting of TrainConfig, declared once: its name (the CLI's long option and
// the TOML key), the field, its range and what it means. visit(name, field&, range, help).
// TrainConfig::validate(), the CLI's options, checks and --help, and the docs' table of
// ranges (docs/reliability.md) all follow this list.
template <class Config, class Visit>  // Config: TrainConfig or const TrainConfig
void visit_numeric_settings(Config& c, Visit&& visit) {
  constexpr double kSteps = Range::kNoLimit;
  visit("small-threshold", c.small_threshold, ranges::small_threshold, "features with fewer values keep full tables");
  visit("dim", c.model.dim, ranges::dim, "embedding dimension");
  visit("lr", c.lr.base, Range{0, 100, true}, "learning rate");
  visit("warmup-steps", c.lr.warmup_steps, Range{0, kSteps}, "linear warm-up steps");
  visit("decay-start", c.lr.decay_start, Range{0, kSteps, false, -1, "no decay"},
        "step where polynomial decay starts");
  visit("decay-steps", c.lr.decay_steps, Range{0, kSteps}, "steps of the decay");
  visit("batch-size", c.batch_size, ranges::batch_size, "training batch size");
  visit("epochs", c.epochs, Range{0, 1e6}, "passes over the training data (0: only with --max-steps)");
  visit("max-steps", c.max_steps, Range{1, kSteps, false, -1, "all epochs"}, "stop after this many steps");
  visit("threads", c.threads, ranges::threads(), "threads");
  visit("eval-every", c.eval_every, Range{0, kSteps}, "evaluate every N steps (0: at the end only)");
  visit("eval-batch-size", c.eval_batch_size, ranges::batch_size, "evaluation batch size");
  visit("checkpoint-every", c.checkpoint_every, Range{0, kSteps},
        "write the checkpoint every N steps (0: at the end only)");
  visit("ranking-k", c.ranking_k, ranges::ranking_k, "cut-off k of nDCG@k and HitRate@k");
  visit("ranking-negatives", c.ranking_negatives, ranges::ranking_negatives,
        "sampled unseen items per query (0: all unseen items)");
}
// The sizes of the hidden layers (--bottom, --top), each.
inline const Range kHiddenLayerRange{1, 1 << 20};

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
