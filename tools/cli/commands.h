// The cembed command-line tool: argument parsing only; every command calls the library.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cembed/communicator.h"
#include "cembed/ranges.h"
#include "cembed/trainer.h"

namespace cembed::cli {

// The processes of this run: the ranks of mpirun / srun, or this one alone (main.cpp).
Communicator& job();

// A CLI11 check that a number given lies in `range` (its message: "must be <range>, got v").
CLI::Validator range_check(const Range& range);

// Adds "--name" bound to `field`: its help followed by its range and default, the range
// checked as the command line (or --config file) is parsed.
template <class T>
CLI::Option* add_ranged(CLI::App& app, const std::string& name, T& field, const Range& range, const std::string& help) {
  return app.add_option("--" + name, field, help + " (" + range.describe() + ")")
      ->check(range_check(range))
      ->capture_default_str();
}

// The embedding budget's two options, declared once for every command that takes a budget
// (train, plan): --embedding-budget BYTES or --compression RATIO, and the one rule that reads them.
struct BudgetOptions {
  std::string bytes;  // --embedding-budget
  double ratio = 0;   // --compression

  void add_to(CLI::App& app);
  // None when neither is given; refuses both at once.
  Budget resolve() const;
};
// A memory ratio written elsewhere (compare's SPEC@RATIO, sweep's --ratios): a number in
// --compression's range (ranges::compression); errors name `what` and `text`.
double parse_ratio(const std::string& text, const std::string& what);

// TrainConfig's settings as options, from the one table (visit_train_settings): the long
// option names are the table's, and so are help, ranges and defaults.
struct TrainOptions {
  TrainConfig config;
  BudgetOptions budget;
  std::vector<int64_t> bottom, top;  // as given: every layer (TorchRec's convention); empty: default
  std::string pooling = "sum";

  // Every setting with an option except those named (option names; "budget" for both budget
  // options), then --config.
  void add_to(CLI::App& app, const std::vector<std::string>& except = {});
  // Only the settings named.
  void add_only(CLI::App& app, const std::vector<std::string>& only);
  // The config with the budget, layer lists and pooling given applied (not validated).
  TrainConfig apply() const;
  // apply(), validated.
  TrainConfig resolve() const;

 private:
  void add_selected(CLI::App& app, const std::vector<std::string>& names, bool only);
};

void add_synth_command(CLI::App& app);
void add_prepare_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_plan_command(CLI::App& app);
void add_methods_command(CLI::App& app);
void add_compare_command(CLI::App& app);
void add_signatures_command(CLI::App& app);
void add_sweep_command(CLI::App& app);
void add_export_command(CLI::App& app);
void add_score_command(CLI::App& app);
void add_serve_command(CLI::App& app);

// Computes and writes <dataset>.<kind>.sig for each kind ("rows", "context"); reports them
// as beside `shown_as` when given (the dataset's final path while it is still staged).
void write_signature_files(const std::string& dataset_path, const std::vector<std::string>& kinds, int num_hashes,
                           double sample, uint64_t seed, const std::string& shown_as = "");

// Refuses an unknown command or option by its name, suggesting the nearest known one.
void check_command_line(CLI::App& app, const std::vector<std::string>& args);

// Replaces "--config FILE" after a subcommand by the options the TOML file sets.
std::vector<std::string> expand_config_file(CLI::App& app, std::vector<std::string> args);

// The sweep's plots: runs python3 plot_sweep.py OUT_DIR (no shell), the script given or
// found beside the executable (plot_script_candidates(): the build tree's copy, then an
// installed ../share/cembed/); a missing script or python, or a failing script, is a
// warning on stderr. Returns whether the plots were drawn. sweep_plots.cpp.
bool draw_sweep_plots(const std::string& out_dir, const std::string& script = "");
std::vector<std::string> plot_script_candidates();

// One result line per report: method, embedding bytes, compression, test AUC, log loss, samples/s.
void print_results_table(const std::vector<nlohmann::json>& reports);

// "ranking: Q queries, N candidates each: nDCG@k ..  HitRate@k ..  AUC .." of a RankingResult's JSON.
void print_ranking(const nlohmann::json& ranking);

// Splits lists of specs given as "full,hash@16,cp:kind=crt,parts=3@16" (or as separate
// arguments): a comma-separated fragment with '=' but no ':' continues the spec before it.
std::vector<std::string> split_spec_list(const std::vector<std::string>& raw);

}  // namespace cembed::cli
