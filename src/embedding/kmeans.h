// k-means of the vectors of a table's values (cce's reclustering): Lloyd's iterations,
// deterministic for a seed whatever the thread count and CPU (points are assigned in
// parallel, each on its own, by kernels/nearest_centroids.h; cluster sums run in point order
// on one thread).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace cembed {

struct KMeansResult {
  std::vector<float> centroids;      // k x width
  std::vector<uint32_t> assignment;  // one cluster per point
};

// Clusters `points` (count x width, row-major) into k clusters. Centroids start at k
// distinct points drawn by `seed` and are fitted by `iterations` Lloyd steps on at most
// `max_sample` points (drawn by `seed`; all when fewer), then every point is assigned to
// its nearest centroid and the centroids become the means of their points. A cluster left
// empty keeps its centroid. With k >= count every point is its own cluster (centroids past
// the points are zero).
KMeansResult kmeans(std::span<const float> points, int64_t count, int64_t width, int64_t k, uint64_t seed,
                    int iterations = 10, int64_t max_sample = 0);

}  // namespace cembed
