#include <fmt/format.h>

#include "cembed/synthetic.h"
#include "commands.h"

namespace cembed::cli {

void add_synth_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("synth", "write a synthetic Criteo-shaped dataset with a known AUC ceiling");
  auto c = std::make_shared<SyntheticConfig>();
  auto out = std::make_shared<std::string>();
  auto threads = std::make_shared<int>(2);
  cmd->add_option("--out", *out, "output folder (train.cds, [valid.cds,] test.cds, synthetic.json)")->required();
  cmd->add_option("--train-rows", c->train_rows, "training rows")->capture_default_str();
  cmd->add_option("--valid-rows", c->valid_rows, "validation rows")->capture_default_str();
  cmd->add_option("--test-rows", c->test_rows, "test rows")->capture_default_str();
  cmd->add_option("--scale", c->scale, "factor on Criteo Kaggle's cardinalities")->capture_default_str();
  cmd->add_option("--cardinality", c->uniform_cardinality, "give every feature this many values instead");
  cmd->add_option("--zipf", c->zipf_exponent, "Zipf exponent of value frequencies")->capture_default_str();
  cmd->add_option("--value-noise", c->value_noise, "per-value deviation from its latent group (how much each value matters on its own)")
      ->capture_default_str();
  cmd->add_option("--logit-scale", c->logit_scale, "spread of the hidden logit (higher: higher AUC ceiling)")
      ->capture_default_str();
  cmd->add_option("--ctr", c->ctr, "mean click rate")->capture_default_str();
  cmd->add_option("--seed", c->seed, "random seed")->capture_default_str();
  cmd->add_option("--format", c->format, "cds (datasets) or criteo (raw Criteo TSV text, for cembed prepare)")
      ->capture_default_str();
  cmd->add_option("--threads", *threads, "threads")->capture_default_str();
  cmd->callback([c, out, threads] {
    const SyntheticSummary s = write_synthetic(*c, *out, *threads);
    const auto& st = s.stats;
    fmt::print("wrote {} in {:.1f} s\n", fmt::join(s.files, ", "), st["seconds"].get<double>());
    for (const char* split : {"train", "valid", "test"}) {
      if (!st.contains(split)) continue;
      fmt::print("  {:<5} {:>10} rows  ctr {:.4f}  AUC ceiling {:.4f}  log loss floor {:.4f}\n", split,
                 st[split]["rows"].get<int64_t>(), st[split]["ctr"].get<double>(), st[split]["bayes_auc"].get<double>(),
                 st[split]["bayes_logloss"].get<double>());
    }
  });
}

}  // namespace cembed::cli
