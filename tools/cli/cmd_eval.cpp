#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cembed/ranking.h"
#include "commands.h"
#include "util/check.h"
#include "util/file_format.h"
#include "util/output_check.h"

namespace cembed::cli {

void add_eval_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("eval", "score a saved model (checkpoint) on a dataset");
  auto model = std::make_shared<std::string>();
  auto data = std::make_shared<std::string>();
  auto report = std::make_shared<std::string>();
  auto batch = std::make_shared<int64_t>(TrainConfig{}.eval_batch_size);  // train's evaluation batch size
  // --threads, --ranking-k and --ranking-negatives as train declares them.
  auto shared = std::make_shared<TrainOptions>();
  cmd->add_option("--model", *model, "checkpoint written by train --checkpoint")->required();
  cmd->add_option("--data", *data, "dataset (.cds)")->required();
  add_ranged(*cmd, "batch-size", *batch, ranges::batch_size, "batch size");
  shared->add_only(*cmd, {"threads"});
  cmd->add_option("--report", *report, "write the JSON result here");
  auto ranking = std::make_shared<bool>(false);
  auto history = std::make_shared<std::vector<std::string>>();
  cmd->add_flag("--ranking", *ranking, "also rank each held-out positive among unseen items: nDCG@k, HitRate@k, AUC");
  shared->add_only(*cmd, {"ranking-k", "ranking-negatives"});
  cmd->add_option("--history", *history,
                  "datasets whose interactions count as seen (default: the model's training data)")
      ->delimiter(',');
  cmd->callback([=] {
    check_file_writable(*report, "report");
    const TrainConfig& s = shared->config;
    set_num_threads(s.threads);
    LoadedCheckpoint ck = load_checkpoint(*model);
    const Dataset d = Dataset::open(*data);
    check_data_fits_model(ck, d);  // numbered by the vocabulary the model learned
    const EvalResult r = evaluate(*ck.model, d, *batch);
    fmt::print("{}: rows {}  AUC {:.5f}  log loss {:.5f}  ({} steps trained, {})\n", *data, r.rows, r.auc, r.logloss,
               ck.state.step, ck.plan.method);
    nlohmann::json rank_json;
    if (*ranking) {
      std::vector<std::string> paths = *history;
      if (paths.empty()) paths = {ck.config.train_path};
      std::vector<Dataset> held;
      for (const auto& p : paths) {
        held.push_back(Dataset::open(p));
        check_data_fits_model(ck, held.back());
      }
      if (history->empty() && ck.train_data.is_object()) {
        CEMBED_CHECK(held[0].identity() == ck.train_data,
                     "{}: the model's training data has changed since it was trained (checksum {}, the model's {}); "
                     "give its interactions with --history",
                     paths[0], held[0].identity()["checksum"].get<std::string>(),
                     ck.train_data.value("checksum", std::string("?")));
      }
      std::vector<const Dataset*> seen = {&d};
      for (const auto& h : held) seen.push_back(&h);
      const RankingResult rr =
          evaluate_ranking(*ck.model, d, seen, {s.ranking_k, s.ranking_negatives, RankingConfig{}.seed});
      print_ranking(rr.to_json());
      rank_json = rr.to_json();
    }
    if (!report->empty()) {
      nlohmann::json j = r.to_json();
      if (*ranking) j["ranking"] = rank_json;
      j["model"] = *model;
      j["data"] = *data;
      write_file_atomically(*report, j.dump(2) + "\n");
    }
  });
}

}  // namespace cembed::cli
