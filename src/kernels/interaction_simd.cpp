// dot_pairs and pair_grads (interaction_kernels.h) in Highway, compiled for every x86-64
// target and dispatched at run time, and their scalar references. Built with
// -ffp-contract=off: every fma is written as one. Many chains advance side by side in vector
// lanes, each one step at a time in the rule's order: forward, the dot products of T_i with
// up to four vectors of T_j at once (T held transposed, so lane j is one pair's chain);
// backward, dT[x] over k (lane k is one element's chain over y).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/interaction_simd.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
// foreach_target.h re-includes this file once per target.
#include <hwy/highway.h>

#include "kernels/hwy_fma-inl.h"  // Fma: one rounding on every target

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/interaction_kernels.h"

#ifndef CEMBED_KERNELS_INTERACTION_SIMD_ONCE
#define CEMBED_KERNELS_INTERACTION_SIMD_ONCE
namespace cembed::kernels::interaction_detail {
// g(x, y): the gradient of the pair (max(x, y), min(x, y)) among a sample's pairs.
inline float pair_gradient(const float* pairs, int64_t x, int64_t y) {
  return y < x ? pairs[x * (x - 1) / 2 + y] : pairs[y * (y - 1) / 2 + x];
}

// dT[x, k] by the rule, one element: dr's dense part (x = 0) or zero, then the chain over y != x.
inline float grad_element(const float* t, const float* dr, int64_t v, int64_t dim, int64_t x, int64_t k) {
  float acc = x == 0 ? dr[k] : 0.0f;
  for (int64_t y = 0; y < v; ++y) {
    if (y != x) acc = std::fma(pair_gradient(dr + dim, x, y), t[y * dim + k], acc);
  }
  return acc;
}
}  // namespace cembed::kernels::interaction_detail
#endif

HWY_BEFORE_NAMESPACE();
namespace cembed::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// out[0, count) = <ti, T_j> for the vectors of tt's columns [0, count) (count <= NV lanes).
template <int NV, class D>
HWY_INLINE void DotBlock(D d, const float* tt, int64_t vp, int64_t dim, const float* ti, float* out, int64_t count) {
  using V = hn::Vec<D>;
  const size_t N = hn::Lanes(d);
  V acc[NV];
  for (int w = 0; w < NV; ++w) acc[w] = hn::Zero(d);
  for (int64_t k = 0; k < dim; ++k) {
    const V a = hn::Set(d, ti[k]);
    for (int w = 0; w < NV; ++w) acc[w] = Fma(d, a, hn::LoadU(d, tt + k * vp + w * N), acc[w]);
  }
  HWY_ALIGN float buf[NV * hn::MaxLanes(d)];
  for (int w = 0; w < NV; ++w) hn::Store(acc[w], d, buf + w * N);
  std::copy(buf, buf + count, out);
}

void DotPairs(const float* t, int64_t v, int64_t dim, float* pairs) {
  const hn::ScalableTag<float> d;
  const auto N = static_cast<int64_t>(hn::Lanes(d));
  const int64_t vp = (v + N - 1) / N * N;  // columns of tt: whole vectors, zeros past v
  static thread_local std::vector<float> tt;
  tt.assign(static_cast<size_t>(dim * vp), 0.0f);
  for (int64_t j = 0; j < v; ++j) {
    for (int64_t k = 0; k < dim; ++k) tt[k * vp + j] = t[j * dim + k];
  }
  for (int64_t i = 1; i < v; ++i) {
    const float* ti = t + i * dim;
    for (int64_t j0 = 0; j0 < i; j0 += 4 * N) {
      const int64_t count = std::min(4 * N, i - j0);
      const float* block = tt.data() + j0;
      switch ((count + N - 1) / N) {
        case 1:
          DotBlock<1>(d, block, vp, dim, ti, pairs + j0, count);
          break;
        case 2:
          DotBlock<2>(d, block, vp, dim, ti, pairs + j0, count);
          break;
        case 3:
          DotBlock<3>(d, block, vp, dim, ti, pairs + j0, count);
          break;
        default:
          DotBlock<4>(d, block, vp, dim, ti, pairs + j0, count);
      }
    }
    pairs += i;
  }
}

// dT[x, k] for k in [k0, k0 + NV lanes), each lane grad_element's chain.
template <int NV, class D>
HWY_INLINE void GradBlock(D d, const float* t, const float* dr, int64_t v, int64_t dim, int64_t x, int64_t k0,
                          float* dt) {
  using V = hn::Vec<D>;
  const size_t N = hn::Lanes(d);
  V acc[NV];
  for (int w = 0; w < NV; ++w) acc[w] = x == 0 ? hn::LoadU(d, dr + k0 + w * N) : hn::Zero(d);
  for (int64_t y = 0; y < v; ++y) {
    if (y == x) continue;
    const V g = hn::Set(d, interaction_detail::pair_gradient(dr + dim, x, y));
    for (int w = 0; w < NV; ++w) acc[w] = Fma(d, g, hn::LoadU(d, t + y * dim + k0 + w * N), acc[w]);
  }
  for (int w = 0; w < NV; ++w) hn::StoreU(acc[w], d, dt + x * dim + k0 + w * N);
}

void PairGrads(const float* t, const float* dr, int64_t v, int64_t dim, float* dt) {
  const hn::CappedTag<float, 8> d;  // rows of 8, 16, 24 or 32 floats: whole 8-lane vectors
  const auto N = static_cast<int64_t>(hn::Lanes(d));
  for (int64_t x = 0; x < v; ++x) {
    int64_t k0 = 0;
    for (; k0 + 4 * N <= dim; k0 += 4 * N) GradBlock<4>(d, t, dr, v, dim, x, k0, dt);
    const int64_t rest = (dim - k0) / N;
    if (rest == 3) GradBlock<3>(d, t, dr, v, dim, x, k0, dt);
    if (rest == 2) GradBlock<2>(d, t, dr, v, dim, x, k0, dt);
    if (rest == 1) GradBlock<1>(d, t, dr, v, dim, x, k0, dt);
    // Elements past the last whole vector: the same chains one at a time.
    for (int64_t k = k0 + rest * N; k < dim; ++k)
      dt[x * dim + k] = interaction_detail::grad_element(t, dr, v, dim, x, k);
  }
}

}  // namespace cembed::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace cembed::kernels {

HWY_EXPORT(DotPairs);
HWY_EXPORT(PairGrads);

void dot_pairs(const float* t, int64_t v, int64_t dim, float* pairs) {
  HWY_DYNAMIC_DISPATCH(DotPairs)(t, v, dim, pairs);
}

void pair_grads(const float* t, const float* dr, int64_t v, int64_t dim, float* dt) {
  HWY_DYNAMIC_DISPATCH(PairGrads)(t, dr, v, dim, dt);
}

void dot_pairs_reference(const float* t, int64_t v, int64_t dim, float* pairs) {
  for (int64_t i = 1; i < v; ++i) {
    for (int64_t j = 0; j < i; ++j) {
      float acc = 0.0f;
      for (int64_t k = 0; k < dim; ++k) acc = std::fma(t[i * dim + k], t[j * dim + k], acc);
      *pairs++ = acc;
    }
  }
}

void pair_grads_reference(const float* t, const float* dr, int64_t v, int64_t dim, float* dt) {
  for (int64_t x = 0; x < v; ++x) {
    for (int64_t k = 0; k < dim; ++k) dt[x * dim + k] = interaction_detail::grad_element(t, dr, v, dim, x, k);
  }
}

}  // namespace cembed::kernels
#endif
