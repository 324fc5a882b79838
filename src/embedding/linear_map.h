// A small linear map applied per value (path-based compositional maps, mixed-dimension
// projections): y = A x for a row-major A of rows x cols, and its gradients.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace cembed {

// y (rows) = A x (cols), plus `bias` (rows) when not null: y_i = fma(A_i,cols-1, x_cols-1, ...
// fma(A_i0, x_0, bias_i or 0)), one fma per term in the order of j (what release builds
// contracted acc += a * x to before it was spelt out).
inline void linear_map(const float* a, const float* x, const float* bias, int64_t rows, int64_t cols, float* y) {
  for (int64_t i = 0; i < rows; ++i) {
    float acc = bias == nullptr ? 0.0f : bias[i];
    for (int64_t j = 0; j < cols; ++j) acc = std::fma(a[i * cols + j], x[j], acc);
    y[i] = acc;
  }
}

// at (cols x rows) = the transpose of a (rows x cols), for kernels::apply_maps.
inline void transpose(const float* a, int64_t rows, int64_t cols, float* at) {
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) at[j * rows + i] = a[i * cols + j];
  }
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
