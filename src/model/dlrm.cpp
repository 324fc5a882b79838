#include "cembed/dlrm.h"

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "model/phase_clock.h"
#include "util/binary_io.h"
#include "util/check.h"
#include "util/random.h"

namespace cembed {
namespace {

std::vector<int64_t> with_ends(int64_t first, std::vector<int64_t> mid, int64_t last) {
  mid.insert(mid.begin(), first);
  mid.push_back(last);
  return mid;
}

}  // namespace

nlohmann::json DlrmConfig::to_json() const {
  return {{"num_dense", num_dense},
          {"dim", dim},
          {"bottom_hidden", bottom_hidden},
          {"top_hidden", top_hidden},
          {"pooling", pooling == Pooling::Sum ? "sum" : "mean"}};
}

DlrmConfig DlrmConfig::from_json(const nlohmann::json& j) {
  DlrmConfig c;
  c.num_dense = j.at("num_dense");
  c.dim = j.at("dim");
  c.bottom_hidden = j.at("bottom_hidden").get<std::vector<int64_t>>();
  c.top_hidden = j.at("top_hidden").get<std::vector<int64_t>>();
  c.pooling = j.at("pooling") == "mean" ? Pooling::Mean : Pooling::Sum;
  return c;
}

Dlrm::Dlrm(DlrmConfig config, MemoryPlan plan)
    : config_(std::move(config)),
      embeddings_(std::move(plan)),
      bottom_(with_ends(config_.num_dense, config_.bottom_hidden, config_.dim), true),
      top_(with_ends(config_.dim + (embeddings_.num_features() + 1) * embeddings_.num_features() / 2,
                     config_.top_hidden, 1),
           false),
      interaction_(embeddings_.num_features() + 1, config_.dim) {
  CEMBED_CHECK(embeddings_.dim() == config_.dim, "DLRM: embedding dim {} differs from the model's {}",
               embeddings_.dim(), config_.dim);
  CEMBED_CHECK(config_.num_dense > 0, "DLRM needs at least one dense feature");
}

void Dlrm::init(uint64_t seed) {
  bottom_.init(derive_seed(seed, 1));
  top_.init(derive_seed(seed, 2));
  embeddings_.init(derive_seed(seed, 3));
}

void Dlrm::set_optimizers(const OptimizerConfig& dense, const OptimizerConfig& sparse) {
  auto params = bottom_.parameters();
  auto grads = bottom_.gradients();
  for (auto p : top_.parameters()) params.push_back(p);
  for (auto g : top_.gradients()) grads.push_back(g);
  dense_opt_ = std::make_unique<DenseOptimizer>(params, grads, dense);
  embeddings_.set_optimizer(sparse);
}

std::vector<MatrixView> Dlrm::embedding_views(int64_t batch) {
  const int64_t v = embeddings_.num_features() + 1, d = config_.dim;
  std::vector<MatrixView> views;
  for (int f = 0; f < embeddings_.num_features(); ++f) views.push_back({t_.data() + (f + 1) * d, batch, d, v * d});
  return views;
}

void Dlrm::forward(const Batch& batch, std::vector<float>& logits, DensePrecision precision) {
  const int64_t b = batch.size, v = embeddings_.num_features() + 1, d = config_.dim;
  CEMBED_CHECK(static_cast<int64_t>(batch.dense.size()) == b * config_.num_dense,
               "DLRM: batch has {} dense values, expected {} x {}", batch.dense.size(), b, config_.num_dense);
  const float* x = bottom_.forward(batch.dense.data(), b, precision);
  t_.resize(b * v * d);
  for (int64_t i = 0; i < b; ++i) std::memcpy(t_.data() + i * v * d, x + i * d, d * sizeof(float));
  const auto bags = batch.bags();
  const auto views = embedding_views(b);
  embeddings_.forward(bags, config_.pooling, views);
  r_.resize(b * interaction_.output_dim());
  interaction_.forward(t_.data(), b, r_.data());
  const float* z = top_.forward(r_.data(), b, precision);
  logits.assign(z, z + b);
}

double bce_with_logits(std::span<const float> z, std::span<const float> y, float* dz, double denominator) {
  const auto n = static_cast<int64_t>(z.size());
  const double b = denominator > 0 ? denominator : static_cast<double>(n);
  double loss = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double zi = z[i], yi = y[i];
    loss += std::max(zi, 0.0) - zi * yi + std::log1p(std::exp(-std::abs(zi)));
    if (dz != nullptr) dz[i] = static_cast<float>((1.0 / (1.0 + std::exp(-zi)) - yi) / b);
  }
  return loss / b;
}

