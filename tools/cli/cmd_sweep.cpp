#include <fmt/format.h>

#include "cembed/sweep.h"
#include "commands.h"
#include "util/check.h"

namespace cembed::cli {
namespace {

std::vector<double> parse_ratios(const std::vector<std::string>& raw) {
  std::vector<double> out;
  for (const auto& s : raw) out.push_back(parse_ratio(s, "ratio"));
  return out;
}

}  // namespace

void add_sweep_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "sweep", "train every method at every memory ratio; write results (JSON, CSV, Markdown) and plots");
  auto opts = std::make_shared<TrainOptions>();
  auto methods = std::make_shared<std::vector<std::string>>(
      std::vector<std::string>{"full", "hash", "qr", "cp:kind=crt,parts=3", "path", "memcom", "robe", "lma"});
  auto ratios = std::make_shared<std::vector<std::string>>(std::vector<std::string>{"2", "4", "16", "64"});
  auto seeds = std::make_shared<std::vector<uint64_t>>(std::vector<uint64_t>{1});
  auto out = std::make_shared<std::string>("out/sweep");
  auto no_plot = std::make_shared<bool>(false);
  auto plot_script = std::make_shared<std::string>();
  auto ranks_per_cell = std::make_shared<int>(SweepConfig{}.ranks_per_cell);
  // Each run sets the method, the budget, the seed (--seeds) and its own report; one
  // checkpoint file for every run would hold only the last, and a resume fits one run only.
  opts->add_to(*cmd,
               {"embedding", "budget", "seed", "report", "checkpoint", "checkpoint-every", "resume", "export-initial"});
  cmd->add_option("--methods", *methods, "method specs, comma- or space-separated (full runs once, at 1x)")
      ->capture_default_str();
  cmd->add_option("--ratios", *ratios, "memory ratios: full-table bytes / embedding budget")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--seeds", *seeds, "one run per seed (mean and spread in the tables)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--out", *out, "output folder (an interrupted sweep resumes from its results.json)")
      ->capture_default_str();
  add_ranged(*cmd, "ranks-per-cell", *ranks_per_cell, ranges::ranks_per_cell,
             "under mpirun/srun: train each cell data-parallel on a group of this many ranks (the job's rank count a "
             "multiple of it; docs/distributed.md)");
  cmd->add_flag("--no-plot", *no_plot, "skip the plots");
  cmd->add_option("--plot-script", *plot_script,
                  "the plot script (default: plot_sweep.py beside this cembed, or in ../share/cembed)");
  cmd->callback([=] {
    SweepConfig c;
    c.base = opts->resolve();
    c.methods = split_spec_list(*methods);
    c.ratios = parse_ratios(*ratios);
    c.seeds = *seeds;
    c.out_dir = *out;
    c.progress = c.base.progress;
    c.ranks_per_cell = *ranks_per_cell;
    const auto results = run_sweep(c, job());
    if (job().rank() != 0) return;  // rank 0 prints and plots for the job
    fmt::print("{}", sweep_markdown(results));
    fmt::print("\nresults: {0}/results.json, {0}/results.csv, {0}/results.md\n", c.out_dir);
    if (!*no_plot) draw_sweep_plots(c.out_dir, *plot_script);  // no plots: a warning, the results stay
  });
}

}  // namespace cembed::cli
