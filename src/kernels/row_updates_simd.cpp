// The optimizer's row loops (row_update_paths.h) in Highway, compiled for every x86-64
// target above the build's baseline (AVX2, AVX-512) and dispatched at run time. Each step
// rounds as the rules of row_updates.cpp say (this file too is built with
// -ffp-contract=off): Fma (hwy_fma-inl.h) where a rule has std::fma, Mul then Add where it
// has them apart; row-wise Adagrad's four running sums of squares are a 4-lane vector. A dim
// that is not a multiple of the vector runs its last elements through the same scalar
// statements.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/row_updates_simd.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
// foreach_target.h re-includes this file once per target.
#include <hwy/highway.h>

#include "kernels/hwy_fma-inl.h"  // Fma: one rounding on every target

#include <algorithm>
#include <cmath>

#include "kernels/row_update_paths.h"

HWY_BEFORE_NAMESPACE();
namespace cembed::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// D > 0: rows of D floats (loops of known length); D == 0: job.dim floats.
template <OptimizerKind K, int D>
struct SimdRule {
  // One step on row r with gradient g (n floats).
  static HWY_INLINE void apply(const RowJob& job, int64_t r, const float* HWY_RESTRICT g) {
    const hn::ScalableTag<float> d;
    const auto lanes = static_cast<int64_t>(hn::Lanes(d));
    const int64_t n = D > 0 ? D : job.dim;
    const int64_t vec_end = n - n % lanes;
    const float lr = job.lr, eps = job.eps;
    if constexpr (K == OptimizerKind::Sgd) {
      float* HWY_RESTRICT w = job.table + r * n;
      const auto vlr = hn::Set(d, lr);
      for (int64_t j = 0; j < vec_end; j += lanes) {
        hn::StoreU(Fma(d, hn::Neg(vlr), hn::LoadU(d, g + j), hn::LoadU(d, w + j)), d, w + j);
      }
      for (int64_t j = vec_end; j < n; ++j) w[j] = std::fma(-lr, g[j], w[j]);
    } else if constexpr (K == OptimizerKind::Adagrad) {
      float* HWY_RESTRICT w = job.table + r * n;
      float* HWY_RESTRICT s = job.state + r * n;
      const auto vlr = hn::Set(d, lr), veps = hn::Set(d, eps);
      for (int64_t j = 0; j < vec_end; j += lanes) {
        const auto gj = hn::LoadU(d, g + j);
        const auto sj = Fma(d, gj, gj, hn::LoadU(d, s + j));
        hn::StoreU(sj, d, s + j);
        const auto step = hn::Div(hn::Mul(vlr, gj), hn::Add(hn::Sqrt(sj), veps));
        hn::StoreU(hn::Sub(hn::LoadU(d, w + j), step), d, w + j);
      }
      for (int64_t j = vec_end; j < n; ++j) {
        s[j] = std::fma(g[j], g[j], s[j]);
        w[j] = w[j] - lr * g[j] / (std::sqrt(s[j]) + eps);
      }
    } else if constexpr (K == OptimizerKind::RowwiseAdagrad) {
      float* HWY_RESTRICT w = job.table + r * n;
      // The scalar rule's four running sums are the lanes of a 4-lane vector.
      const hn::FixedTag<float, 4> d4;
      const int64_t body = n - n % 4;
      auto sums = hn::Zero(d4);
      for (int64_t j = 0; j < body; j += 4) {
        const auto gj = hn::LoadU(d4, g + j);
        sums = Fma(d4, gj, gj, sums);
      }
      const auto halves = hn::Add(sums, hn::ConcatUpperUpper(d4, sums, sums));  // p0 + p2, p1 + p3
      float sq = hn::GetLane(halves) + hn::ExtractLane(halves, 1);
      for (int64_t j = body; j < n; ++j) sq = std::fma(g[j], g[j], sq);
      const float mean_square = job.state[r] + sq / static_cast<float>(n);
      job.state[r] = mean_square;
      const float step = lr / (std::sqrt(mean_square) + eps);
      const auto vstep = hn::Set(d, step);
      for (int64_t j = 0; j < vec_end; j += lanes) {
        hn::StoreU(Fma(d, hn::Neg(vstep), hn::LoadU(d, g + j), hn::LoadU(d, w + j)), d, w + j);
      }
      for (int64_t j = vec_end; j < n; ++j) w[j] = std::fma(-step, g[j], w[j]);
    } else {
      float* HWY_RESTRICT s = job.state + r * n;
      const auto vlr = hn::Set(d, lr);
      for (int64_t j = 0; j < vec_end; j += lanes) {
        hn::StoreU(Fma(d, vlr, hn::LoadU(d, g + j), hn::LoadU(d, s + j)), d, s + j);
      }
      for (int64_t j = vec_end; j < n; ++j) s[j] = std::fma(lr, g[j], s[j]);
    }
  }

