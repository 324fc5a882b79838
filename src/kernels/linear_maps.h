// Affine maps applied to a batch of vectors (path's per-class maps, md's projection):
//
//   y_k = A_{m_k} x_k + b_{m_k}   for k in [0, count), where element i is
//   y_k,i = fma(A_i,c-1, x_c-1, ... fma(A_i,1, x_1, fma(A_i,0, x_0, b_i))...)   (b_i = 0 without bias)
//
// one fma per term in the order of the columns: exactly embedding/linear_map.h's linear_map,
// the scalar reference, on every CPU. The maps are given transposed (cols x rows), so that a
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

}  // namespace cembed::kernels
