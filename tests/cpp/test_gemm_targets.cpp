// cembed's GEMM (kernels/gemm_block.h) on every Highway target compiled in and supported by
// this CPU, against the rule computed one element at a time: the same bits on every shape
// around the tile and block sizes, every transpose, alpha and beta. This is what makes the
// dense layers' bits independent of the CPU (AVX2 or AVX-512).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "kernels/dense_kernels.h"
#include "kernels/gemm_block.h"
#include "test_helpers.h"

namespace cembed {
namespace {

using testing::expect_same_bits;

struct Shape {
  int64_t m, n, k;
};

// Small and edge shapes, ones past the blocks of k (512), rows (96) and columns (512), ones
// exactly on them, and whole AVX-512 tiles (12 x 32) taken up again after a block of k, past
// a block of columns too.
const Shape kShapes[] = {{1, 1, 1},      {1, 1, 0},      {3, 5, 7},     {6, 16, 16},    {12, 32, 9},   {13, 33, 2},
                         {17, 1, 300},   {1, 70, 1030},  {97, 31, 513}, {40, 530, 260}, {200, 48, 64}, {25, 600, 3},
                         {100, 64, 600}, {13, 530, 520}, {96, 32, 512}, {12, 512, 512}};

void check_shape(const Shape& s, bool ta, bool tb, float alpha, float beta, const std::string& target) {
  Rng rng(s.m * 1000003 + s.n * 1009 + s.k * 7 + ta * 2 + tb);
  const int64_t lda = ta ? s.m + 3 : s.k + 1, ldb = tb ? s.k + 2 : s.n + 5, ldc = s.n + 4;
  const auto a = testing::random_vector(rng, static_cast<size_t>((ta ? s.k : s.m) * lda));
  const auto b = testing::random_vector(rng, static_cast<size_t>((tb ? s.n : s.k) * ldb));
  const auto c0 = testing::random_vector(rng, static_cast<size_t>(s.m * ldc));
  auto want = c0, got = c0;
  kernels::gemm_block_reference(ta, tb, s.m, s.n, s.k, alpha, a.data(), lda, b.data(), ldb, beta, want.data(), ldc);
  kernels::gemm_block(ta, tb, s.m, s.n, s.k, alpha, a.data(), lda, b.data(), ldb, beta, got.data(), ldc);
  expect_same_bits(got, want,
                   "target " + target + ", m=" + std::to_string(s.m) + " n=" + std::to_string(s.n) + " k=" +
                       std::to_string(s.k) + " trans_a=" + std::to_string(ta) + " trans_b=" + std::to_string(tb) +
                       " alpha=" + std::to_string(alpha) + " beta=" + std::to_string(beta));
}

TEST(GemmTargets, EveryTargetMatchesTheRuleBitForBit) {
  testing::for_each_simd_target([&](const std::string& target) {
    for (const Shape& s : kShapes) {
      for (bool ta : {false, true}) {
        for (bool tb : {false, true}) {
          check_shape(s, ta, tb, 1.0f, 0.0f, target);
          check_shape(s, ta, tb, 0.5f, 0.25f, target);
          check_shape(s, ta, tb, -2.0f, 0.0f, target);
        }
      }
    }
  });
}

// Each element is one chain of fmas in k's order, across a block boundary of k (512) too.
// The chain ends at 0 for both patterns below, each losing its 1 (1e8 + 1 rounds to 1e8):
// 1e8, 1, -1e8 tells the chain from sums in interleaved accumulators or in double (1);
// 1, 1e8, -1e8 across the boundary (p = 511) tells it from a sum per block of k added at the
// end, and from the reversed order (1).
TEST(GemmTargets, EachElementIsOneChainInTheOrderOfK) {
  testing::for_each_simd_target([&](const std::string& target) {
    const std::vector<float> big_one = {1e8f, 1.0f, -1e8f}, one_big = {1.0f, 1e8f, -1e8f};
    const std::pair<int64_t, const std::vector<float>*> cases[] = {{0, &big_one},   {510, &big_one}, {511, &big_one},
                                                                   {580, &big_one}, {511, &one_big}, {510, &one_big}};
    for (const auto& [p, pattern] : cases) {
      const int64_t m = 13, n = 35, k = 600;
      std::vector<float> a(m * k, 0.0f), b(k * n, 1.0f), c(m * n, std::numeric_limits<float>::quiet_NaN());
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t q = 0; q < 3; ++q) a[i * k + p + q] = (*pattern)[q];
      }
      // beta == 0: C is not read (its NaNs do not come through).
      kernels::gemm_block(false, false, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, c.data(), n);
      for (int64_t e = 0; e < m * n; ++e) {
        ASSERT_EQ(c[e], 0.0f) << "target " << target << ", ones at p=" << p << ": C[" << e / n << "," << e % n
                              << "] = " << c[e] << " where the chain in k's order gives 0";
      }
    }
  });
}

// kernels::gemm (blocks on threads: of rows when m >= n, else of columns) gives gemm_block's
// bits for the whole product.
TEST(GemmTargets, ThreadedBlocksGiveTheRulesBits) {
  Rng rng(5);
  for (const auto& [m, n] : {std::pair<int64_t, int64_t>{300, 70}, std::pair<int64_t, int64_t>{70, 300}}) {
    const int64_t k = 600;
    const auto a = testing::random_vector(rng, m * k), b = testing::random_vector(rng, n * k);
    std::vector<float> want(m * n), got(m * n);
    kernels::gemm_block_reference(false, true, m, n, k, 1.0f, a.data(), k, b.data(), k, 0.0f, want.data(), n);
    for (int threads : {1, 2, 3}) {
      kernels::set_num_threads(threads);
      kernels::gemm(false, true, m, n, k, 1.0f, a.data(), k, b.data(), k, 0.0f, got.data(), n);
      expect_same_bits(got, want,
                       std::to_string(m) + " x " + std::to_string(n) + ", " + std::to_string(threads) + " threads");
    }
  }
  kernels::set_num_threads(1);
}

}  // namespace
}  // namespace cembed