  static HWY_INLINE void prefetch(const RowJob& job, int64_t r) {
    prefetch_step<K>(job.table, job.state, r, D > 0 ? D : job.dim);
  }
};

// acc = scale * g + acc (one rounding per element).
HWY_INLINE void Accumulate(float* HWY_RESTRICT acc, const float* HWY_RESTRICT g, float scale, int64_t n) {
  const hn::ScalableTag<float> d;
  const auto lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t vec_end = n - n % lanes;
  const auto vs = hn::Set(d, scale);
  for (int64_t j = 0; j < vec_end; j += lanes) {
    hn::StoreU(Fma(d, vs, hn::LoadU(d, g + j), hn::LoadU(d, acc + j)), d, acc + j);
  }
  for (int64_t j = vec_end; j < n; ++j) acc[j] = std::fma(scale, g[j], acc[j]);
}

// The sum's first term, Accumulate into an acc of +0 with the zeros in a register
// (row_updates.cpp's first_term): from 128 floats, where g++ 12 zeroed acc with `rep stos`.
HWY_INLINE void FirstTerm(float* HWY_RESTRICT acc, const float* HWY_RESTRICT g, float scale, int64_t n) {
  const hn::ScalableTag<float> d;
  const auto lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t vec_end = n - n % lanes;
  const auto vs = hn::Set(d, scale);
  for (int64_t j = 0; j < vec_end; j += lanes) hn::StoreU(Fma(d, vs, hn::LoadU(d, g + j), hn::Zero(d)), d, acc + j);
  for (int64_t j = vec_end; j < n; ++j) acc[j] = std::fma(scale, g[j], 0.0f);
}

template <OptimizerKind K, int D>
void RunRowsFixed(const RowJob& job) {
  using Rule = SimdRule<K, D>;
  const int64_t dim = D > 0 ? D : job.dim;
  const int64_t n = job.count;
  const int64_t* rows = job.rows;
  const int64_t ahead = update_rows_ahead<K>(dim);
  for (int64_t i = 0; i < std::min(ahead, n); ++i) Rule::prefetch(job, rows[i]);  // the first rows
  if (job.grads != nullptr) {
    for (int64_t i = 0; i < n; ++i) {
      if (i + ahead < n) Rule::prefetch(job, rows[i + ahead]);
      Rule::apply(job, rows[i], job.grads + i * dim);
    }
    return;
  }
  HWY_ALIGN float fixed[D > 0 ? D : 1];
  float* HWY_RESTRICT acc = D > 0 ? fixed : job.acc;
  const RowJob j = job;  // locals: stores through acc cannot change them
  for (int64_t i = 0; i < n; ++i) {
    if (i + ahead < n) Rule::prefetch(j, rows[i + ahead]);
    constexpr bool kFirstTerm = D >= 128;
    if constexpr (!kFirstTerm) {
      for (int64_t c = 0; c < dim; ++c) acc[c] = 0.0f;
    }
    uint32_t k = j.first != nullptr ? j.first[i] : static_cast<uint32_t>(i);
    const uint32_t end = j.first != nullptr ? j.last[i] : k;
    bool first = kFirstTerm;
    do {
      const float* g = j.grad_out + (j.bag_of != nullptr ? j.bag_of[k] : k) * j.grad_stride;
      const float scale = j.scale_of != nullptr ? j.scale_of[k] : 1.0f;
      if (first) {
        FirstTerm(acc, g, scale, dim);
        first = false;
      } else {
        Accumulate(acc, g, scale, dim);
      }
      if (k == end) break;
      k = j.next[k];
    } while (true);
    Rule::apply(j, rows[i], acc);
  }
}

template <OptimizerKind K>
void RunRowsFor(const RowJob& job) {
  switch (job.dim) {
    case 16:
      return RunRowsFixed<K, 16>(job);
    case 32:
      return RunRowsFixed<K, 32>(job);
    case 64:
      return RunRowsFixed<K, 64>(job);
    case 128:
      return RunRowsFixed<K, 128>(job);
    default:
      return RunRowsFixed<K, 0>(job);
  }
}

void RunRows(const RowJob& job) {
  switch (job.kind) {
    case OptimizerKind::Sgd:
      return RunRowsFor<OptimizerKind::Sgd>(job);
    case OptimizerKind::Adagrad:
      return RunRowsFor<OptimizerKind::Adagrad>(job);
    case OptimizerKind::RowwiseAdagrad:
      return RunRowsFor<OptimizerKind::RowwiseAdagrad>(job);
    case OptimizerKind::Gradient:
      return RunRowsFor<OptimizerKind::Gradient>(job);
  }
}

}  // namespace cembed::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace cembed::kernels {

HWY_EXPORT(RunRows);

void run_rows_simd(const RowJob& job) { HWY_DYNAMIC_DISPATCH(RunRows)(job); }

}  // namespace cembed::kernels
#endif  // HWY_ONCE
