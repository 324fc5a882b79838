// nearest_centroids (nearest_centroids.h) in Highway, compiled for every x86-64 target above
// the build's baseline and dispatched at run time, and its scalar reference. Built with
// -ffp-contract=off: every term is one Fma, as the reference's std::fma. Each lane keeps the
// least distance of its own centroids (c = lane mod the vector) with the first index giving
// it; the lanes' results then merge, the lowest index on ties, so the index is the
// reference's. Centroids past the last whole vector take the reference's distance one at a time.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/nearest_centroids_simd.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
// foreach_target.h re-includes this file once per target.
#include <hwy/highway.h>

#include "kernels/hwy_fma-inl.h"  // Fma: one rounding on every target

#include <cmath>
#include <limits>

#include "kernels/nearest_centroids.h"

#ifndef CEMBED_KERNELS_NEAREST_CENTROIDS_ONCE
#define CEMBED_KERNELS_NEAREST_CENTROIDS_ONCE
namespace cembed::kernels::detail {

// The reference's distance from p to a centroid whose coordinate j is at c[j * stride]
// (stride 1: row-major centroids; k: transposed).
inline float squared_distance(const float* p, const float* c, int64_t stride, int64_t width) {
  float d = 0.0f;
  for (int64_t j = 0; j < width; ++j) {
    const float t = p[j] - c[j * stride];
    d = std::fma(t, t, d);
  }
  return d;
}

}  // namespace cembed::kernels::detail
#endif

HWY_BEFORE_NAMESPACE();
namespace cembed::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Points p[0..P) against every centroid.
template <int P, class D>
HWY_INLINE void search(D d, const float* const* p, const CentroidBatch& b, uint32_t* out) {
  using V = hn::Vec<D>;
  const hn::RebindToSigned<D> di;
  using VI = hn::Vec<decltype(di)>;
  const auto lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t k = b.k, width = b.width;
  const int64_t whole = k - k % lanes;
  const float inf = std::numeric_limits<float>::infinity();
  V best[P];
  VI best_index[P];
  for (int n = 0; n < P; ++n) {
    best[n] = hn::Set(d, inf);
    best_index[n] = hn::Zero(di);
  }
  VI index = hn::Iota(di, 0);
  const VI step = hn::Set(di, static_cast<int32_t>(lanes));
  for (int64_t c = 0; c < whole; c += lanes) {
    V acc[P];
    for (int n = 0; n < P; ++n) acc[n] = hn::Zero(d);
    for (int64_t j = 0; j < width; ++j) {
      const V cj = hn::LoadU(d, b.centroids_t + j * k + c);
      for (int n = 0; n < P; ++n) {
        const V t = hn::Sub(hn::Set(d, p[n][j]), cj);
        acc[n] = Fma(d, t, t, acc[n]);
      }
    }
    for (int n = 0; n < P; ++n) {
      const auto nearer = hn::Lt(acc[n], best[n]);
      best[n] = hn::IfThenElse(nearer, acc[n], best[n]);
      best_index[n] = hn::IfThenElse(hn::RebindMask(di, nearer), index, best_index[n]);
    }
    index = hn::Add(index, step);
  }
  HWY_ALIGN float lane_best[hn::MaxLanes(d)];
  HWY_ALIGN int32_t lane_index[hn::MaxLanes(d)];
  for (int n = 0; n < P; ++n) {
    hn::Store(best[n], d, lane_best);
    hn::Store(best_index[n], di, lane_index);
    float least = inf;
    int64_t at = 0;
    for (int64_t l = 0; l < lanes; ++l) {
      if (lane_best[l] < least || (lane_best[l] == least && lane_index[l] < at)) {
        least = lane_best[l];
        at = lane_index[l];
      }
    }
    for (int64_t c = whole; c < k; ++c) {
      const float dist = detail::squared_distance(p[n], b.centroids_t + c, k, width);
      if (dist < least) {
        least = dist;
        at = c;
      }
    }
    out[n] = static_cast<uint32_t>(at);
  }
}

void NearestCentroids(const CentroidBatch& b) {
  const hn::ScalableTag<float> d;
  constexpr int kPoints = 4;
  auto point = [&](int64_t i) { return b.points + (b.which == nullptr ? i : b.which[i]) * b.width; };
  int64_t i = 0;
  for (; i + kPoints <= b.count; i += kPoints) {
    const float* p[kPoints];
    for (int n = 0; n < kPoints; ++n) p[n] = point(i + n);
    search<kPoints>(d, p, b, b.out + i);
  }
  for (; i < b.count; ++i) {
    const float* p = point(i);
    search<1>(d, &p, b, b.out + i);
  }
}

}  // namespace cembed::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace cembed::kernels {

HWY_EXPORT(NearestCentroids);

void nearest_centroids(const CentroidBatch& batch) { HWY_DYNAMIC_DISPATCH(NearestCentroids)(batch); }

uint32_t nearest_centroid(const float* point, const float* centroids, int64_t k, int64_t width) {
  uint32_t best = 0;
  float least = std::numeric_limits<float>::infinity();
  for (int64_t c = 0; c < k; ++c) {
    const float d = detail::squared_distance(point, centroids + c * width, 1, width);
    if (d < least) {
      least = d;
      best = static_cast<uint32_t>(c);
    }
  }
  return best;
}

}  // namespace cembed::kernels
#endif
