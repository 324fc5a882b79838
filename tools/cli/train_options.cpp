#include <algorithm>

#include "cembed/errors.h"
#include "commands.h"

namespace cembed::cli {

void TrainOptions::add_to(CLI::App& app) {
  auto& c = config;
  app.add_option("--train", c.train_path, "training dataset (.cds)")->required();
  app.add_option("--valid", c.valid_path, "validation dataset (.cds)");
  app.add_option("--test", c.test_path, "test dataset (.cds)");
  app.add_option("--embedding", c.embedding, "embedding method spec, e.g. full, hash, hash:rows=65536")
      ->capture_default_str();
  app.add_option("--embedding-budget", budget_bytes, "embedding parameter budget in bytes, e.g. 64MiB");
  app.add_option("--compression", compression, "embedding budget as a ratio: full-table bytes / budget");
  app.add_option("--small-threshold", c.small_threshold, "features with fewer values keep full tables")
      ->capture_default_str();
  app.add_option("--dim", c.model.dim, "embedding dimension")->capture_default_str();
  app.add_option("--bottom", c.model.bottom_hidden, "bottom MLP hidden sizes (the last layer outputs --dim)")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--top", c.model.top_hidden, "top MLP hidden sizes (a last layer of 1 is added)")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--pooling", pooling, "bag pooling: sum or mean")->capture_default_str();
  app.add_option("--optimizer", c.optimizer, "sgd, adagrad or rowwise_adagrad")->capture_default_str();
  app.add_option("--table-optimizer", c.table_optimizer, "optimizer of the embedding tables (default: --optimizer)");
  app.add_option("--lr", c.lr.base, "learning rate")->capture_default_str();
  app.add_option("--warmup-steps", c.lr.warmup_steps, "linear warm-up steps")->capture_default_str();
  app.add_option("--decay-start", c.lr.decay_start, "step where polynomial decay starts (-1: none)")->capture_default_str();
  app.add_option("--decay-steps", c.lr.decay_steps, "steps of the decay")->capture_default_str();
  app.add_option("--batch-size", c.batch_size, "training batch size")->capture_default_str();
  app.add_option("--epochs", c.epochs, "passes over the training data")->capture_default_str();
  app.add_option("--max-steps", c.max_steps, "stop after this many steps (-1: all epochs)")->capture_default_str();
  app.add_option("--threads", c.threads, "threads")->capture_default_str();
  app.add_option("--seed", c.seed, "random seed")->capture_default_str();
  app.add_flag("--no-shuffle", no_shuffle, "visit training rows in file order");
  app.add_option("--eval-every", c.eval_every, "evaluate every N steps (0: at the end only)")->capture_default_str();
  app.add_option("--eval-batch-size", c.eval_batch_size, "evaluation batch size")->capture_default_str();
  app.add_option("--checkpoint", c.checkpoint_path, "checkpoint file, written atomically");
  app.add_option("--checkpoint-every", c.checkpoint_every, "write the checkpoint every N steps")->capture_default_str();
  app.add_option("--resume", c.resume_path, "resume from this checkpoint");
  app.add_option("--report", c.report_path, "write the JSON report here");
  app.add_option("--export-initial", c.export_initial_dir, "write the initial parameters as .npy files to this folder");
  app.add_flag("--ranking", c.ranking, "after training, rank each held-out test positive among unseen items (nDCG@k, HitRate@k)");
  app.add_option("--ranking-k", c.ranking_k, "cut-off k of nDCG@k and HitRate@k")->capture_default_str();
  app.add_option("--ranking-negatives", c.ranking_negatives, "sampled unseen items per query (0: all unseen items)")
      ->capture_default_str();
  app.add_flag("--quiet", quiet, "no plan or progress on stderr");
  app.add_option("--config", "read options from a TOML file (keys are the long option names; the command line wins)");
}

TrainConfig TrainOptions::resolve() const {
  TrainConfig c = config;
  CEMBED_CHECK(budget_bytes.empty() || compression == 0, "give --embedding-budget or --compression, not both");
  if (!budget_bytes.empty()) c.budget = Budget::parse_bytes(budget_bytes);
  if (compression != 0) {
    CEMBED_CHECK(compression > 0, "--compression must be positive, got {}", compression);
    c.budget = Budget::ratio(compression);
  }
  CEMBED_CHECK(pooling == "sum" || pooling == "mean", "--pooling must be sum or mean, got '{}'", pooling);
  c.model.pooling = pooling == "mean" ? Pooling::Mean : Pooling::Sum;
  c.shuffle = !no_shuffle;
  c.progress = !quiet;
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
    const double auc = r.contains("test") ? r["test"].value("auc", 0.0) : 0.0;
    const double ll = r.contains("test") ? r["test"].value("logloss", 0.0) : 0.0;
    fmt::print("{:<{}} {:>14} {:>8.2f} {:>9.5f} {:>9.5f} {:>12.0f}\n", labels[i], width,
               e.at("parameter_bytes").get<int64_t>(), e.at("compression").get<double>(), auc, ll,
               r.at("train").at("samples_per_second").get<double>());
  }
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
