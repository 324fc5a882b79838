// GEMM with bfloat16 inputs: the dense layers' training products under
// --dense-precision bf16 (docs/training.md; numerics and determinism: docs/reliability.md).
//
// C = alpha * op(A) * op(B) + beta * C as kernels::gemm (dense_kernels.h), except that every
// element of op(A) and op(B) is first rounded to bfloat16 (round to nearest even: 8
// significant bits), and the products of those roundings (exact in fp32) are summed in
// fp32. Two paths compute it:
//   Onednn:  oneDNN's bf16 matmul (libdnnl), on CPUs with bf16 instructions (AVX512-BF16:
//            Zen 4, Zen 5; AMX-BF16: Intel Sapphire Rapids and later). It beats fp32 where
//            the CPU has AMX; with AVX512-BF16 alone it only matched fp32 on an Intel core
//            (docs/benchmarks.md, "bf16 dense layers");
//   Rounded: the rounded inputs, held in fp32, through kernels::gemm (cembed's own), on every
//            other CPU (Zen 3), where oneDNN has no bf16 matmul or only an emulated one
//            slower than fp32. It is there for the numbers, not for speed.
// Neither path's bits depend on the thread count: oneDNN runs in the blocks of
// gemm_blocks(m, n), which depend on the shape alone, one single-threaded call each, and the
// rounded path has kernels::gemm's rule. They do depend on the path and on the instruction
// set oneDNN runs (its order of summation), so bf16 runs agree across machines of the kind
// to fp32 rounding of the sum, not bit for bit.
#pragma once

#include <cstdint>
#include <string>

namespace cembed::kernels {

enum class Bf16Path { Onednn, Rounded };

// The path this CPU runs (decided once, from the instruction set oneDNN reports; the
// environment's DNNL_MAX_CPU_ISA caps it).
Bf16Path bf16_path();
// e.g. "oneDNN bf16 matmul (avx512_core_amx)" or "bf16-rounded inputs through cembed's fp32 GEMM
// (oneDNN has no native bf16 matmul for avx2)", for reports and --version.
std::string bf16_path_name();

void gemm_bf16(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
               const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
// The same on the path given (tests, benchmarks): Onednn refuses (cembed::Error) on a CPU
// where bf16_path() is Rounded.
void gemm_bf16_on(Bf16Path path, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// Round to nearest even bfloat16 (the top 16 bits of the result; NaN stays a quiet NaN).
float round_to_bf16(float x);

}  // namespace cembed::kernels
