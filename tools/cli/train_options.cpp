#include <algorithm>
#include <cstdlib>

#include "cembed/errors.h"
#include "commands.h"

namespace cembed::cli {

CLI::Validator range_check(const Range& range) {
  return CLI::Validator(
      [range](std::string& text) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (end == text.c_str() || *end != '\0') return {};  // not a number: the conversion says so
        return range.contains(v) ? std::string() : range.complaint(v);
      },
      "");
}

void TrainOptions::add_to(CLI::App& app) {
  auto& c = config;
  app.add_option("--train", c.train_path, "training dataset (.cds)")->required();
  app.add_option("--valid", c.valid_path, "validation dataset (.cds)");
  app.add_option("--test", c.test_path, "test dataset (.cds)");
  app.add_option("--embedding", c.embedding, "embedding method spec, e.g. full, hash, hash:rows=65536 (a spec "
                 "with its size takes no budget)")
      ->capture_default_str();
  app.add_option("--embedding-budget", budget_bytes, "embedding parameter budget in bytes, e.g. 64MiB");
  add_ranged(app, "compression", compression, ranges::compression,
             "embedding budget as a ratio: full-table bytes / budget");
  app.add_option("--bottom", c.model.bottom_hidden, "bottom MLP hidden sizes (the last layer outputs --dim), each " +
                                                        kHiddenLayerRange.describe())
      ->delimiter(',')
      ->check(range_check(kHiddenLayerRange))
      ->capture_default_str();
  app.add_option("--top", c.model.top_hidden, "top MLP hidden sizes (a last layer of 1 is added), each " +
                                                  kHiddenLayerRange.describe())
      ->delimiter(',')
      ->check(range_check(kHiddenLayerRange))
      ->capture_default_str();
  app.add_option("--pooling", pooling, "bag pooling: sum or mean")->capture_default_str();
  app.add_option("--optimizer", c.optimizer, "sgd, adagrad or rowwise_adagrad")->capture_default_str();
  app.add_option("--table-optimizer", c.table_optimizer, "optimizer of the embedding tables (default: --optimizer)");
  // Every numeric setting of TrainConfig, with its range (trainer.h declares them).
  visit_numeric_settings(c, [&](const char* name, auto& field, const Range& range, const char* help) {
    add_ranged(app, name, field, range, help);
  });
  app.add_option("--seed", c.seed, "random seed (0 to 2^64-1)")->capture_default_str();
  app.add_flag("--no-shuffle", no_shuffle, "visit training rows in file order");
  app.add_option("--checkpoint", c.checkpoint_path, "checkpoint file, written atomically (its folder is checked "
                 "writable before training)");
  app.add_option("--resume", c.resume_path, "resume from this checkpoint (the same training data, by content)");
  app.add_option("--report", c.report_path, "write the JSON report here (its folder is checked writable before "
                 "training)");
  app.add_option("--export-initial", c.export_initial_dir, "write the initial parameters as .npy files to this folder");
  app.add_flag("--ranking", c.ranking, "after training, rank each held-out test positive among unseen items (nDCG@k, HitRate@k)");
  app.add_flag("--quiet", quiet, "no plan or progress on stderr");
  app.add_option("--config", "read options from a TOML file (keys are the long option names; the command line wins)");
}

TrainConfig TrainOptions::resolve() const {
  TrainConfig c = config;
  CEMBED_CHECK(budget_bytes.empty() || compression == 0, "give --embedding-budget or --compression, not both");
  if (!budget_bytes.empty()) c.budget = Budget::parse_bytes(budget_bytes);
  if (compression != 0) c.budget = Budget::ratio(compression);
  CEMBED_CHECK(pooling == "sum" || pooling == "mean", "--pooling must be sum or mean, got '{}'", pooling);
  c.model.pooling = pooling == "mean" ? Pooling::Mean : Pooling::Sum;
  c.shuffle = !no_shuffle;
  c.progress = !quiet;
  c.validate();
  return c;
}

void print_results_table(const std::vector<nlohmann::json>& reports) {
  std::vector<std::string> labels;
  size_t width = 22;
  for (const auto& r : reports) {
    std::string label = r.at("embedding").at("method").get<std::string>();
    const auto& cfg = r.at("config");
    if (cfg.at("budget_kind") == "ratio") label += fmt::format(" @{:g}x", cfg.at("budget_value").get<double>());
    if (cfg.at("budget_kind") == "bytes") label += fmt::format(" @{:.0f}B", cfg.at("budget_value").get<double>());
    width = std::max(width, label.size());
    labels.push_back(std::move(label));
  }
  fmt::print("{:<{}} {:>14} {:>8} {:>9} {:>9} {:>12}\n", "method", width, "emb bytes", "x less", "test AUC", "logloss",
             "samples/s");
  for (size_t i = 0; i < reports.size(); ++i) {
    const auto& r = reports[i];
    const auto& e = r.at("embedding");
    // No test set: no numbers, rather than zeros that read as results.
    const std::string quality = r.contains("test") ? fmt::format("{:>9.5f} {:>9.5f}", r["test"].at("auc").get<double>(),
                                                                 r["test"].at("logloss").get<double>())
                                                   : fmt::format("{:>19}", "no test set");
    fmt::print("{:<{}} {:>14} {:>8.2f} {} {:>12.0f}\n", labels[i], width, e.at("parameter_bytes").get<int64_t>(),
               e.at("compression").get<double>(), quality, r.at("train").at("samples_per_second").get<double>());
  }
}

void print_ranking(const nlohmann::json& r) {
  const auto negatives = r.at("negatives").get<int64_t>();
  const int k = r.at("k").get<int>();
  fmt::print("ranking: {} queries, {} candidates each: nDCG@{} {:.5f}  HitRate@{} {:.5f}  AUC {:.5f}\n",
             r.at("queries").get<int64_t>(), negatives > 0 ? std::to_string(negatives) + " sampled" : "all unseen", k,
             r.at("ndcg_at_k").get<double>(), k, r.at("hit_rate_at_k").get<double>(), r.at("auc").get<double>());
}

std::vector<std::string> split_spec_list(const std::vector<std::string>& raw) {
  std::vector<std::string> out;
  for (const std::string& arg : raw) {
    size_t pos = 0;
    bool first = true;
    while (pos <= arg.size()) {
      const size_t comma = arg.find(',', pos);
      const std::string frag = arg.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      const bool continues = frag.find('=') != std::string::npos && frag.find(':') == std::string::npos;
      if (continues && !first && !out.empty()) {
        out.back() += "," + frag;
      } else {
        CEMBED_CHECK(!frag.empty(), "empty entry in the list '{}'", arg);
        CEMBED_CHECK(!continues, "'{}' in '{}' is a key=value with no method before it", frag, arg);
        out.push_back(frag);
      }
      first = false;
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
  }
  return out;
}

}  // namespace cembed::cli
