// apply_maps (linear_maps.h) in Highway, compiled for every x86-64 target above the build's
// baseline and dispatched at run time, and its scalar reference map_vector. Built with
// -ffp-contract=off: a product added apart stays two roundings. Each output lane is one
// chain in column order (linear_maps.h's rule), as the reference computes it; four vectors' chains run interleaved
// (each fma waits only on the one before it in its chain). Rows that are not a multiple of the vector run through the
// same fmas one element at a time.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/linear_maps_simd.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
// foreach_target.h re-includes this file once per target.
#include <hwy/highway.h>

#include "kernels/hwy_fma-inl.h"  // Fma: one rounding on every target

#include <cmath>

#include "kernels/linear_maps.h"

HWY_BEFORE_NAMESPACE();
namespace cembed::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

struct Vector {
  const float* at;    // its map, transposed
  const float* x;     // its input
  const float* bias;  // null: none
  float* y;
};

HWY_INLINE Vector vector_of(const MapBatch& b, int64_t k) {
  const int64_t m = b.map_of == nullptr ? 0 : b.map_of[k];
  return {b.maps_t + m * b.rows * b.cols, b.x + b.x_row[k] * b.cols,
          b.bias == nullptr ? nullptr : b.bias + m * b.bias_stride, b.y + k * b.y_stride};
}

// Rows [r, r + lanes) of N vectors.
template <int N, class D>
HWY_INLINE void chunk(D d, const Vector* v, int64_t r, int64_t rows, int64_t cols) {
  using V = hn::Vec<D>;
  V acc[N];
  for (int n = 0; n < N; ++n) acc[n] = v[n].bias == nullptr ? hn::Zero(d) : hn::LoadU(d, v[n].bias + r);
  const int64_t unfused = unfused_terms(cols);
  for (int64_t j = 0; j < unfused; ++j) {  // this file is built -ffp-contract=off: two roundings
    for (int n = 0; n < N; ++n) {
      acc[n] = hn::Add(acc[n], hn::Mul(hn::LoadU(d, v[n].at + j * rows + r), hn::Set(d, v[n].x[j])));
    }
  }
  for (int64_t j = unfused; j < cols; ++j) {
    for (int n = 0; n < N; ++n) acc[n] = Fma(d, hn::LoadU(d, v[n].at + j * rows + r), hn::Set(d, v[n].x[j]), acc[n]);
  }
  for (int n = 0; n < N; ++n) hn::StoreU(acc[n], d, v[n].y + r);
}

// The same fmas one element at a time (rows past the last whole vector).
HWY_INLINE void scalar_rows(const Vector& v, int64_t begin, int64_t rows, int64_t cols) {
  const int64_t unfused = unfused_terms(cols);
  for (int64_t i = begin; i < rows; ++i) {
    float acc = v.bias == nullptr ? 0.0f : v.bias[i];
    for (int64_t j = 0; j < unfused; ++j) acc = acc + v.at[j * rows + i] * v.x[j];
    for (int64_t j = unfused; j < cols; ++j) acc = std::fma(v.at[j * rows + i], v.x[j], acc);
    v.y[i] = acc;
  }
}

template <class D>
void run(D d, const MapBatch& b) {
  constexpr int kInterleave = 4;
  constexpr int64_t kAhead = 8;  // inputs prefetched this many vectors ahead
  const auto lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t whole = b.rows - b.rows % lanes;
  int64_t k = 0;
  for (; k + kInterleave <= b.count; k += kInterleave) {
    Vector v[kInterleave];
    for (int n = 0; n < kInterleave; ++n) {
      if (k + n + kAhead < b.count) __builtin_prefetch(b.x + b.x_row[k + n + kAhead] * b.cols);
      v[n] = vector_of(b, k + n);
    }
    for (int64_t r = 0; r < whole; r += lanes) chunk<kInterleave>(d, v, r, b.rows, b.cols);
    for (int n = 0; n < kInterleave; ++n) scalar_rows(v[n], whole, b.rows, b.cols);
  }
  for (; k < b.count; ++k) {
    const Vector v = vector_of(b, k);
    for (int64_t r = 0; r < whole; r += lanes) chunk<1>(d, &v, r, b.rows, b.cols);
    scalar_rows(v, whole, b.rows, b.cols);
  }
}

void ApplyMaps(const MapBatch& b) {
  // The widest vector that divides rows (16 lanes on AVX-512 for dim 16), else 8 or 4 lanes
  // with a scalar tail.
  const hn::ScalableTag<float> full;
  const hn::CappedTag<float, 8> eight;
  const hn::CappedTag<float, 4> four;
  if (b.rows % static_cast<int64_t>(hn::Lanes(full)) == 0) return run(full, b);
  if (b.rows >= static_cast<int64_t>(hn::Lanes(eight))) return run(eight, b);
  run(four, b);
}

}  // namespace cembed::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace cembed::kernels {

HWY_EXPORT(ApplyMaps);

void apply_maps(const MapBatch& batch) { HWY_DYNAMIC_DISPATCH(ApplyMaps)(batch); }

void map_vector(const float* a, const float* x, const float* bias, int64_t rows, int64_t cols, float* y) {
  const int64_t unfused = unfused_terms(cols);
  for (int64_t i = 0; i < rows; ++i) {
    float acc = bias == nullptr ? 0.0f : bias[i];
    for (int64_t j = 0; j < unfused; ++j) acc = acc + a[i * cols + j] * x[j];
    for (int64_t j = unfused; j < cols; ++j) acc = std::fma(a[i * cols + j], x[j], acc);
    y[i] = acc;
  }
}

}  // namespace cembed::kernels
#endif
