#include "embedding/kmeans.h"

#include <algorithm>
#include <numeric>

#include "kernels/linear_maps.h"
#include "kernels/nearest_centroids.h"
#include "util/check.h"
#include "util/random.h"

namespace cembed {
namespace {

void assign_all(std::span<const float> points, std::span<const int64_t> which, int64_t width,
                const std::vector<float>& centroids, int64_t k, std::vector<uint32_t>& out) {
  out.resize(which.size());
  std::vector<float> centroids_t(centroids.size());
  kernels::transpose(centroids.data(), k, width, centroids_t.data());
  const auto count = static_cast<int64_t>(which.size());
  constexpr int64_t kBlock = 64;  // points per kernel call
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < count; i += kBlock) {
    kernels::nearest_centroids(
        {std::min(kBlock, count - i), width, k, points.data(), which.data() + i, centroids_t.data(), out.data() + i});
  }
}

// Centroids = means of their points (in point order); empty clusters keep theirs.
void update_means(std::span<const float> points, std::span<const int64_t> which, int64_t width,
                  const std::vector<uint32_t>& assignment, int64_t k, std::vector<float>& centroids) {
  std::vector<double> sums(k * width, 0.0);
  std::vector<int64_t> sizes(k, 0);
  for (size_t i = 0; i < which.size(); ++i) {
    const uint32_t c = assignment[i];
    const float* p = points.data() + which[i] * width;
    for (int64_t j = 0; j < width; ++j) sums[c * width + j] += p[j];
    ++sizes[c];
  }
  for (int64_t c = 0; c < k; ++c) {
    if (sizes[c] == 0) continue;
    for (int64_t j = 0; j < width; ++j) {
      centroids[c * width + j] = static_cast<float>(sums[c * width + j] / static_cast<double>(sizes[c]));
    }
  }
}

}  // namespace

KMeansResult kmeans(std::span<const float> points, int64_t count, int64_t width, int64_t k, uint64_t seed,
                    int iterations, int64_t max_sample) {
  CEMBED_CHECK(count > 0 && width > 0 && k > 0 && static_cast<int64_t>(points.size()) == count * width,
               "k-means of {} points of {} floats into {} clusters ({} floats given)", count, width, k, points.size());
  KMeansResult r;
  r.centroids.assign(k * width, 0.0f);
  if (k >= count) {
    std::copy(points.begin(), points.end(), r.centroids.begin());
    r.assignment.resize(count);
    std::iota(r.assignment.begin(), r.assignment.end(), 0u);
    return r;
  }
  // A seeded shuffle of the points: its first k start the centroids, its first
  // `sample` are the points the iterations fit.
  std::vector<int64_t> order(count);
  std::iota(order.begin(), order.end(), 0);
  Rng rng(seed);
  const int64_t sample = max_sample > 0 ? std::clamp(max_sample, k, count) : count;
  for (int64_t i = 0; i < sample; ++i) {
    std::swap(order[i], order[i + static_cast<int64_t>(rng.below(static_cast<uint64_t>(count - i)))]);
  }
  for (int64_t c = 0; c < k; ++c) {
    std::copy_n(points.data() + order[c] * width, width, r.centroids.data() + c * width);
  }
  const std::span<const int64_t> fitted(order.data(), static_cast<size_t>(sample));
  std::vector<uint32_t> a;
  for (int it = 0; it < iterations; ++it) {
    assign_all(points, fitted, width, r.centroids, k, a);
    update_means(points, fitted, width, a, k, r.centroids);
  }
  std::vector<int64_t> all(count);
  std::iota(all.begin(), all.end(), 0);
  assign_all(points, all, width, r.centroids, k, r.assignment);
  update_means(points, all, width, r.assignment, k, r.centroids);
  return r;
}

}  // namespace cembed
