#include "cembed/dense_optimizer.h"

#include <cmath>

#include "embedding/table_state.h"
#include "util/check.h"

namespace cembed {

DenseOptimizer::DenseOptimizer(std::vector<std::span<float>> params, std::vector<std::span<float>> grads,
                               OptimizerConfig config)
    : params_(std::move(params)), grads_(std::move(grads)), config_(config) {
  CEMBED_CHECK(params_.size() == grads_.size(), "dense optimizer: {} parameters, {} gradients", params_.size(),
               grads_.size());
  if (config_.kind != OptimizerKind::Sgd) {
    for (const auto& p : params_) {
      state_.emplace_back(p.size(), config_.initial_accumulator);
      state_floats_ += static_cast<int64_t>(p.size());
    }
  }
}

void DenseOptimizer::step(float lr) {
  for (size_t i = 0; i < params_.size(); ++i) {
    float* w = params_[i].data();
    const float* g = grads_[i].data();
    const int64_t n = static_cast<int64_t>(params_[i].size());
    if (config_.kind == OptimizerKind::Sgd) {
      for (int64_t j = 0; j < n; ++j) w[j] -= lr * g[j];
    } else {
      float* s = state_[i].data();
      const float eps = config_.eps;
#pragma omp parallel for if (n >= (1 << 16)) schedule(static)
      for (int64_t j = 0; j < n; ++j) {
        s[j] += g[j] * g[j];
        w[j] -= lr * g[j] / (std::sqrt(s[j]) + eps);
      }
    }
  }
}

void DenseOptimizer::save(BinaryWriter& out) const {
  save_optimizer_kind(out, config_.kind);
  out.u64(state_.size());
  for (const auto& s : state_) out.floats(s);
}

void DenseOptimizer::load(BinaryReader& in) {
  load_optimizer_kind(in, config_.kind, "dense optimizer");
  const uint64_t n = in.u64("dense optimizer blocks");
  CEMBED_CHECK(n == state_.size(), "{}: {} dense optimizer blocks, {} expected", in.context(), n, state_.size());
  for (auto& s : state_) in.floats_into(s, "dense optimizer state");
}

}  // namespace cembed
