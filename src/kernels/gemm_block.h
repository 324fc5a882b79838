// One block of kernels::gemm (dense_kernels.h) on the calling thread: cembed's own fp32
// GEMM, in Highway (src/kernels/gemm_simd.cpp), compiled for every x86-64 target and chosen
// at run time, and its scalar reference.
//
// The rule (the bits): for every element of C,
//   s = 0;  for p = 0, 1, ..., k - 1:  s = fma(op(A)[i, p], op(B)[p, j], s)   (one rounding each)
//   C[i, j] = alpha * s                      when beta == 0 (C is not read),
//   C[i, j] = fma(beta, C[i, j], alpha * s)  otherwise.
// Each element is one chain of fmas in the order of p. A vector holds one element per lane
// and cache blocking only pauses a chain (its sum is stored exactly and taken up again), so
// the result depends on the inputs alone: not on the CPU's vector width (AVX2 or AVX-512),
// the tile shape or the blocking. That is what lets the dense layers give the same bits on
// every machine while using AVX-512 where the CPU has it.
#pragma once

#include <cstdint>
#include <string>

namespace cembed::kernels {

// C (m x n) = alpha * op(A) * op(B) + beta * C by the rule above; row-major, lda/ldb/ldc row
// strides, op(X) = X^T when trans_x. Single-threaded; kernels::gemm runs blocks in parallel.
void gemm_block(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// The rule one element at a time, with std::fma: the reference the tests hold gemm_block to.
void gemm_block_reference(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// What gemm_block runs on this CPU, e.g. "Highway AVX3 (12 x 32 tiles)", for reports and --version.
std::string gemm_kernel_name();

}  // namespace cembed::kernels
