// Dense kernels: the MLP's GEMM (cembed's own, gemm_block.h) and its element-wise passes.
// All matrices are row-major.
#pragma once

#include <cstdint>

namespace cembed::kernels {

// C (m x n) = alpha * op(A) * op(B) + beta * C, op(X) = X or X^T; lda/ldb/ldc are row strides.
//
// Every element of C is computed by gemm_block's rule (gemm_block.h), so the bits depend on
// the inputs alone: not on the thread count, how C is cut among threads, or the CPU (its
// vector width). C is cut into one block of rows (or of columns, when it is wider than
// tall) per thread (gemm_thread_blocks), each one gemm_block call.
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// How a product is cut: `count` blocks of `block` rows (split_rows) or columns (the last
// block may be shorter), which run on the OpenMP threads.
struct GemmBlocks {
  bool split_rows = true;
  int64_t block = 0, count = 0;
};
// m * n * k below which the blocks run on one thread.
inline constexpr int64_t kGemmParallelFlops = 1 << 18;

// gemm()'s cut for `threads` threads: at most one block per thread, each a whole number of
// gemm_block's tiles (kGemmTileRows rows, or kGemmTileCols columns) but the last.
inline constexpr int64_t kGemmTileRows = 12;
inline constexpr int64_t kGemmTileCols = 32;
GemmBlocks gemm_thread_blocks(int64_t m, int64_t n, int threads);

// A cut that depends only on the shape: at most kGemmMaxBlocks blocks, each a multiple of
// kGemmMinBlock. The bf16 GEMM's (gemm_bf16.h): oneDNN's bits may depend on a block's shape.
inline constexpr int64_t kGemmMaxBlocks = 8;
inline constexpr int64_t kGemmMinBlock = 16;
GemmBlocks gemm_blocks(int64_t m, int64_t n);

// The blocks of `g`, each computed by `block` (gemm_block's signature) on an OpenMP thread.
using GemmBlockFn = void (*)(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                             int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
void gemm_with(GemmBlockFn block, const GemmBlocks& g, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
               float alpha, const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
               int64_t ldc);

// y[r, j] = max(0, y[r, j] + bias[j]) when relu, else y[r, j] + bias[j]; y is rows x cols.
void add_bias_activation(float* y, const float* bias, int64_t rows, int64_t cols, bool relu);

// dz[r, j] = dy[r, j] * (y[r, j] > 0) (ReLU backward through its output y).
void relu_backward(const float* y, const float* dy, float* dz, int64_t n);

// out[j] = sum_r m[r, j] for an rows x cols matrix.
void column_sums(const float* m, int64_t rows, int64_t cols, float* out);

// Sets the threads used by OpenMP regions (the GEMM's blocks among them).
void set_num_threads(int threads);
int num_threads();

}  // namespace cembed::kernels
