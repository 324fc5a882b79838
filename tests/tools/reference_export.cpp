// Test bridge to the Python references (numpy/sklearn, PyTorch).
//   reference_export metrics < "score label" lines   -> JSON {"auc": .., "logloss": ..}
//   reference_export ranking [--k 10] < "query score held_out(0/1)" lines -> nDCG@k, HitRate@k, AUC
//   reference_export trace --out DIR --optimizer sgd|adagrad|rowwise_adagrad --pooling sum|mean
//                          [--steps 50 --lr 0.1 --seed 1]
//     trains a small DLRM on random multi-hot batches and writes .npy files: the initial
//     parameters, every batch, and the loss of every step (see tools/reference/torch_dlrm.py).
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cembed/dlrm.h"
#include "cembed/metrics.h"
#include "cembed/ranking.h"
#include "cembed/trainer.h"
#include "util/atomic_file.h"
#include "util/check.h"
#include "util/npy.h"
#include "util/random.h"

namespace {

using namespace cembed;

std::string arg(const std::vector<std::string>& args, const std::string& name, const std::string& fallback) {
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == name) return args[i + 1];
  }
  return fallback;
}

int metrics() {
  std::vector<float> scores, labels;
  float s, l;
  while (std::cin >> s >> l) {
    scores.push_back(s);
    labels.push_back(l);
  }
  const nlohmann::json j = {{"auc", roc_auc(scores, labels)}, {"logloss", log_loss(scores, labels)}};
  std::cout << j.dump() << "\n";
  return 0;
}

// "query score is_held_out" lines -> JSON of ranking_metrics (k from argv).
int ranking(int k) {
  std::map<int64_t, double> positive;
  std::map<int64_t, std::vector<double>> negative;
  int64_t q;
  double s;
  int held;
  while (std::cin >> q >> s >> held) {
    if (held) {
      positive[q] = s;
    } else {
      negative[q].push_back(s);
    }
  }
  std::vector<double> pos;
  std::vector<std::vector<double>> neg;
  for (const auto& [query, score] : positive) {
    pos.push_back(score);
    neg.push_back(negative[query]);
  }
  std::cout << ranking_metrics(pos, neg, k).to_json().dump() << "\n";
  return 0;
}

int trace(const std::vector<std::string>& args) {
  const std::string out = arg(args, "--out", "");
  CEMBED_CHECK(!out.empty(), "trace needs --out DIR");
  const std::string optimizer = arg(args, "--optimizer", "sgd");
  const std::string pooling = arg(args, "--pooling", "sum");
  const int steps = std::stoi(arg(args, "--steps", "50"));
  const float lr = std::stof(arg(args, "--lr", "0.1"));
  const uint64_t seed = std::stoull(arg(args, "--seed", "1"));
  set_num_threads(1);

  const std::vector<int64_t> cards = {40, 7, 300, 25, 1000};
  std::vector<FeatureInfo> features;
  for (size_t f = 0; f < cards.size(); ++f) features.push_back({"C" + std::to_string(f), cards[f]});
  DlrmConfig cfg;
  cfg.num_dense = 5;
  cfg.dim = 8;
  cfg.bottom_hidden = {32, 16};
  cfg.top_hidden = {32, 16};
  cfg.pooling = pooling == "mean" ? Pooling::Mean : Pooling::Sum;
  Dlrm model(cfg, plan_memory("full", features, cfg.dim, Budget::none()));
  model.init(seed);
  OptimizerConfig dense{parse_optimizer_kind(optimizer)};
  if (dense.kind == OptimizerKind::RowwiseAdagrad) dense.kind = OptimizerKind::Adagrad;
  model.set_optimizers(dense, {parse_optimizer_kind(optimizer)});

  export_dlrm_parameters(model, out);

  Rng rng(derive_seed(seed, 77));
  std::vector<double> losses;
  for (int s = 0; s < steps; ++s) {
    Batch b;
    b.size = 32;
    for (int64_t i = 0; i < b.size * cfg.num_dense; ++i) b.dense.push_back(static_cast<float>(rng.uniform() * 3));
    for (int64_t i = 0; i < b.size; ++i) b.labels.push_back(rng.uniform() < 0.3 ? 1.0f : 0.0f);
    for (size_t f = 0; f < cards.size(); ++f) {
      std::vector<Id> ids;
      std::vector<uint32_t> offsets{0};
      for (int64_t i = 0; i < b.size; ++i) {
        // Features 0 and 1 one-hot; the others bags of 0..3 values (repeats possible).
        const int len = f < 2 ? 1 : static_cast<int>(rng.below(4));
        for (int k = 0; k < len; ++k) ids.push_back(static_cast<Id>(rng.below(static_cast<uint64_t>(cards[f]))));
        offsets.push_back(static_cast<uint32_t>(ids.size()));
      }
      const std::string p = out + "/batch" + std::to_string(s) + "_f" + std::to_string(f);
      write_npy(p + "_ids.npy", std::vector<int64_t>(ids.begin(), ids.end()), {static_cast<int64_t>(ids.size())});
      write_npy(p + "_offsets.npy", std::vector<int64_t>(offsets.begin(), offsets.end()),
                {static_cast<int64_t>(offsets.size())});
      b.ids.push_back(std::move(ids));
      b.offsets.push_back(std::move(offsets));
    }
    const std::string p = out + "/batch" + std::to_string(s);
    write_npy(p + "_dense.npy", b.dense, {b.size, cfg.num_dense});
    write_npy(p + "_labels.npy", b.labels, {b.size});
    losses.push_back(model.train_step(b, lr));
  }
  write_npy(out + "/losses.npy", losses, {static_cast<int64_t>(losses.size())});
  const nlohmann::json meta = {{"cardinalities", cards}, {"model", cfg.to_json()},
                               {"optimizer", optimizer}, {"lr", lr},
                               {"steps", steps},         {"eps", 1e-10}};
  cembed::write_file_atomically(out + "/meta.json", meta.dump(2));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (!args.empty() && args[0] == "metrics") return metrics();
    if (!args.empty() && args[0] == "ranking") return ranking(std::stoi(arg(args, "--k", "10")));
    if (!args.empty() && args[0] == "trace") return trace(args);
    std::cerr << "usage: reference_export metrics | trace --out DIR [--optimizer X --pooling P --steps N --lr L]\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "reference_export: " << e.what() << "\n";
    return 1;
  }
}