double Dlrm::forward_backward(const Batch& batch, double denominator) {
  const int64_t b = batch.size, v = embeddings_.num_features() + 1, d = config_.dim;
  std::vector<float> logits;
  forward(batch, logits, training_precision_);
  dz_.resize(b);
  const double loss = bce_with_logits(logits, batch.labels, dz_.data(), denominator);
  CEMBED_CHECK(std::isfinite(loss), "training diverged: the loss is {} (lower the learning rate)", loss);
  dr_.resize(b * interaction_.output_dim());
  top_.backward(dz_.data(), dr_.data());
  dt_.resize(b * v * d);
  interaction_.backward(t_.data(), dr_.data(), b, dt_.data());
  dx_.resize(b * d);
  for (int64_t i = 0; i < b; ++i) std::memcpy(dx_.data() + i * d, dt_.data() + i * v * d, d * sizeof(float));
  bottom_.backward(dx_.data(), nullptr);
  return loss;
}

double Dlrm::train_step(const Batch& batch, float lr) {
  CEMBED_CHECK(dense_opt_ != nullptr, "DLRM: set_optimizers() before train_step()");
  PhaseClock clock;
  const double loss = forward_backward(batch, 0);
  clock.lap(phases_.forward_backward);
  const int64_t b = batch.size, v = embeddings_.num_features() + 1, d = config_.dim;
  std::vector<ConstMatrixView> grads;
  for (int f = 0; f < embeddings_.num_features(); ++f) grads.emplace_back(dt_.data() + (f + 1) * d, b, d, v * d);
  embeddings_.backward(batch.bags(), config_.pooling, grads, lr);
  clock.lap(phases_.table_update);
  dense_opt_->step(lr);
  clock.lap(phases_.dense_update);
  return loss;
}

double Dlrm::loss_and_gradients(const Batch& batch, std::vector<std::vector<float>>* embedding_grads) {
  const double loss = forward_backward(batch, 0);
  if (embedding_grads != nullptr) {
    const int64_t b = batch.size, v = embeddings_.num_features() + 1, d = config_.dim;
    embedding_grads->assign(embeddings_.num_features(), std::vector<float>(b * d));
    for (int f = 0; f < embeddings_.num_features(); ++f) {
      for (int64_t i = 0; i < b; ++i) {
        std::memcpy((*embedding_grads)[f].data() + i * d, dt_.data() + i * v * d + (f + 1) * d, d * sizeof(float));
      }
    }
  }
  return loss;
}

void Dlrm::save(BinaryWriter& out) const {
  for (const Mlp* m : {&bottom_, &top_}) {
    for (int l = 0; l < m->num_layers(); ++l) {
      out.floats(m->layer(l).weight);
      out.floats(m->layer(l).bias);
    }
  }
  out.u32(dense_opt_ != nullptr ? 1 : 0);
  if (dense_opt_ != nullptr) dense_opt_->save(out);
  embeddings_.save(out);
}

void Dlrm::load(BinaryReader& in) {
  for (Mlp* m : {&bottom_, &top_}) {
    for (int l = 0; l < m->num_layers(); ++l) {
      in.floats_into(m->layer(l).weight, "MLP weight");
      in.floats_into(m->layer(l).bias, "MLP bias");
    }
  }
  const uint32_t has_opt = in.u32("dense optimizer flag");
  CEMBED_CHECK((has_opt == 1) == (dense_opt_ != nullptr), "{}: dense optimizer state {} in file but {} configured",
               in.context(), has_opt ? "present" : "absent", dense_opt_ ? "one is" : "none is");
  if (dense_opt_ != nullptr) dense_opt_->load(in);
  embeddings_.load(in);
}

}  // namespace cembed
