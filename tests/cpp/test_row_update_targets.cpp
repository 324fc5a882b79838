// The Highway row loops (kernels/row_updates_simd.cpp) on every target compiled in and
// supported by this CPU, against the scalar loops: the same bits, for every optimizer,
// dims that fill whole vectors and dims that leave a tail, fused and not, with repeated
// rows, weights and mean pooling.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>

#include "kernels/row_update_paths.h"
#include "test_helpers.h"

namespace cembed {
namespace {

using testing::expect_same_bits;

// Three steps of each optimizer, fused (coalesce_and_apply) or not (apply_row_updates).
void run_case(int64_t dim, bool fused, bool weighted, Pooling pooling, int max_len, const std::string& target) {
  Rng rng(dim * 101 + fused * 7 + weighted * 3 + max_len);
  const int64_t num_rows = 17, bags = 40;
  for (OptimizerKind kind :
       {OptimizerKind::Sgd, OptimizerKind::Adagrad, OptimizerKind::RowwiseAdagrad, OptimizerKind::Gradient}) {
    const OptimizerConfig opt{kind, 1e-8f, 0.1f};
    auto table = testing::random_vector(rng, num_rows * dim);
    std::vector<float> state(optimizer_state_floats(kind, num_rows, dim), opt.initial_accumulator);
    auto simd_table = table;
    auto simd_state = state;
    kernels::UpdateScratch scratch;
    for (int step = 0; step < 3; ++step) {
      const testing::RowBatch c = testing::random_row_bags(rng, bags, num_rows, max_len, weighted);
      const auto grad = testing::random_vector(rng, bags * dim);
      const ConstMatrixView gv{grad.data(), bags, dim, dim};
      if (fused) {
        kernels::coalesce_and_apply_with(kernels::run_rows_scalar, c.view(), pooling, gv, dim, table.data(),
                                         state.data(), num_rows, opt, 0.05f, scratch);
        kernels::coalesce_and_apply_with(kernels::run_rows_simd, c.view(), pooling, gv, dim, simd_table.data(),
                                         simd_state.data(), num_rows, opt, 0.05f, scratch);
      } else {
        kernels::RowGradients g;
        kernels::coalesce_gradients(c.view(), pooling, gv, dim, g);
        kernels::apply_row_updates_with(kernels::run_rows_scalar, table.data(), state.data(), num_rows, dim, g, opt,
                                        0.05f);
        kernels::apply_row_updates_with(kernels::run_rows_simd, simd_table.data(), simd_state.data(), num_rows, dim, g,
                                        opt, 0.05f);
      }
    }
    const std::string what = "target " + target + ", " + optimizer_kind_name(kind) + ", dim " + std::to_string(dim) +
                             (fused ? ", fused" : ", unfused") + (weighted ? ", weighted" : "") +
                             (pooling == Pooling::Mean ? ", mean" : ", sum");
    expect_same_bits(simd_table, table, what + ", weights");
    expect_same_bits(simd_state, state, what + ", state");
  }
}

TEST(RowUpdateTargets, EveryTargetMatchesTheScalarLoopsBitForBit) {
  testing::for_each_simd_target([&](const std::string& name) {
    SCOPED_TRACE("target " + name);
    for (int64_t dim : {1, 3, 4, 8, 12, 16, 17, 32, 33, 64, 128}) {
      for (bool fused : {false, true}) {
        for (bool weighted : {false, true}) {
          for (Pooling pooling : {Pooling::Sum, Pooling::Mean}) {
            for (int max_len : {1, 4}) run_case(dim, fused, weighted, pooling, max_len, name);
          }
        }
      }
    }
  });
}

}  // namespace
}  // namespace cembed
