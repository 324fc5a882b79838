// Dense kernels: GEMM through OpenBLAS, and the element-wise passes of the MLP.
// All matrices are row-major.
#pragma once

#include <cstdint>

namespace cembed::kernels {

// C (m x n) = alpha * op(A) * op(B) + beta * C, op(X) = X or X^T; lda/ldb/ldc are row strides.
//
// Deterministic whatever the thread count: C is cut into blocks of rows (or of columns, when
// it is wider than tall) whose size depends only on m and n (gemm_blocks); each block is one
// single-threaded OpenBLAS call, and the blocks run on the OpenMP threads. The bits therefore
// depend on the shape, the inputs and OpenBLAS's kernel (OPENBLAS_CORETYPE), never on how
// many threads ran or which thread ran a block.
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// How gemm() cuts an m x n product: `count` blocks of `block` rows (split_rows) or columns
// (the last block may be shorter): at most kGemmMaxBlocks, each a multiple of kGemmMinBlock.
inline constexpr int64_t kGemmMaxBlocks = 8;
inline constexpr int64_t kGemmMinBlock = 16;
// m * n * k below which the blocks run on one thread.
inline constexpr int64_t kGemmParallelFlops = 1 << 18;
struct GemmBlocks {
  bool split_rows = true;
  int64_t block = 0, count = 0;
};
GemmBlocks gemm_blocks(int64_t m, int64_t n);

// y[r, j] = max(0, y[r, j] + bias[j]) when relu, else y[r, j] + bias[j]; y is rows x cols.
void add_bias_activation(float* y, const float* bias, int64_t rows, int64_t cols, bool relu);

// dz[r, j] = dy[r, j] * (y[r, j] > 0) (ReLU backward through its output y).
void relu_backward(const float* y, const float* dy, float* dz, int64_t n);

// out[j] = sum_r m[r, j] for an rows x cols matrix.
void column_sums(const float* m, int64_t rows, int64_t cols, float* out);

// Sets the threads used by OpenMP regions and by OpenBLAS.
void set_num_threads(int threads);
int num_threads();

}  // namespace cembed::kernels
