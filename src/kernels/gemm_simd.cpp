// gemm_block (gemm_block.h) in Highway, compiled for every x86-64 target above the build's
// baseline and dispatched at run time, and its scalar reference. Built with
// -ffp-contract=off: every fma here is written as one, and nothing else is fused.
//
// The usual cache blocking (Goto's): op(B) is copied in blocks of kKc rows by up to kNc
// columns into panels of kVecs vectors' width, op(A) in blocks of kMc rows into tiles of
// kRows, and a tile of C (kRows x kVecs vectors) keeps its sums in registers over one block of
// k. Between blocks of k the sums wait in C itself (or in a scratch matrix when alpha or
// beta asks for an epilogue), stored exactly, so each element stays one chain of fmas in
// the order of p (the rule in gemm_block.h), whatever the blocking or the vector width.
// Rows and columns past the matrix's edge are zeros in the copies, computed and dropped.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/gemm_simd.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
// foreach_target.h re-includes this file once per target.
#include <hwy/aligned_allocator.h>
#include <hwy/highway.h>

#include "kernels/hwy_fma-inl.h"  // Fma: one rounding on every target

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/gemm_block.h"

#ifndef CEMBED_KERNELS_GEMM_SIMD_ONCE
#define CEMBED_KERNELS_GEMM_SIMD_ONCE
namespace cembed::kernels::gemm_detail {
// Block sizes (floats). A kKc x (two vectors) panel of op(B) is read by every tile of an A
// block in turn; a kMc x kKc block of op(A) stays in L2. kKc = 512 was chosen over 256 and
// 1024 by alternating builds (docs/benchmarks.md, "Dense layers: cembed's own GEMM").
constexpr int64_t kKc = 512;
constexpr int64_t kMc = 96;
constexpr int64_t kNc = 512;

// A thread's copies, grown as needed and kept for its next call.
struct Buffer {
  hwy::AlignedFreeUniquePtr<float[]> data;
  size_t size = 0;
  float* get(size_t n) {
    if (n > size) {
      data = hwy::AllocateAligned<float>(n);
      size = n;
    }
    return data.get();
  }
};
}  // namespace cembed::kernels::gemm_detail
#endif

HWY_BEFORE_NAMESPACE();
namespace cembed::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using gemm_detail::kKc;
using gemm_detail::kMc;
using gemm_detail::kNc;

// A tile of C is kRows x kVecs vectors: its sums, kVecs vectors of op(B) and one broadcast of
// op(A) fill the vector registers (32 on AVX-512, 16 below).
#if HWY_TARGET <= HWY_AVX3
constexpr int kRows = 12;
#else
constexpr int kRows = 6;
#endif
constexpr int kVecs = 2;

// One tile: r[i, 0..kVecs N) (+)= sum over p < kc of ap[p * kRows + i] * bp[p * kVecs N + ...],
// each lane a chain of fmas in p's order, started at zero (first) or at the sums r holds.
template <class D>
HWY_INLINE void Tile(D d, int64_t kc, const float* HWY_RESTRICT ap, const float* HWY_RESTRICT bp, float* r, int64_t ldr,
                     bool first) {
  using V = hn::Vec<D>;
  const size_t N = hn::Lanes(d);
  V c[kRows][kVecs];
  for (int i = 0; i < kRows; ++i) {
    for (int v = 0; v < kVecs; ++v) c[i][v] = first ? hn::Zero(d) : hn::LoadU(d, r + i * ldr + v * N);
  }
  for (int64_t p = 0; p < kc; ++p) {
    V b[kVecs];
    for (int v = 0; v < kVecs; ++v) b[v] = hn::Load(d, bp + (p * kVecs + v) * N);
    for (int i = 0; i < kRows; ++i) {
      const V a = hn::Set(d, ap[p * kRows + i]);
      for (int v = 0; v < kVecs; ++v) c[i][v] = Fma(d, a, b[v], c[i][v]);
    }
  }
  for (int i = 0; i < kRows; ++i) {
    for (int v = 0; v < kVecs; ++v) hn::StoreU(c[i][v], d, r + i * ldr + v * N);
  }
}

