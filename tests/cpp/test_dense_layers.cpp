// MLP and dot interaction: analytic gradients against finite differences.
#include <gtest/gtest.h>

#include "cembed/dot_interaction.h"
#include "cembed/mlp.h"
#include "kernels/dense_kernels.h"
#include "test_helpers.h"

namespace cembed {
namespace {

// gemm() against a double-precision reference on every transpose and on shapes around its
// block sizes, and bitwise the same result with 1 to 4 threads (its determinism contract;
// that every CPU gives the same bits is test_gemm_targets.cpp's).
TEST(Gemm, MatchesReferenceAndGivesTheSameBitsWhateverTheThreadCount) {
  Rng rng(11);
  struct Shape {
    int64_t m, n, k;
  };
  const Shape shapes[] = {{1, 1, 1},      {3, 5, 7},      {16, 16, 16},   {17, 200, 33},   {2048, 64, 13},
                          {128, 512, 13}, {512, 13, 128}, {64, 367, 512}, {367, 64, 2048}, {129, 1, 300}};
  for (const auto& [m, n, k] : shapes) {
    for (bool ta : {false, true}) {
      for (bool tb : {false, true}) {
        const int64_t lda = ta ? m + 3 : k + 1, ldb = tb ? k + 2 : n + 5, ldc = n + 4;
        const auto a = testing::random_vector(rng, static_cast<size_t>((ta ? k : m) * lda));
        const auto b = testing::random_vector(rng, static_cast<size_t>((tb ? n : k) * ldb));
        const auto c0 = testing::random_vector(rng, static_cast<size_t>(m * ldc));
        auto run = [&](int threads) {
          kernels::set_num_threads(threads);
          auto c = c0;
          kernels::gemm(ta, tb, m, n, k, 0.5f, a.data(), lda, b.data(), ldb, 0.25f, c.data(), ldc);
          return c;
        };
        const auto one = run(1);
        const std::string where = "m=" + std::to_string(m) + " n=" + std::to_string(n) + " k=" + std::to_string(k) +
                                  " trans_a=" + std::to_string(ta) + " trans_b=" + std::to_string(tb);
        for (int64_t i = 0; i < m; ++i) {
          for (int64_t j = 0; j < n; ++j) {
            double ref = 0.25 * c0[i * ldc + j];
            for (int64_t p = 0; p < k; ++p) {
              ref += 0.5 * double{a[ta ? p * lda + i : i * lda + p]} * double{b[tb ? j * ldb + p : p * ldb + j]};
            }
            ASSERT_TRUE(testing::close(one[i * ldc + j], ref, 1e-4, 1e-4 * std::sqrt(double(k))))
                << where << " C[" << i << "," << j << "] = " << one[i * ldc + j] << ", reference " << ref;
          }
          // Padding between rows of C is not written.
          for (int64_t j = n; j < ldc; ++j) ASSERT_EQ(one[i * ldc + j], c0[i * ldc + j]) << where;
        }
        for (int threads : {2, 3, 4}) {
          const auto other = run(threads);
          EXPECT_EQ(testing::describe_difference({{"C", one}}, {{"C", other}}), "")
              << where << ", " << threads << " threads";
        }
      }
    }
  }
  kernels::set_num_threads(1);
}

TEST(Gemm, BlocksCoverTheProduct) {
  for (int threads : {1, 2, 3}) {  // an empty product is no block, and no crash
    const auto t = kernels::gemm_thread_blocks(0, 0, threads);
    EXPECT_LE(t.count, 1);
    std::vector<float> none(1, 7.0f);
    kernels::set_num_threads(threads);
    kernels::gemm(false, false, 0, 0, 3, 1.0f, none.data(), 3, none.data(), 1, 0.0f, none.data(), 1);
    EXPECT_EQ(none[0], 7.0f);
  }
  kernels::set_num_threads(1);
  for (int64_t m : {1, 15, 16, 17, 128, 2048, 100000}) {
    for (int64_t n : {1, 16, 512}) {
      const auto g = kernels::gemm_blocks(m, n);
      const int64_t len = g.split_rows ? m : n;
      EXPECT_EQ(g.split_rows, m >= n);
      EXPECT_LE(g.count, kernels::kGemmMaxBlocks);
      EXPECT_EQ(g.block % kernels::kGemmMinBlock, 0);
      EXPECT_GE(g.block * g.count, len);
      EXPECT_LT(g.block * (g.count - 1), len);
      for (int threads : {1, 2, 3, 8}) {
        const auto t = kernels::gemm_thread_blocks(m, n, threads);
        const int64_t tlen = t.split_rows ? m : n;
        EXPECT_EQ(t.split_rows, m >= n);
        EXPECT_LE(t.count, threads) << m << " x " << n;
        EXPECT_EQ(t.block % (t.split_rows ? kernels::kGemmTileRows : kernels::kGemmTileCols), 0);
        EXPECT_GE(t.block * t.count, tlen);
        EXPECT_LT(t.block * (t.count - 1), tlen);
      }
    }
  }
}

TEST(Mlp, GradientsMatchFiniteDifferences) {
  for (bool relu_last : {false, true}) {
    Mlp mlp({5, 7, 6, 3}, relu_last);
    mlp.init(3);
    Rng rng(4);
    const int64_t batch = 6;
    auto x = testing::random_vector(rng, batch * 5);
    const auto r = testing::random_vector(rng, batch * 3);
    auto loss = [&] {
      const float* y = mlp.forward(x.data(), batch);
      double l = 0;
      for (int64_t i = 0; i < batch * 3; ++i) l += static_cast<double>(y[i]) * r[i];
      return l;
    };
    loss();
    std::vector<float> dx(batch * 5);
    mlp.backward(r.data(), dx.data());
    auto params = mlp.parameters();
    auto grads = mlp.gradients();
    std::vector<std::vector<float>> analytic;
    for (auto g : grads) analytic.emplace_back(g.begin(), g.end());
    for (size_t p = 0; p < params.size(); ++p) {
      for (size_t i = 0; i < params[p].size(); ++i) {
        const double fd = testing::finite_difference(loss, params[p][i], 1e-3);
        ASSERT_TRUE(testing::close(analytic[p][i], fd, 2e-2, 2e-3))
            << "block " << p << " element " << i << ": " << analytic[p][i] << " vs " << fd;
      }
    }
    for (size_t i = 0; i < x.size(); ++i) {
      const double fd = testing::finite_difference(loss, x[i], 1e-3);
      ASSERT_TRUE(testing::close(dx[i], fd, 2e-2, 2e-3)) << "input " << i;
    }
  }
}

TEST(DotInteraction, OutputFollowsDlrmPairOrder) {
  DotInteraction inter(3, 2);
  // T rows: x = (1, 2), e1 = (3, 4), e2 = (5, 6). Pairs: (1,0), (2,0), (2,1).
  const std::vector<float> t = {1, 2, 3, 4, 5, 6};
  std::vector<float> r(inter.output_dim());
  inter.forward(t.data(), 1, r.data());
  EXPECT_EQ(r, (std::vector<float>{1, 2, 11, 17, 39}));
}

TEST(DotInteraction, GradientsMatchFiniteDifferences) {
  DotInteraction inter(5, 3);
  Rng rng(9);
  const int64_t batch = 4;
  auto t = testing::random_vector(rng, batch * 5 * 3);
  const auto g = testing::random_vector(rng, batch * inter.output_dim());
  auto loss = [&] {
    std::vector<float> r(batch * inter.output_dim());
    inter.forward(t.data(), batch, r.data());
    double l = 0;
    for (size_t i = 0; i < r.size(); ++i) l += static_cast<double>(r[i]) * g[i];
    return l;
  };
  std::vector<float> dt(t.size());
  inter.backward(t.data(), g.data(), batch, dt.data());
  for (size_t i = 0; i < t.size(); ++i) {
    const double fd = testing::finite_difference(loss, t[i], 1e-3);
    ASSERT_TRUE(testing::close(dt[i], fd, 1e-2, 1e-3)) << "element " << i << ": " << dt[i] << " vs " << fd;
  }
}

}  // namespace
}  // namespace cembed
