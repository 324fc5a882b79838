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

// at (cols x rows) = the transpose of a (rows x cols), for linear_map_transposed.
inline void transpose(const float* a, int64_t rows, int64_t cols, float* at) {
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) at[j * rows + i] = a[i * cols + j];
  }
}

// linear_map with A given transposed (at: cols x Rows) and Rows fixed, for N vectors at
// once (their own maps, inputs, biases and outputs): the same fmas in the same order for
// each y_i, the Rows outputs side by side (they vectorize) and the N vectors' chains
// interleaved (each fma waits on the one before it in its chain only).
template <int Rows, int N = 1>
inline void linear_map_transposed(const float* const* at, const float* const* x, const float* const* bias, int64_t cols,
                                  float* const* y) {
  float acc[N][Rows];
  for (int n = 0; n < N; ++n) {
    for (int i = 0; i < Rows; ++i) acc[n][i] = bias == nullptr ? 0.0f : bias[n][i];
  }
  for (int64_t j = 0; j < cols; ++j) {
    for (int n = 0; n < N; ++n) {
      const float xj = x[n][j];
      const float* col = at[n] + j * Rows;
      for (int i = 0; i < Rows; ++i) acc[n][i] = std::fma(col[i], xj, acc[n][i]);
    }
  }
  for (int n = 0; n < N; ++n) {
    for (int i = 0; i < Rows; ++i) y[n][i] = acc[n][i];
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
