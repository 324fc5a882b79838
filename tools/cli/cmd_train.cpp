#include <fmt/format.h>

#include "cembed/errors.h"
#include "cembed/file_format.h"
#include "commands.h"

namespace cembed::cli {

void add_train_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "train DLRM on a dataset and report test AUC, log loss and speed");
  auto opts = std::make_shared<TrainOptions>();
  opts->add_to(*cmd);
  cmd->callback([opts] {
    const nlohmann::json report = train(opts->resolve());
    print_results_table({report});
    if (!opts->config.report_path.empty()) fmt::print("report: {}\n", opts->config.report_path);
  });
}

void add_eval_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("eval", "score a saved model (checkpoint) on a dataset");
  auto model = std::make_shared<std::string>();
  auto data = std::make_shared<std::string>();
  auto report = std::make_shared<std::string>();
  auto batch = std::make_shared<int64_t>(16384);
  auto threads = std::make_shared<int>(2);
  cmd->add_option("--model", *model, "checkpoint written by train --checkpoint")->required();
  cmd->add_option("--data", *data, "dataset (.cds)")->required();
  cmd->add_option("--batch-size", *batch, "batch size")->capture_default_str();
  cmd->add_option("--threads", *threads, "threads")->capture_default_str();
  cmd->add_option("--report", *report, "write the JSON result here");
  cmd->callback([=] {
    set_num_threads(*threads);
    LoadedCheckpoint ck = load_checkpoint(*model);
    const Dataset d = Dataset::open(*data);
    CEMBED_CHECK(d.schema().num_sparse() == ck.model->embeddings().num_features(),
                 "{}: {} categorical features, the model has {}", *data, d.schema().num_sparse(),
                 ck.model->embeddings().num_features());
    const EvalResult r = evaluate(*ck.model, d, *batch);
    fmt::print("{}: rows {}  AUC {:.5f}  log loss {:.5f}  ({} steps trained, {})\n", *data, r.rows, r.auc, r.logloss,
               ck.state.step, ck.plan.method);
    if (!report->empty()) {
      nlohmann::json j = r.to_json();
      j["model"] = *model;
      j["data"] = *data;
      write_file_atomically(*report, j.dump(2) + "\n");
    }
  });
}

}  // namespace cembed::cli
