// The configuration of a training run, and the one table of its settings.
//
// Each setting of TrainConfig is declared once, in visit_train_settings() below: its long
// option (also its TOML key), its key in the JSON config (checkpoints, reports), its help
// text, its range, and whether it is part of the resume identity. The default is the
// member's initializer. TrainConfig::to_json/from_json, validate(), the resume check and
// the CLI's options (tools/cli/train_options.cpp) are all generated from that table.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cembed/dlrm.h"
#include "cembed/lr_schedule.h"
#include "cembed/memory_plan.h"
#include "cembed/ranges.h"

namespace cembed {

struct TrainConfig {
  std::string train_path, valid_path, test_path;
  DlrmConfig model;  // num_dense is taken from the training data
  std::string embedding = "full";
  Budget budget;
  int64_t small_threshold = 200;
  std::string allocation = "frequency";  // how a budget is split among features (memory_plan.h)
  std::string optimizer = "sgd";         // dense layers
  std::string table_optimizer;           // embedding tables; empty: same as `optimizer`
  std::string dense_precision = "fp32";  // the MLPs' training GEMMs: fp32 or bf16 (DensePrecision, mlp.h)
  LrSchedule lr;
  int64_t batch_size = 128;
  int64_t epochs = 1;
  int64_t max_steps = -1;  // stop after this many steps (-1: run every epoch)
  int threads = 2;
  bool fixed_threads = false;     // false: fewer threads while other processes keep cores busy (thread_governor.h)
  std::string exchange = "auto";  // data-parallel exchange of robe/lma gradients (Exchange, dlrm.h)
  int shards = 0;                 // data shards of an epoch (epoch order, docs/distributed.md); 0: the job's rank count
  uint64_t seed = 1;
  bool shuffle = true;
  int64_t eval_every = 0;  // evaluate on valid (or test) every N steps; 0: only at the end
  int64_t eval_batch_size = 16384;
  std::string checkpoint_path;  // written atomically every checkpoint_every steps and at the end
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

  // Every setting with a JSON key (visit_train_settings), as checkpoints and reports keep it.
  nlohmann::json to_json() const;
  // The inverse; a setting older files lack (kDefaultIfMissing) takes its default, any other
  // missing key throws nlohmann::json::out_of_range.
  static TrainConfig from_json(const nlohmann::json& j);
  // Throws cembed::Error naming the first setting outside its range (visit_train_settings)
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
inline const Range layer{1, 1 << 20};  // each size of --bottom and --top
inline Range threads() { return {1, static_cast<double>(max_threads())}; }
}  // namespace ranges

// A layer list of the command line, and which end it must have (see Setting::layers).
enum class LayerList {
  None,
  Bottom,  // DlrmConfig::bottom_hidden; on the command line every layer, the last = dim
  Top,     // DlrmConfig::top_hidden; on the command line every layer, the last = 1
};

// What one setting of TrainConfig is. `roles` is a mask of the kRole* flags.
struct Setting {
  std::string_view option;  // long option and TOML key; "" : not on the command line
  std::string_view key;     // key in to_json(): "a.b" is b inside object a; "" : not saved
  std::string_view help;
  std::optional<Range> range = std::nullopt;  // numbers (and each entry of a list)
  unsigned roles = 0;
  LayerList layers = LayerList::None;

