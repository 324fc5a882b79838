// Sweep: every method at every memory ratio on one dataset, side by side.
//
// For each seed, each method spec and each ratio (full-table bytes / embedding budget),
// trains the model as `base` configures it and records memory, accuracy and speed.
// "full" runs once per seed, at ratio 1. A method that cannot meet a ratio (MEmCom past
// dim, a budget below a method's floor) is recorded as infeasible with the planner's
// message. Results go to <out_dir>/results.json after every run (atomically), so an
// interrupted sweep resumes where it stopped; results.csv and results.md are written
// from them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "cembed/trainer.h"

namespace cembed {

namespace ranges {
inline const Range ranks_per_cell{1, 1 << 20};  // SweepConfig::ranks_per_cell
}  // namespace ranges

struct SweepConfig {
  TrainConfig base;
  std::vector<std::string> methods;
  std::vector<double> ratios;
  std::vector<uint64_t> seeds = {1};
  std::string out_dir;
  bool progress = true;  // one line per run on stderr
  // Under a job of ranks: each run (cell) is trained data-parallel by a group of this many
  // ranks (docs/distributed.md); the job's rank count must be a multiple of it.
  int ranks_per_cell = 1;
};

// Runs what results.json does not hold yet; returns the results document
// {"config": ..., "runs": [...]} (each run: method, ratio, seed, status, bytes, metrics).
nlohmann::json run_sweep(const SweepConfig& config);
// The same sweep spread over the ranks of a job: the ranks are cut into groups of
// `ranks_per_cell` (consecutive ranks), each group trains one run at a time (in one process,
// or data-parallel over the group: the model of one process with --shards ranks_per_cell),
// in rounds of one run per group; rank 0 alone prints and writes the results, in the planned
// order. Every rank returns the results.
nlohmann::json run_sweep(const SweepConfig& config, Communicator& comm);

// Tables of test AUC and log loss (mean over seeds, +- standard deviation when several):
// one row per method, one column per ratio.
std::string sweep_markdown(const nlohmann::json& results);
// One line per run.
std::string sweep_csv(const nlohmann::json& results);

}  // namespace cembed
