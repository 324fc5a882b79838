// Evaluation of a model on a dataset: AUC, log loss and click rate.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>

#include "cembed/metrics.h"
#include "cembed/trainer.h"
#include "train/train_run.h"

namespace cembed {

using train_run::Clock;
using train_run::seconds_since;

nlohmann::json EvalResult::to_json() const {
  return {{"rows", rows}, {"auc", auc}, {"logloss", logloss}, {"ctr", ctr}, {"seconds", seconds}};
}

EvalResult evaluate(Dlrm& model, const Dataset& data, int64_t batch_size) {
  check_range("eval batch size", static_cast<double>(batch_size), ranges::batch_size);
  const auto start = Clock::now();
  EvalResult r;
  r.rows = data.rows();
  std::vector<float> probs;
  probs.reserve(data.rows());
  Batch batch;
  std::vector<float> logits;
  std::vector<int64_t> rows;
  for (int64_t first = 0; first < data.rows(); first += batch_size) {
    const int64_t n = std::min(batch_size, data.rows() - first);
    rows.resize(n);
    std::iota(rows.begin(), rows.end(), first);
    gather_batch(data, rows, batch);
    model.forward(batch, logits);
    for (float z : logits) probs.push_back(static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(z)))));
  }
  r.auc = roc_auc(probs, data.labels());
  r.logloss = log_loss(probs, data.labels());
  r.ctr = std::accumulate(data.labels().begin(), data.labels().end(), 0.0) /
          std::max<double>(1.0, static_cast<double>(data.rows()));
  r.seconds = seconds_since(start);
  return r;
}

}  // namespace cembed
