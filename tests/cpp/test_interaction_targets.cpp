// The dot interaction's kernels (kernels/interaction_kernels.h) on every Highway target
// compiled in and supported by this CPU, against their rule computed one element at a time:
// the same bits, for vector counts and dims that fill whole vectors and ones that leave a tail.
#include <gtest/gtest.h>

#include "kernels/interaction_kernels.h"
#include "test_helpers.h"

namespace cembed {
namespace {

using testing::expect_same_bits;

TEST(InteractionTargets, EveryTargetMatchesTheRuleBitForBit) {
  testing::for_each_simd_target([&](const std::string& target) {
    for (int64_t v : {1, 2, 3, 9, 27, 40, 70}) {
      for (int64_t dim : {1, 3, 8, 16, 17, 24, 32, 40}) {
        Rng rng(v * 100 + dim);
        const int64_t num_pairs = v * (v - 1) / 2;
        const auto t = testing::random_vector(rng, static_cast<size_t>(v * dim));
        const auto dr = testing::random_vector(rng, static_cast<size_t>(dim + num_pairs));
        std::vector<float> want(num_pairs), got(num_pairs, -1.0f);
        kernels::dot_pairs_reference(t.data(), v, dim, want.data());
        kernels::dot_pairs(t.data(), v, dim, got.data());
        const std::string what = "target " + target + ", v=" + std::to_string(v) + " dim=" + std::to_string(dim);
        expect_same_bits(got, want, what + ", pairs");
        std::vector<float> dt_want(v * dim), dt_got(v * dim, -1.0f);
        kernels::pair_grads_reference(t.data(), dr.data(), v, dim, dt_want.data());
        kernels::pair_grads(t.data(), dr.data(), v, dim, dt_got.data());
        expect_same_bits(dt_got, dt_want, what + ", gradient");
      }
    }
  });
}

}  // namespace
}  // namespace cembed
