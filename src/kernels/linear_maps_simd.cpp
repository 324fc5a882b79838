// apply_maps and transpose (linear_maps.h) in Highway, compiled for every x86-64 target above
// the build's baseline and dispatched at run time, and apply_maps' scalar reference map_vector. Built with
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

#include <algorithm>
#include <cmath>
#include <vector>

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

// Rows [r, r + lanes) of N vectors of one map: each column of the map is loaded once for all
// N (chunk loads it once per vector). The same operations in the same order, so the same bits.
template <int N, class D>
HWY_INLINE void chunk_one_map(D d, const Vector* v, int64_t r, int64_t rows, int64_t cols) {
  using V = hn::Vec<D>;
  const float* at = v[0].at;
  V acc[N];
  for (int n = 0; n < N; ++n) acc[n] = v[n].bias == nullptr ? hn::Zero(d) : hn::LoadU(d, v[n].bias + r);
  const int64_t unfused = unfused_terms(cols);
  for (int64_t j = 0; j < unfused; ++j) {
    const V column = hn::LoadU(d, at + j * rows + r);
    for (int n = 0; n < N; ++n) acc[n] = hn::Add(acc[n], hn::Mul(column, hn::Set(d, v[n].x[j])));
  }
  for (int64_t j = unfused; j < cols; ++j) {
    const V column = hn::LoadU(d, at + j * rows + r);
    for (int n = 0; n < N; ++n) acc[n] = Fma(d, column, hn::Set(d, v[n].x[j]), acc[n]);
  }
  for (int n = 0; n < N; ++n) hn::StoreU(acc[n], d, v[n].y + r);
}

// The vectors in groups of kInterleave, each group's chains interleaved. With several maps
// the vectors are first ordered by map (a stable counting sort; the outputs keep their
// places), so that most groups have one map and share its column loads (chunk_one_map). At
// dim 64 a map is 16 KiB, and vectors of different maps had each loaded their own from L2.
template <class D>
void run(D d, const MapBatch& b) {
  constexpr int kInterleave = 4;
  constexpr int64_t kAhead = 8;  // inputs prefetched this many vectors ahead
  const auto lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t whole = b.rows - b.rows % lanes;
  thread_local std::vector<int64_t> order, starts;
  const int64_t* by_map = nullptr;  // null: in order, every vector of map 0
  if (b.map_of != nullptr) {
    int64_t maps = 0;
    for (int64_t k = 0; k < b.count; ++k) maps = std::max(maps, b.map_of[k] + 1);
    starts.assign(maps + 1, 0);
    for (int64_t k = 0; k < b.count; ++k) ++starts[b.map_of[k] + 1];
    for (int64_t m = 0; m < maps; ++m) starts[m + 1] += starts[m];
    order.resize(b.count);
    for (int64_t k = 0; k < b.count; ++k) order[starts[b.map_of[k]]++] = k;
    by_map = order.data();
  }
  const auto vector_at = [&](int64_t i) { return by_map == nullptr ? i : by_map[i]; };
  const auto map_at = [&](int64_t i) { return by_map == nullptr ? 0 : b.map_of[by_map[i]]; };
  int64_t i = 0;
  for (; i + kInterleave <= b.count; i += kInterleave) {
    Vector v[kInterleave];
    for (int n = 0; n < kInterleave; ++n) {
      if (i + n + kAhead < b.count) __builtin_prefetch(b.x + b.x_row[vector_at(i + n + kAhead)] * b.cols);
      v[n] = vector_of(b, vector_at(i + n));
    }
    const bool one_map = map_at(i) == map_at(i + kInterleave - 1);  // ordered by map: all between are too
    for (int64_t r = 0; r < whole; r += lanes) {
      if (one_map) {
        chunk_one_map<kInterleave>(d, v, r, b.rows, b.cols);
      } else {
        chunk<kInterleave>(d, v, r, b.rows, b.cols);
      }
    }
    for (int n = 0; n < kInterleave; ++n) scalar_rows(v[n], whole, b.rows, b.cols);
  }
  for (; i < b.count; ++i) {
    const Vector v = vector_of(b, vector_at(i));
    for (int64_t r = 0; r < whole; r += lanes) chunk<1>(d, &v, r, b.rows, b.cols);
    scalar_rows(v, whole, b.rows, b.cols);
  }
}

// at = a transposed, 4 x 4 blocks at a time (each a transpose of four 4-lane rows in eight
// shuffles), the edges past the last whole block one float at a time. Copies only: the same
// bits on every target.
void Transpose(const float* a, int64_t rows, int64_t cols, float* at) {
  const hn::FixedTag<float, 4> d;
  const int64_t rows4 = rows - rows % 4, cols4 = cols - cols % 4;
  for (int64_t i = 0; i < rows4; i += 4) {
    for (int64_t j = 0; j < cols4; j += 4) {
      const auto r0 = hn::LoadU(d, a + i * cols + j), r1 = hn::LoadU(d, a + (i + 1) * cols + j);
      const auto r2 = hn::LoadU(d, a + (i + 2) * cols + j), r3 = hn::LoadU(d, a + (i + 3) * cols + j);
      const auto t0 = hn::InterleaveLower(d, r0, r1), t1 = hn::InterleaveLower(d, r2, r3);  // columns 0, 1
      const auto t2 = hn::InterleaveUpper(d, r0, r1), t3 = hn::InterleaveUpper(d, r2, r3);  // columns 2, 3
      hn::StoreU(hn::ConcatLowerLower(d, t1, t0), d, at + j * rows + i);
      hn::StoreU(hn::ConcatUpperUpper(d, t1, t0), d, at + (j + 1) * rows + i);
      hn::StoreU(hn::ConcatLowerLower(d, t3, t2), d, at + (j + 2) * rows + i);
      hn::StoreU(hn::ConcatUpperUpper(d, t3, t2), d, at + (j + 3) * rows + i);
    }
    for (int64_t ii = i; ii < i + 4; ++ii) {
      for (int64_t j = cols4; j < cols; ++j) at[j * rows + ii] = a[ii * cols + j];
    }
  }
  for (int64_t i = rows4; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) at[j * rows + i] = a[i * cols + j];
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
HWY_EXPORT(Transpose);

void apply_maps(const MapBatch& batch) { HWY_DYNAMIC_DISPATCH(ApplyMaps)(batch); }

void transpose(const float* a, int64_t rows, int64_t cols, float* at) {
  HWY_DYNAMIC_DISPATCH(Transpose)(a, rows, cols, at);
}

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
