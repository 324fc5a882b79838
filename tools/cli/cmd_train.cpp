#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"

namespace cembed::cli {

void add_train_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "train DLRM on a dataset and report test AUC, log loss and speed");
  auto opts = std::make_shared<TrainOptions>();
  opts->add_to(*cmd);
  cmd->callback([opts] {
    const nlohmann::json report = train(opts->resolve(), job());
    if (job().rank() != 0) return;  // rank 0 prints for the job
    print_results_table({report});
    if (!report.contains("test")) fmt::print("no test set: give --test to measure AUC and log loss\n");
    if (report.contains("ranking")) print_ranking(report["ranking"]);
    if (!opts->config.report_path.empty()) fmt::print("report: {}\n", opts->config.report_path);
  });
}

}  // namespace cembed::cli
