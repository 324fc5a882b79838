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
  SingleProcess one;
  return evaluate(model, data, batch_size, one);
}

EvalResult evaluate(Dlrm& model, const Dataset& data, int64_t batch_size, Communicator& comm) {
  check_range("eval batch size", static_cast<double>(batch_size), ranges::batch_size);
  const auto start = Clock::now();
  EvalResult r;
  r.rows = data.rows();
  // Each rank scores a contiguous range of rows; the probabilities are gathered in row order.
  const int64_t begin = data.rows() * comm.rank() / comm.size();
  const int64_t end = data.rows() * (comm.rank() + 1) / comm.size();
  std::vector<float> probs;
  probs.reserve(end - begin);
  Batch batch;
  std::vector<float> logits;
  std::vector<int64_t> rows;
  for (int64_t first = begin; first < end; first += batch_size) {
    const int64_t n = std::min(batch_size, end - first);
    rows.resize(n);
    std::iota(rows.begin(), rows.end(), first);
    gather_batch(data, rows, batch);
    model.forward(batch, logits);
    for (float z : logits) probs.push_back(static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(z)))));
  }
  if (comm.size() > 1) probs = comm.allgather_values<float>(probs);
  r.auc = roc_auc(probs, data.labels());
  r.logloss = log_loss(probs, data.labels());
  r.ctr = std::accumulate(data.labels().begin(), data.labels().end(), 0.0) /
          std::max<double>(1.0, static_cast<double>(data.rows()));
  r.seconds = seconds_since(start);
  return r;
}

}  // namespace cembed