  bool has(unsigned role) const { return (roles & role) != 0; }
};
// The checkpoint and the run that resumes from it must agree on it (data, model, method,
// optimizer, batch size, seed); the others say how the run is carried out and may change.
inline constexpr unsigned kRoleIdentity = 1u << 0;
// The command line must give it.
inline constexpr unsigned kRoleRequired = 1u << 1;
// Files written before the setting existed lack it: it takes its default.
inline constexpr unsigned kRoleDefaultIfMissing = 1u << 2;
// How a run is carried out or where it writes, with no effect on the model or its scores
// (threads: docs/reliability.md); a sweep's results file does not record it.
inline constexpr unsigned kRoleNoEffect = 1u << 3;

// Every setting of TrainConfig, declared once: visit(setting, field&) with field one of
// std::string, int64_t, int, float, uint64_t, bool, std::vector<int64_t>, Pooling or Budget.
// A bool's option is a flag that sets the opposite of its default (--no-shuffle, --quiet).
// Budget is one setting with two options (--embedding-budget BYTES, --compression RATIO;
// range: the ratio's) and two JSON keys (budget_kind, budget_value).
template <class Config, class Visit>  // Config: TrainConfig or const TrainConfig
void visit_train_settings(Config& c, Visit&& visit) {
  constexpr double kSteps = Range::kNoLimit;
  constexpr unsigned kId = kRoleIdentity, kOld = kRoleDefaultIfMissing, kOut = kRoleNoEffect;
  // The data. The training data is compared by its identity (Dataset::identity), not by its path.
  visit(Setting{"train", "train_path", "training dataset (.cds)", {}, kRoleRequired}, c.train_path);
  visit(Setting{"valid", "valid_path", "validation dataset (.cds)"}, c.valid_path);
  visit(Setting{"test", "test_path", "test dataset (.cds)"}, c.test_path);
  // The model.
  visit(Setting{"", "model.num_dense", "dense features (from the training data)", {}, kId}, c.model.num_dense);
  visit(Setting{"dim", "model.dim", "embedding dimension", ranges::dim, kId}, c.model.dim);
  visit(Setting{"bottom", "model.bottom_hidden",
                "every bottom MLP layer's output size, comma-separated, the last equal to --dim (TorchRec's "
                "dense_arch_layer_sizes; DLRM's --arch-mlp-bot without its first entry, the number of dense "
                "features); default 512,256,64,<dim>; each",
                ranges::layer, kId, LayerList::Bottom},
        c.model.bottom_hidden);
  visit(Setting{"top", "model.top_hidden",
                "every top MLP layer's output size, comma-separated, the last 1 (TorchRec's over_arch_layer_sizes, "
                "DLRM's --arch-mlp-top); default 512,256,1; each",
                ranges::layer, kId, LayerList::Top},
        c.model.top_hidden);
  visit(Setting{"pooling", "model.pooling", "bag pooling: sum or mean", {}, kId}, c.model.pooling);
  // The embedding tables.
  visit(Setting{"embedding",
                "embedding",
                "embedding method spec, e.g. full, hash, hash:rows=65536 (a spec with its size takes no budget)",
                {},
                kId},
        c.embedding);
  visit(Setting{"budget", "budget", "embedding budget: --embedding-budget BYTES or --compression RATIO",
                ranges::compression, kId},
        c.budget);
  visit(Setting{"small-threshold", "small_threshold", "features with fewer values keep full tables",
                ranges::small_threshold, kId},
        c.small_threshold);
  // Older files lack it: they take the default (their plans, saved with them, record the rule).
  visit(Setting{"allocation",
                "allocation",
                "how a budget is split among features: frequency (water-filling by sqrt(label information x effective "
                "values): small tables stay full while they fit) or uniform (every feature by the same ratio)",
                {},
                kId | kOld},
        c.allocation);
  // The optimisation.
  visit(Setting{"optimizer", "optimizer", "sgd, adagrad or rowwise_adagrad", {}, kId}, c.optimizer);
  visit(
      Setting{
          "table-optimizer", "table_optimizer", "optimizer of the embedding tables (default: --optimizer)", {}, kId},
      c.table_optimizer);
  visit(Setting{"dense-precision",
                "dense_precision",
                "arithmetic of the MLPs' GEMMs in training: fp32, or bf16 (inputs and weights rounded to bfloat16, "
                "products summed in fp32; faster where the CPU has AMX, e.g. Intel Sapphire Rapids; evaluation and "
                "exported models compute in fp32)",
                {},
                kId | kOld},
        c.dense_precision);
  visit(Setting{"lr", "lr", "learning rate", Range{0, 100, true}, kId}, c.lr.base);
  visit(Setting{"warmup-steps", "warmup_steps", "linear warm-up steps", Range{0, kSteps}, kId}, c.lr.warmup_steps);
  visit(Setting{"decay-start", "decay_start", "step where polynomial decay starts",
                Range{0, kSteps, false, -1, "no decay"}, kId},
        c.lr.decay_start);
  visit(Setting{"decay-steps", "decay_steps", "steps of the decay", Range{0, kSteps}, kId}, c.lr.decay_steps);
  visit(Setting{"", "min_lr", "learning rate at the end of the decay", {}, kId}, c.lr.min_lr);
  visit(Setting{"batch-size", "batch_size", "training batch size", ranges::batch_size, kId}, c.batch_size);
  visit(Setting{"epochs", "epochs", "passes over the training data (0: only with --max-steps)", Range{0, 1e6}},
        c.epochs);
  visit(Setting{"max-steps", "max_steps", "stop after this many steps", Range{1, kSteps, false, -1, "all epochs"}},
        c.max_steps);
  visit(Setting{"threads", "threads", "threads", ranges::threads(), kOut}, c.threads);
  visit(Setting{"fixed-threads",
                "fixed_threads",
                "train on --threads threads throughout (default: on fewer while other processes keep cores busy; the "
                "model is the same)",
                {},
                kOut | kOld},
        c.fixed_threads);
  visit(Setting{"shards", "shards",
                "cut each epoch's rows into N contiguous shards, each shuffled on its own, a batch taking its share "
                "of every shard (under mpirun rank r reads shard r; one process with --shards N trains as N ranks "
                "do)",
                Range{1, 1 << 20, false, 0, "the number of ranks"}, kOld},
        c.shards);
  visit(Setting{"exchange",
                "exchange",
                "how a job of ranks exchanges the gradients of robe and lma arrays: auto (whichever moves fewer "
                "bytes), sparse (the batch's bags and gradients) or dense (the array's gradient, summed)",
                {},
                kOld},
        c.exchange);
  visit(Setting{"seed", "seed", "random seed (0 to 2^64-1)", {}, kId}, c.seed);
  visit(Setting{"no-shuffle", "shuffle", "visit training rows in file order", {}, kId}, c.shuffle);
  // Evaluation, checkpoints and outputs.
  visit(Setting{"eval-every", "eval_every", "evaluate every N steps (0: at the end only)", Range{0, kSteps}},
        c.eval_every);
  visit(Setting{"eval-batch-size", "eval_batch_size", "evaluation batch size", ranges::batch_size}, c.eval_batch_size);
  visit(Setting{"checkpoint",
                "checkpoint_path",
                "checkpoint file, written atomically (its folder is checked writable before training)",
                {},
                kOut},
        c.checkpoint_path);
  visit(Setting{"checkpoint-every", "checkpoint_every", "write the checkpoint every N steps (0: at the end only)",
                Range{0, kSteps}, kOut},
        c.checkpoint_every);
  visit(Setting{"resume", "resume_path", "resume from this checkpoint (the same training data, by content)", {}, kOut},
        c.resume_path);
  visit(Setting{"report",
                "report_path",
                "write the JSON report here (its folder is checked writable before training)",
                {},
                kOut},
        c.report_path);
  visit(Setting{"export-initial",
                "export_initial_dir",
                "write the initial parameters as .npy files to this folder",
                {},
                kOld | kOut},
        c.export_initial_dir);
  visit(Setting{"quiet", "progress", "no plan or progress on stderr", {}, kOut}, c.progress);
  visit(Setting{"ranking",
                "ranking",
                "after training, rank each held-out test positive among unseen items (nDCG@k, HitRate@k)",
                {},
                kOld},
        c.ranking);
  visit(Setting{"ranking-k", "ranking_k", "cut-off k of nDCG@k and HitRate@k", ranges::ranking_k, kOld}, c.ranking_k);
  visit(Setting{"ranking-negatives", "ranking_negatives", "sampled unseen items per query (0: all unseen items)",
                ranges::ranking_negatives, kOld},
        c.ranking_negatives);
}

// The settings of the resume identity (kRoleIdentity), as to_json() writes them.
nlohmann::json resume_identity(const TrainConfig& config);
// The settings a sweep's results file records (to_json() without kRoleNoEffect), less the
// options in `varied` (those the sweep sets per run).
nlohmann::json sweep_identity(const TrainConfig& config, std::initializer_list<std::string_view> varied);
// The first identity setting on which `a` and `b` differ: its name (the option, "--dim", or
// the JSON key when it has none) and its value in each; nullopt when they agree.
struct SettingDifference {
  std::string name, first, second;
};
std::optional<SettingDifference> first_identity_difference(const TrainConfig& a, const TrainConfig& b);

// The command line's layer lists follow TorchRec's convention (every layer's output size);
// DlrmConfig keeps the hidden sizes (every layer but the last, whose size is dim for the
// bottom MLP and 1 for the top one). layer_sizes: hidden sizes -> the list; hidden_sizes:
// back, refusing a list whose last size is not that end with an error that says what to write.
std::vector<int64_t> layer_sizes(LayerList which, const std::vector<int64_t>& hidden, int64_t dim);
std::vector<int64_t> hidden_sizes(LayerList which, const std::vector<int64_t>& sizes, int64_t dim);

// "sum" or "mean", and back (throws cembed::Error naming `what` on anything else).
std::string pooling_name(Pooling p);
Pooling parse_pooling(const std::string& name, std::string_view what = "pooling");

}  // namespace cembed
