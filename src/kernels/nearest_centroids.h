// The nearest of k centroids to each point of a batch (k-means' assignment step,
// embedding/kmeans.cpp, which cce's reclustering runs over every value of a feature):
//
//   d(p, c) = fma(t_{w-1}, t_{w-1}, ... fma(t_1, t_1, fma(t_0, t_0, 0))),  t_j = p_j - c_j
//
// summed in coordinate order, one rounding per term; the nearest is the lowest index of
// the least d (a NaN distance is never nearest; index 0 when no distance is below infinity).
// nearest_centroid is the scalar reference; nearest_centroids computes the same indices with
// Highway, 4 points against a vector of centroids at a time, compiled for every x86-64
// target and dispatched at run time (tested per target against the reference).
#pragma once

#include <cstdint>

namespace cembed::kernels {

struct CentroidBatch {
  int64_t count = 0, width = 0, k = 0;
  const float* points = nullptr;  // point i: width floats at points + (which ? which[i] : i) * width
  const int64_t* which = nullptr;
  const float* centroids_t =
      nullptr;              // transposed (kernels::transpose): coordinate j of centroid c at centroids_t[j * k + c]
  uint32_t* out = nullptr;  // count indices
};

void nearest_centroids(const CentroidBatch& batch);

// One point against k centroids given row-major (k x width): the reference.
uint32_t nearest_centroid(const float* point, const float* centroids, int64_t k, int64_t width);

}  // namespace cembed::kernels