// r (m x n, stride ldr) = the chains' sums of op(A) op(B).
void GemmSums(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
              int64_t ldb, float* r, int64_t ldr) {
  const hn::ScalableTag<float> d;
  const auto N = static_cast<int64_t>(hn::Lanes(d));
  const int64_t nr = kVecs * N;
  if (k == 0) {
    for (int64_t i = 0; i < m; ++i) std::fill(r + i * ldr, r + i * ldr + n, 0.0f);
    return;
  }
  static thread_local gemm_detail::Buffer a_copy, b_copy;
  const int64_t nc_max = std::min(n, kNc);
  float* bp = b_copy.get(static_cast<size_t>(kKc * ((nc_max + nr - 1) / nr) * nr));
  float* ap = a_copy.get(static_cast<size_t>(kKc * ((std::min(m, kMc) + kRows - 1) / kRows) * kRows));
  HWY_ALIGN float edge[kRows * kVecs * hn::MaxLanes(d)];
  for (int64_t jc = 0; jc < n; jc += kNc) {
    const int64_t nc = std::min(kNc, n - jc);
    const int64_t panels = (nc + nr - 1) / nr;
    for (int64_t pc = 0; pc < k; pc += kKc) {
      const int64_t kc = std::min(kKc, k - pc);
      // op(B)[pc + p, jc + q * nr + c] into panel q, row p, lane c.
      for (int64_t q = 0; q < panels; ++q) {
        float* panel = bp + q * kc * nr;
        const int64_t j0 = jc + q * nr, cols = std::min(nr, n - j0);
        if (trans_b) {
          for (int64_t c = 0; c < cols; ++c) {
            const float* src = b + (j0 + c) * ldb + pc;
            for (int64_t p = 0; p < kc; ++p) panel[p * nr + c] = src[p];
          }
        } else if (cols == nr) {
          for (int64_t p = 0; p < kc; ++p) {
            for (int64_t v = 0; v < kVecs; ++v) {
              hn::Store(hn::LoadU(d, b + (pc + p) * ldb + j0 + v * N), d, panel + p * nr + v * N);
            }
          }
        } else {
          for (int64_t p = 0; p < kc; ++p) std::memcpy(panel + p * nr, b + (pc + p) * ldb + j0, cols * sizeof(float));
        }
        if (cols < nr) {
          for (int64_t p = 0; p < kc; ++p) std::fill(panel + p * nr + cols, panel + (p + 1) * nr, 0.0f);
        }
      }
      for (int64_t ic = 0; ic < m; ic += kMc) {
        const int64_t mc = std::min(kMc, m - ic);
        const int64_t tiles = (mc + kRows - 1) / kRows;
        // op(A)[ic + t * kRows + i, pc + p] into tile t, row p, lane i.
        for (int64_t t = 0; t < tiles; ++t) {
          float* tile = ap + t * kc * kRows;
          const int64_t i0 = ic + t * kRows, rows = std::min<int64_t>(kRows, m - i0);
          if (trans_a && rows == kRows) {
            for (int64_t p = 0; p < kc; ++p) {
              for (int i = 0; i < kRows; ++i) tile[p * kRows + i] = a[(pc + p) * lda + i0 + i];
            }
          } else if (trans_a) {
            for (int64_t p = 0; p < kc; ++p) {
              std::memcpy(tile + p * kRows, a + (pc + p) * lda + i0, rows * sizeof(float));
              std::fill(tile + p * kRows + rows, tile + (p + 1) * kRows, 0.0f);
            }
          } else {
            for (int64_t i = 0; i < rows; ++i) {
              const float* src = a + (i0 + i) * lda + pc;
              for (int64_t p = 0; p < kc; ++p) tile[p * kRows + i] = src[p];
            }
            for (int64_t i = rows; i < kRows; ++i) {
              for (int64_t p = 0; p < kc; ++p) tile[p * kRows + i] = 0.0f;
            }
          }
        }
        for (int64_t q = 0; q < panels; ++q) {
          const int64_t j0 = jc + q * nr, cols = std::min(nr, n - j0);
          for (int64_t t = 0; t < tiles; ++t) {
            const int64_t i0 = ic + t * kRows, rows = std::min<int64_t>(kRows, m - i0);
            float* out = r + i0 * ldr + j0;
            if (rows == kRows && cols == nr) {
              Tile(d, kc, ap + t * kc * kRows, bp + q * kc * nr, out, ldr, pc == 0);
              continue;
            }
            // A tile over the edge: its sums go through `edge`, and only the matrix's part back.
            if (pc > 0) {
              for (int64_t i = 0; i < rows; ++i) std::memcpy(edge + i * nr, out + i * ldr, cols * sizeof(float));
            }
            Tile(d, kc, ap + t * kc * kRows, bp + q * kc * nr, edge, nr, pc == 0);
            for (int64_t i = 0; i < rows; ++i) std::memcpy(out + i * ldr, edge + i * nr, cols * sizeof(float));
          }
        }
      }
    }
  }
}

// This target and its tile, for gemm_kernel_name.
void Kernel(int64_t* target, int* rows, int* cols) {
  *target = HWY_TARGET;
  *rows = kRows;
  *cols = kVecs * static_cast<int>(hn::Lanes(hn::ScalableTag<float>()));
}

}  // namespace cembed::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace cembed::kernels {
namespace {
// The rule's last step: C[i, j] from the chain's sum s and the element c it replaces.
float scaled(float alpha, float s, float beta, float c) {
  const float t = alpha * s;
  return beta == 0.0f ? t : std::fma(beta, c, t);
}
}  // namespace

HWY_EXPORT(GemmSums);
HWY_EXPORT(Kernel);

std::string gemm_kernel_name() {
  int64_t target = 0;
  int rows = 0, cols = 0;
  HWY_DYNAMIC_DISPATCH(Kernel)(&target, &rows, &cols);
  return std::string("Highway ") + hwy::TargetName(target) + " (" + std::to_string(rows) + " x " +
         std::to_string(cols) + " tiles)";
}

void gemm_block(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (alpha == 1.0f && beta == 0.0f) {  // every MLP product: the sums are C
    HWY_DYNAMIC_DISPATCH(GemmSums)(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc);
    return;
  }
  static thread_local gemm_detail::Buffer sums;
  float* s = sums.get(static_cast<size_t>(m * n));
  HWY_DYNAMIC_DISPATCH(GemmSums)(trans_a, trans_b, m, n, k, a, lda, b, ldb, s, n);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = scaled(alpha, s[i * n + j], beta, c[i * ldc + j]);
  }
}

void gemm_block_reference(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      float s = 0.0f;
      for (int64_t p = 0; p < k; ++p) {
        s = std::fma(trans_a ? a[p * lda + i] : a[i * lda + p], trans_b ? b[j * ldb + p] : b[p * ldb + j], s);
      }
      c[i * ldc + j] = scaled(alpha, s, beta, c[i * ldc + j]);
    }
  }
}

}  // namespace cembed::kernels
#endif
