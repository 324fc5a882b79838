// MLP and dot interaction: analytic gradients against finite differences.
#include <gtest/gtest.h>

#include "cembed/dot_interaction.h"
#include "cembed/mlp.h"
#include "test_helpers.h"

namespace cembed {
namespace {

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
