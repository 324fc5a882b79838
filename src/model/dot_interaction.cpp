#include "cembed/dot_interaction.h"

#include <algorithm>

#include "kernels/interaction_kernels.h"

namespace cembed {

// Each sample through the per-sample kernels, whose sums follow kernels/interaction_kernels.h's
// rule whatever the CPU.

void DotInteraction::forward(const float* t, int64_t batch, float* r) const {
  const int64_t out = output_dim();
#pragma omp parallel for schedule(static) if (batch >= 64)
  for (int64_t b = 0; b < batch; ++b) {
    const float* tb = t + b * v_ * d_;
    float* rb = r + b * out;
    std::copy(tb, tb + d_, rb);
    kernels::dot_pairs(tb, v_, d_, rb + d_);
  }
}

void DotInteraction::backward(const float* t, const float* dr, int64_t batch, float* dt) const {
  const int64_t out = output_dim();
#pragma omp parallel for schedule(static) if (batch >= 64)
  for (int64_t b = 0; b < batch; ++b) {
    kernels::pair_grads(t + b * v_ * d_, dr + b * out, v_, d_, dt + b * v_ * d_);
  }
}

}  // namespace cembed
