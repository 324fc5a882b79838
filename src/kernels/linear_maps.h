// Affine maps applied to a batch of vectors (path's per-class maps, md's projection):
//
//   y_k = A_{m_k} x_k + b_{m_k}   for k in [0, count), element i summed in column order from
//   b_i (0 without bias): the first 4 * floor(cols / 4) terms as acc = acc + round(A_ij x_j),
//   the last cols % 4 terms as acc = fma(A_ij, x_j, acc).
//
// That odd rule is what g++ 12 made of the original loop (acc += a * x, -O3 -march=x86-64-v3):
// it vectorized the products 8 and 4 at a time, adding them in order, and fused only the
// scalar remainder; the published path and md results have those bits, so the rule is now
// written out (map_vector, the scalar reference, in a file built with -ffp-contract=off) and
// holds on every CPU and compiler. The maps are given transposed (cols x rows), so that a
// column of A is a vector of the outputs. linear_maps_simd.cpp computes it with Highway,
// dispatched at run time, several vectors' chains interleaved.
#pragma once

#include <cstdint>

namespace cembed::kernels {

struct MapBatch {
  int64_t count = 0, rows = 0, cols = 0;
  const float* maps_t = nullptr;    // map m, transposed: cols x rows floats at maps_t + m * rows * cols
  const int64_t* map_of = nullptr;  // vector k's map; null: map 0 for every vector
  const float* bias = nullptr;      // map m's bias, rows floats at bias + m * bias_stride; null: none
  int64_t bias_stride = 0;
  const float* x = nullptr;  // vector k's input: cols floats at x + x_row[k] * cols
  const int64_t* x_row = nullptr;
  float* y = nullptr;  // vector k's output: rows floats at y + k * y_stride
  int64_t y_stride = 0;
};

void apply_maps(const MapBatch& batch);
// at (cols x rows) = the transpose of a (rows x cols), row-major both, not overlapping: the
// maps as apply_maps takes them (and k-means' centroids as nearest_centroids does).
void transpose(const float* a, int64_t rows, int64_t cols, float* at);

// One vector, A row-major (rows x cols): the reference (embedding/linear_map.h's linear_map).
void map_vector(const float* a, const float* x, const float* bias, int64_t rows, int64_t cols, float* y);

// Terms [0, unfused_terms(cols)) are multiplied and added apart, the rest fused.
inline int64_t unfused_terms(int64_t cols) { return cols - cols % 4; }

}  // namespace cembed::kernels
