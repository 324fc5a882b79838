// The nearest-centroid search of k-means (kernels/nearest_centroids.h) on every Highway
// target compiled in and supported by this CPU, against the scalar reference: the same
// index for every point, with widths and centroid counts that fill whole vectors and leave
// tails, duplicated centroids (ties), and points whose distances overflow or are NaN. The
// reference itself is checked against distances in double precision.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "kernels/linear_maps.h"
#include "kernels/nearest_centroids.h"
#include "test_helpers.h"

namespace cembed {
namespace {

struct Case {
  std::vector<float> points, centroids;
  int64_t count = 0, k = 0, width = 0;
};

// Points near random centroids, some centroids repeated (ties), a few points huge or NaN.
Case make_case(int64_t count, int64_t k, int64_t width, uint64_t seed) {
  Rng rng(seed);
  Case c{{}, testing::random_vector(rng, static_cast<size_t>(k * width)), count, k, width};
  for (int64_t r = 1; r < k; r += 7) {
    std::copy_n(c.centroids.begin() + (r / 2) * width, width, c.centroids.begin() + r * width);
  }
  c.points = testing::random_vector(rng, static_cast<size_t>(count * width), 1.5f);
  for (int64_t i = 0; i < count; i += 13) c.points[i * width] = 3e19f;  // its distances overflow to infinity
  for (int64_t i = 5; i < count; i += 29) c.points[i * width + width - 1] = std::numeric_limits<float>::quiet_NaN();
  for (int64_t i = 2; i < count; i += 11) {  // exactly on a centroid, maybe a repeated one
    const int64_t at = static_cast<int64_t>(rng.below(static_cast<uint64_t>(k)));
    std::copy_n(c.centroids.begin() + at * width, width, c.points.begin() + i * width);
  }
  return c;
}

std::vector<uint32_t> reference(const Case& c) {
  std::vector<uint32_t> r(c.count);
  for (int64_t i = 0; i < c.count; ++i) {
    r[i] = kernels::nearest_centroid(c.points.data() + i * c.width, c.centroids.data(), c.k, c.width);
  }
  return r;
}

std::vector<uint32_t> simd(const Case& c, const std::vector<int64_t>* which = nullptr) {
  std::vector<float> t(c.centroids.size());
  kernels::transpose(c.centroids.data(), c.k, c.width, t.data());
  const int64_t count = which == nullptr ? c.count : static_cast<int64_t>(which->size());
  std::vector<uint32_t> out(count, 12345);
  kernels::nearest_centroids(
      {count, c.width, c.k, c.points.data(), which == nullptr ? nullptr : which->data(), t.data(), out.data()});
  return out;
}

TEST(NearestCentroids, EveryTargetGivesTheReferenceIndex) {
  testing::for_each_simd_target([&](const std::string& name) {
    for (int64_t width : {1, 3, 8, 16, 17}) {
      for (int64_t k : {1, 5, 8, 16, 17, 40, 333}) {
        for (int64_t count : {1, 3, 4, 7, 61}) {
          const Case c = make_case(count, k, width, static_cast<uint64_t>(width * 1000 + k * 10 + count));
          const std::vector<uint32_t> want = reference(c), got = simd(c);
          for (int64_t i = 0; i < count; ++i) {
            ASSERT_EQ(got[i], want[i]) << "target " << name << ", width " << width << ", k " << k << ", point " << i
                                       << " of " << count;
          }
        }
      }
    }
    // Points picked by index (k-means' sample), in any order.
    const Case c = make_case(50, 40, 8, 77);
    const std::vector<int64_t> which = {49, 0, 3, 3, 17, 42, 8};
    const std::vector<uint32_t> want = reference(c), got = simd(c, &which);
    for (size_t i = 0; i < which.size(); ++i) EXPECT_EQ(got[i], want[which[i]]) << "target " << name << ", pick " << i;
  });
}

// The reference's index is a nearest centroid in exact arithmetic up to float rounding,
// the first of equal ones; overflowing and NaN distances give index 0.
TEST(NearestCentroids, TheReferenceIsTheFirstNearestUpToRounding) {
  const Case c = make_case(200, 40, 8, 5);
  const std::vector<uint32_t> got = reference(c);
  for (int64_t i = 0; i < c.count; ++i) {
    const float* p = c.points.data() + i * c.width;
    std::vector<double> d(c.k);
    bool nan = false;
    for (int64_t m = 0; m < c.k; ++m) {
      for (int64_t j = 0; j < c.width; ++j) {
        const double t = static_cast<double>(p[j]) - c.centroids[m * c.width + j];
        d[m] += t * t;
      }
      nan = nan || std::isnan(d[m]);
    }
    if (nan || d[0] > std::numeric_limits<float>::max()) {
      EXPECT_EQ(got[i], 0u) << "point " << i << " (NaN or overflowing distances)";
      continue;
    }
    const double least = *std::min_element(d.begin(), d.end());
    EXPECT_LE(d[got[i]], least * (1 + 1e-5) + 1e-30)
        << "point " << i << ": centroid " << got[i] << " at " << d[got[i]] << ", nearest at " << least;
    if (least == 0) {
      EXPECT_EQ(got[i], static_cast<uint32_t>(std::find(d.begin(), d.end(), 0.0) - d.begin()))
          << "point " << i << " lies on a centroid: the first copy is nearest";
    }
  }
}

}  // namespace
}  // namespace cembed
