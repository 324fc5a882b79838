// gemm_bf16 (kernels/gemm_bf16.h): the bfloat16 rounding, both paths against a double
// reference on the rounded inputs, and the bits whatever the thread count.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>

#include "cembed/errors.h"

#include "kernels/dense_kernels.h"
#include "kernels/gemm_bf16.h"
#include "test_helpers.h"

namespace cembed {
namespace {

using kernels::Bf16Path;
using kernels::round_to_bf16;

TEST(Bf16, RoundsToNearestEven) {
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even significand (1).
  EXPECT_EQ(round_to_bf16(1.0f + 0x1p-8f), 1.0f);
  // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: to 1 + 2^-6 (even).
  EXPECT_EQ(round_to_bf16(1.0f + 3 * 0x1p-8f), 1.0f + 0x1p-6f);
  // Just above a tie rounds up, just below rounds down.
  EXPECT_EQ(round_to_bf16(1.0f + 0x1p-8f + 0x1p-20f), 1.0f + 0x1p-7f);
  EXPECT_EQ(round_to_bf16(1.0f + 0x1p-8f - 0x1p-20f), 1.0f);
  EXPECT_EQ(round_to_bf16(-3.0f), -3.0f);
  EXPECT_EQ(std::bit_cast<uint32_t>(round_to_bf16(-0.0f)), 0x80000000u);
  // The largest float rounds up to infinity (bf16's largest finite value is 0x7f7f << 16).
  EXPECT_EQ(round_to_bf16(std::numeric_limits<float>::max()), std::numeric_limits<float>::infinity());
  EXPECT_EQ(round_to_bf16(std::numeric_limits<float>::infinity()), std::numeric_limits<float>::infinity());
  // A NaN whose payload sits only in the low bits stays a NaN (plain rounding would make it inf).
  EXPECT_TRUE(std::isnan(round_to_bf16(std::bit_cast<float>(0x7f800001u))));
  EXPECT_TRUE(std::isnan(round_to_bf16(std::bit_cast<float>(0xffffffffu))));
  // Every result has 8 significant bits, and lies within half a unit of them of the input.
  Rng rng(3);
  for (int i = 0; i < 10000; ++i) {
    const float x = static_cast<float>(rng.normal() * 100.0);
    const float r = round_to_bf16(x);
    EXPECT_EQ(std::bit_cast<uint32_t>(r) & 0xffffu, 0u) << x;
    EXPECT_LE(std::abs(double{r} - x), std::abs(double{x}) * 0x1p-8) << x;
  }
}

// The paths this CPU can run: Rounded everywhere, Onednn where it has bf16 instructions.
std::vector<Bf16Path> runnable_paths() {
  std::vector<Bf16Path> paths{Bf16Path::Rounded};
  if (kernels::bf16_path() == Bf16Path::Onednn) paths.push_back(Bf16Path::Onednn);
  return paths;
}

// Against a double reference on the rounded inputs: the products are exact in fp32, so the
// only error is fp32 summation, bounded by k ulps of the sum of |products| (with margin).
TEST(GemmBf16, MatchesTheRoundedReferenceOnEveryPathAndGivesTheSameBitsWhateverTheThreadCount) {
  SCOPED_TRACE(kernels::bf16_path_name());
  Rng rng(12);
  struct Shape {
    int64_t m, n, k;
  };
  const Shape shapes[] = {{1, 1, 1},      {3, 5, 7},      {17, 200, 33},   {2048, 64, 13}, {128, 512, 13},
                          {512, 13, 128}, {64, 367, 512}, {200, 40, 1500}, {129, 1, 300},  {40, 40, 0}};
  for (Bf16Path path : runnable_paths()) {
    const std::string path_name = path == Bf16Path::Onednn ? "onednn" : "rounded";
    for (const auto& [m, n, k] : shapes) {
      for (bool ta : {false, true}) {
        for (bool tb : {false, true}) {
          for (float beta : {0.0f, 0.25f}) {
            const int64_t lda = ta ? m + 3 : k + 1, ldb = tb ? k + 2 : n + 5, ldc = n + 4;
            const auto a = testing::random_vector(rng, static_cast<size_t>((ta ? k : m) * lda));
            const auto b = testing::random_vector(rng, static_cast<size_t>((tb ? n : k) * ldb));
            auto c0 = testing::random_vector(rng, static_cast<size_t>(m * ldc));
            // beta 0: C is not read (a NaN there must not show).
            if (beta == 0.0f) c0[0] = std::numeric_limits<float>::quiet_NaN();
            auto run = [&](int threads) {
              kernels::set_num_threads(threads);
              auto c = c0;
              kernels::gemm_bf16_on(path, ta, tb, m, n, k, 0.5f, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
              return c;
            };
            const auto one = run(1);
            const std::string where = path_name + " m=" + std::to_string(m) + " n=" + std::to_string(n) +
                                      " k=" + std::to_string(k) + " trans_a=" + std::to_string(ta) +
                                      " trans_b=" + std::to_string(tb) + " beta=" + std::to_string(beta);
            for (int64_t i = 0; i < m; ++i) {
              for (int64_t j = 0; j < n; ++j) {
                double ref = beta * double{c0[i * ldc + j]}, magnitude = std::abs(ref);
                if (beta == 0.0f) ref = magnitude = 0.0;
                for (int64_t p = 0; p < k; ++p) {
                  const double x = round_to_bf16(a[ta ? p * lda + i : i * lda + p]);
                  const double y = round_to_bf16(b[tb ? j * ldb + p : p * ldb + j]);
                  ref += 0.5 * x * y;
                  magnitude += std::abs(0.5 * x * y);
                }
                const double bound = (static_cast<double>(k) + 4) * 0x1p-23 * magnitude + 1e-30;
                ASSERT_LE(std::abs(one[i * ldc + j] - ref), bound)
                    << where << " C[" << i << "," << j << "] = " << one[i * ldc + j] << ", reference " << ref;
              }
              // Padding between rows of C is not written.
              for (int64_t j = n; j < ldc; ++j) ASSERT_EQ(one[i * ldc + j], c0[i * ldc + j]) << where;
            }
            const auto two = run(2);
            EXPECT_EQ(testing::describe_difference({{"C", one}}, {{"C", two}}), "") << where << ", 2 threads";
          }
        }
      }
    }
  }
  kernels::set_num_threads(1);
}

// The rounding is what makes it bf16: inputs that need more than 8 bits give a product other
// than fp32's, and inputs that fit in 8 bits give fp32's product exactly (small integers).
TEST(GemmBf16, RoundsItsInputsAndOnlyThem) {
  for (Bf16Path path : runnable_paths()) {
    const float a[2] = {1.0f + 0x1p-10f, 3.0f}, b[2] = {1.0f, 5.0f};
    float c = 0.0f;
    kernels::gemm_bf16_on(path, false, false, 1, 1, 2, 1.0f, a, 2, b, 1, 0.0f, &c, 1);
    EXPECT_EQ(c, 16.0f) << "1 + 2^-10 rounds to 1 in bf16: 1 * 1 + 3 * 5";
    const float ints[3] = {7.0f, -12.0f, 100.0f}, w[3] = {3.0f, 2.0f, -1.0f};
    kernels::gemm_bf16_on(path, false, false, 1, 1, 3, 1.0f, ints, 3, w, 1, 0.0f, &c, 1);
    EXPECT_EQ(c, 21.0f - 24.0f - 100.0f);
  }
}

TEST(GemmBf16, TheDefaultPathIsTheCpusAndNamesIt) {
  const std::string name = kernels::bf16_path_name();
  if (kernels::bf16_path() == Bf16Path::Onednn) {
    EXPECT_NE(name.find("oneDNN bf16 matmul"), std::string::npos) << name;
  } else {
    EXPECT_NE(name.find("through cembed's fp32 GEMM"), std::string::npos) << name;
    EXPECT_THROW(
        kernels::gemm_bf16_on(Bf16Path::Onednn, false, false, 1, 1, 1, 1.0f, nullptr, 1, nullptr, 1, 0.0f, nullptr, 1),
        Error);
  }
}

}  // namespace
}  // namespace cembed
