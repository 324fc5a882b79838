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
  constexpr double kRows = 1e12;
  add_ranged(*cmd, "train-rows", c->train_rows, Range{1, kRows}, "training rows");
  add_ranged(*cmd, "valid-rows", c->valid_rows, Range{0, kRows}, "validation rows");
  add_ranged(*cmd, "test-rows", c->test_rows, Range{0, kRows}, "test rows");
  add_ranged(*cmd, "scale", c->scale, Range{0, 1e3, true}, "factor on Criteo Kaggle's cardinalities");
  add_ranged(*cmd, "cardinality", c->uniform_cardinality, Range{1, 4294967295.0, false, 0, "Criteo's, scaled"},
             "give every feature this many values instead");
  add_ranged(*cmd, "zipf", c->zipf_exponent, Range{0, 10}, "Zipf exponent of value frequencies");
  add_ranged(*cmd, "value-noise", c->value_noise, Range{0, 100},
             "spread of each value's own part of its latent vector (signal in individual values)");
  add_ranged(*cmd, "group-scale", c->group_scale, Range{0, 100},
             "spread of the latent groups' vectors (signal in groups of similar values)");
  add_ranged(*cmd, "latent-groups", c->latent_groups, Range{1, 1 << 20}, "latent groups per feature");
  add_ranged(*cmd, "cooccurrence", c->cooccurrence, Range{0, 1},
             "probability a value is drawn from the row's cluster (values of a cluster co-occur across features)");
  add_ranged(*cmd, "duplicate", c->duplicate, Range{0, 1},
             "probability a child feature takes the value its parent's value determines (near-duplicate features)");
  add_ranged(*cmd, "cooccur-signal", c->cooccur_signal, Range{0, 100},
             "weight of a shared per-cluster vector in each value's latent vector: values that co-occur carry "
             "similar signal (0: none)");
  add_ranged(*cmd, "logit-scale", c->logit_scale, Range{0, 100},
             "spread of the hidden logit (higher: higher AUC ceiling)");
  add_ranged(*cmd, "ctr", c->ctr, Range{0, 1, true, std::nullopt, "", true}, "mean click rate");
  cmd->add_option("--id-order", c->id_order,
                  "how each feature's values are numbered: random, or frequency (most frequent first, as prepare "
                  "numbers a vocabulary)")
      ->check(CLI::IsMember({"random", "frequency"}))
      ->capture_default_str();
  cmd->add_option("--group-by", c->group_by,
                  "how values fall into latent groups: random (a hash of the value), or frequency (bands of values "
                  "of similar frequency: popularity carries signal)")
      ->check(CLI::IsMember({"random", "frequency"}))
      ->capture_default_str();
  cmd->add_option("--seed", c->seed, "random seed (0 to 2^64-1)")->capture_default_str();
  cmd->add_option("--format", c->format, "cds (datasets) or criteo (raw Criteo TSV text, for cembed prepare)")
      ->capture_default_str();
  add_ranged(*cmd, "threads", *threads, ranges::threads(), "threads");
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
