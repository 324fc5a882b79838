// The two implementations behind apply_row_updates and coalesce_and_apply
// (embedding_kernels.h): plain C++ loops (row_updates.cpp, the scalar reference) and
// Highway's (row_updates_simd.cpp), dispatched at run time to the best instruction set the
// CPU has (AVX2 on Zen 3, AVX-512 on Zen 4 and 5) from the one x86-64-v3 build. Both round
// every step as the rules in row_updates.cpp say, so all give the same bits (tested per
// target).
#pragma once

#include <cstdint>

#include "cembed/optimizer.h"
#include "kernels/embedding_kernels.h"
#include "kernels/prefetch_lines.h"

namespace cembed::kernels {

// One optimizer step on each of `count` rows. Row i's gradient is grads + i * dim when
// grads is set (apply_row_updates); otherwise the sum, in order, of scale(k) * the grad_out
// row of bag(k) over its ids k = first[i], next[k], next[next[k]], ... up to last[i]
// (first, last and next null: the one id i), bag(k) = bag_of[k] and scale(k) = scale_of[k]
// (null: k and 1), summed in acc.
struct RowJob {
  OptimizerKind kind = OptimizerKind::Sgd;
  int64_t dim = 0;
  float* table = nullptr;
  float* state = nullptr;
  float lr = 0.0f, eps = 0.0f;
  int64_t count = 0;
  const int64_t* rows = nullptr;
  const float* grads = nullptr;
  const uint32_t* first = nullptr;
  const uint32_t* last = nullptr;
  const uint32_t* next = nullptr;
  const uint32_t* bag_of = nullptr;
  const float* scale_of = nullptr;
  const float* grad_out = nullptr;
  int64_t grad_stride = 0;
  float* acc = nullptr;  // dim floats of scratch
};

// Distinct rows whose weights and state are prefetched (prefetch_step) ahead of optimizer
// K's step on rows of dim floats: rows_ahead of the lines a step touches, the weights' row
// (none for Gradient) and the state's row (Adagrad, Gradient). Row-wise Adagrad counts as
// Adagrad: its one float of state is a line of its own on rows that miss, and at dim 64 it
// was fastest 8 rows ahead, as Adagrad (docs/benchmarks.md, "Session 20"). 32 rows at dim
// 16 for both, 8 at dim 64; 64 and 16 for SGD.
template <OptimizerKind K>
constexpr int64_t update_rows_ahead(int64_t dim) {
  const int64_t row = lines_of(dim * static_cast<int64_t>(sizeof(float)));
  if constexpr (K == OptimizerKind::Adagrad || K == OptimizerKind::RowwiseAdagrad) return rows_ahead(2 * row);
  return rows_ahead(row);
}

// Whether prefetch_for_update brings every line of a row longer than one cache line
// (Intel CPUs) or only its first (others: AMD). Read once from the CPU at start-up
// (row_updates.cpp); prefetching changes no result.
extern const bool kPrefetchEveryLine;

// Prefetches p[0, n) ahead of its update. A row of at most one cache line's floats, and on
// CPUs other than Intel's any row, has its first line prefetched into L1 for writing. On
// Intel, a longer row has its every line prefetched into the outer caches (locality 1:
// prefetcht2 on x86, under any -march; a write hint would turn it into prefetchw, which fills
// L1). Measured on rows that miss the caches at dim 64 (docs/benchmarks.md, "Session 15" and
// "Session 16: Zen 5"): on the Intel Xeon, every line ran SGD's and Adagrad's updates
// 1.65-1.7x as fast as the first line alone (row-wise Adagrad 1.1x); on Zen 5 it ran
// Adagrad's at 0.80x (0.60x on cached rows), row-wise Adagrad's at 0.81x and SGD's at 0.95x,
// the CPU fetching the rest of a row itself. Rows of one line ran faster in L1 on the Intel
// Xeon (not compared on Zen 5). Always inlined (prefetch_lines.h says why).
__attribute__((always_inline)) inline void prefetch_for_update(const float* p, int64_t n) {
  if (n <= static_cast<int64_t>(kCacheLine / sizeof(float)) || !kPrefetchEveryLine) {
    __builtin_prefetch(p, 1, 3);
    return;
  }
  prefetch_lines<0, 1>(p, p + n - 1);
}

// What optimizer K's step on row r touches, prefetched: the weights (all but Gradient, which
// sums into the state) and the state (a row of n floats for Adagrad and Gradient, one float
// for row-wise Adagrad). Both row loops call it.
template <OptimizerKind K>
__attribute__((always_inline)) inline void prefetch_step(float* table, float* state, int64_t r, int64_t n) {
  if constexpr (K != OptimizerKind::Gradient) prefetch_for_update(table + r * n, n);
  if constexpr (K == OptimizerKind::Adagrad || K == OptimizerKind::Gradient) {
    prefetch_for_update(state + r * n, n);
  } else if constexpr (K == OptimizerKind::RowwiseAdagrad) {
    prefetch_for_update(state + r, 1);
  }
}

using RowLoop = void (*)(const RowJob&);
void run_rows_scalar(const RowJob& job);
void run_rows_simd(const RowJob& job);
// The one the kernels use (the SIMD one where it pays: docs/benchmarks.md).
void run_rows(const RowJob& job);

// apply_row_updates and coalesce_and_apply with the row loop given (tests, A/B benchmarks).
void apply_row_updates_with(RowLoop run, float* table, float* state, int64_t num_rows, int64_t dim,
                            const RowGradients& g, const OptimizerConfig& opt, float lr);
void coalesce_and_apply_with(RowLoop run, const RowBags& bags, Pooling pooling, ConstMatrixView grad, int64_t dim,
                             float* table, float* state, int64_t num_rows, const OptimizerConfig& opt, float lr,
                             UpdateScratch& scratch);

}  // namespace cembed::kernels
