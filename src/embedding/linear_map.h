// A small linear map applied per value (path-based compositional maps, mixed-dimension
// projections): y = A x for a row-major A of rows x cols, and its gradients.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/linear_maps.h"

namespace cembed {

// y (rows) = A x (cols), plus `bias` (rows) when not null, summed as kernels/linear_maps.h
// says (the bits of the published path and md results).
inline void linear_map(const float* a, const float* x, const float* bias, int64_t rows, int64_t cols, float* y) {
  kernels::map_vector(a, x, bias, rows, cols, y);
}

// For d<g, y>/d..: gx (cols) = A^T g, ga (rows x cols) = g x^T.
inline void linear_map_gradients(const float* a, const float* x, const float* g, int64_t rows, int64_t cols, float* gx,
                                 float* ga) {
  std::fill(gx, gx + cols, 0.0f);
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      gx[j] += a[i * cols + j] * g[i];
      ga[i * cols + j] = g[i] * x[j];
    }
  }
}

}  // namespace cembed
