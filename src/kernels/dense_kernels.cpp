#include "kernels/dense_kernels.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <vector>

namespace cembed::kernels {
namespace {
constexpr int64_t kParallelElements = 1 << 15;
}

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), alpha, a,
              static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
}

void add_bias_activation(float* y, const float* bias, int64_t rows, int64_t cols, bool relu) {
#pragma omp parallel for if (rows * cols >= kParallelElements) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    float* row = y + r * cols;
    if (relu) {
      for (int64_t j = 0; j < cols; ++j) row[j] = std::max(0.0f, row[j] + bias[j]);
    } else {
      for (int64_t j = 0; j < cols; ++j) row[j] += bias[j];
    }
  }
}

void relu_backward(const float* y, const float* dy, float* dz, int64_t n) {
#pragma omp parallel for if (n >= kParallelElements) schedule(static)
  for (int64_t i = 0; i < n; ++i) dz[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

void column_sums(const float* m, int64_t rows, int64_t cols, float* out) {
  std::fill(out, out + cols, 0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = m + r * cols;
    for (int64_t j = 0; j < cols; ++j) out[j] += row[j];
  }
}

void set_num_threads(int threads) {
  threads = std::max(1, threads);
  omp_set_num_threads(threads);
  openblas_set_num_threads(threads);
}

int num_threads() { return omp_get_max_threads(); }

}  // namespace cembed::kernels
