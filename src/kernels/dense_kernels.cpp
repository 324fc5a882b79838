#include "kernels/dense_kernels.h"

#include "kernels/gemm_block.h"

#include <omp.h>

#include <algorithm>
#include <vector>

namespace cembed::kernels {
namespace {
constexpr int64_t kParallelElements = 1 << 15;

}  // namespace

GemmBlocks gemm_blocks(int64_t m, int64_t n) {
  GemmBlocks g;
  g.split_rows = m >= n;
  const int64_t len = g.split_rows ? m : n;
  const int64_t per_block = (len + kGemmMaxBlocks - 1) / kGemmMaxBlocks;
  g.block = std::max(kGemmMinBlock, (per_block + kGemmMinBlock - 1) / kGemmMinBlock * kGemmMinBlock);
  g.count = std::max<int64_t>(1, (len + g.block - 1) / g.block);
  return g;
}

GemmBlocks gemm_thread_blocks(int64_t m, int64_t n, int threads) {
  GemmBlocks g;
  g.split_rows = m >= n;
  const int64_t len = g.split_rows ? m : n, unit = g.split_rows ? kGemmTileRows : kGemmTileCols;
  const int64_t units = std::max<int64_t>(1, (len + unit - 1) / unit);
  const int64_t count = std::clamp<int64_t>(threads, 1, units);
  g.block = (units + count - 1) / count * unit;
  g.count = (len + g.block - 1) / g.block;
  return g;
}

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  gemm_with(gemm_block, gemm_thread_blocks(m, n, omp_in_parallel() ? 1 : omp_get_max_threads()), trans_a, trans_b, m, n,
            k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void gemm_with(GemmBlockFn block, const GemmBlocks& g, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
               float alpha, const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
               int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  const bool parallel = g.count > 1 && m * n * k >= kGemmParallelFlops;
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t i = 0; i < g.count; ++i) {
    const int64_t start = i * g.block;
    if (g.split_rows) {
      // Rows [start, start + rows) of C and of op(A): rows of A, or columns of A^T.
      const int64_t rows = std::min(g.block, m - start);
      block(trans_a, trans_b, rows, n, k, alpha, a + (trans_a ? start : start * lda), lda, b, ldb, beta,
            c + start * ldc, ldc);
    } else {
      // Columns [start, start + cols) of C and of op(B): columns of B, or rows of B^T.
      const int64_t cols = std::min(g.block, n - start);
      block(trans_a, trans_b, m, cols, k, alpha, a, lda, b + (trans_b ? start * ldb : start), ldb, beta, c + start,
            ldc);
    }
  }
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

void set_num_threads(int threads) { omp_set_num_threads(std::max(1, threads)); }

int num_threads() { return omp_get_max_threads(); }

}  // namespace cembed::kernels
