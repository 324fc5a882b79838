#include "cembed/dot_interaction.h"

#include <algorithm>

namespace cembed {

void DotInteraction::forward(const float* t, int64_t batch, float* r) const {
  const int64_t out = output_dim();
#pragma omp parallel for schedule(static) if (batch >= 64)
  for (int64_t b = 0; b < batch; ++b) {
    const float* tb = t + b * v_ * d_;
    float* rb = r + b * out;
    std::copy(tb, tb + d_, rb);
    int64_t p = d_;
    for (int64_t i = 1; i < v_; ++i) {
      const float* ti = tb + i * d_;
      for (int64_t j = 0; j < i; ++j) {
        const float* tj = tb + j * d_;
        float acc = 0.0f;
        for (int64_t k = 0; k < d_; ++k) acc += ti[k] * tj[k];
        rb[p++] = acc;
      }
    }
  }
}

void DotInteraction::backward(const float* t, const float* dr, int64_t batch, float* dt) const {
  const int64_t out = output_dim();
#pragma omp parallel for schedule(static) if (batch >= 64)
  for (int64_t b = 0; b < batch; ++b) {
    const float* tb = t + b * v_ * d_;
    const float* drb = dr + b * out;
    float* dtb = dt + b * v_ * d_;
    std::fill(dtb, dtb + v_ * d_, 0.0f);
    std::copy(drb, drb + d_, dtb);
    int64_t p = d_;
    for (int64_t i = 1; i < v_; ++i) {
      const float* ti = tb + i * d_;
      float* dti = dtb + i * d_;
      for (int64_t j = 0; j < i; ++j) {
        const float g = drb[p++];
        const float* tj = tb + j * d_;
        float* dtj = dtb + j * d_;
        for (int64_t k = 0; k < d_; ++k) {
          dti[k] += g * tj[k];
          dtj[k] += g * ti[k];
        }
      }
    }
  }
}

}  // namespace cembed
