// The dense exchange of data-parallel steps (EmbeddingTable::add_gradient / apply_gradient):
// a batch's gradient added in two halves and applied equals backward() on the whole batch,
// for every method case that offers one; methods that offer none say so.
#include <gtest/gtest.h>

#include "cembed/optimizer.h"
#include "method_cases.h"
#include "test_helpers.h"

namespace cembed::testing {
namespace {

class DenseGradient : public ::testing::TestWithParam<MethodCase> {};

TEST_P(DenseGradient, TwoHalvesAddedAndAppliedEqualBackwardOnTheWholeBatch) {
  const MethodCase& c = GetParam();
  for (OptimizerKind kind : {OptimizerKind::Sgd, OptimizerKind::Adagrad, OptimizerKind::RowwiseAdagrad}) {
    auto whole = make_case_table(c.spec, c.shape());
    auto halves = make_case_table(c.spec, c.shape());
    for (auto* t : {whole.get(), halves.get()}) {
      t->init(3);
      t->set_optimizer({kind});
    }
    if (whole->dense_gradient_size() == 0) {
      const std::string err = error_of([&] { halves->apply_gradient({}, 0.1f); });
      EXPECT_NE(err.find("offer no dense gradient"), std::string::npos) << err;
      return;
    }
    Rng rng(11);
    const int64_t batch = 12, d = c.dim;
    const OwnedBags bags = random_bags(rng, batch, c.cardinality, 1, 3, true);
    const std::vector<float> grad = random_vector(rng, static_cast<size_t>(batch * d));
    const BagBatch all = bags.view();
    whole->backward({&all, 1}, Pooling::Mean, std::vector<ConstMatrixView>{{grad.data(), batch, d, d}}, 0.1f);

    std::vector<float> dense(static_cast<size_t>(halves->dense_gradient_size()), 0.0f);
    const std::vector<float> before(halves->parameter_blocks()[0].begin(), halves->parameter_blocks()[0].end());
    for (int64_t first : {int64_t{0}, batch / 2}) {
      const int64_t n = batch / 2;
      std::vector<uint32_t> offsets;
      for (int64_t i = 0; i <= n; ++i) offsets.push_back(all.offsets[first + i] - all.offsets[first]);
      const auto lo = all.offsets[first], hi = all.offsets[first + n];
      const BagBatch part{all.ids.subspan(lo, hi - lo), offsets, all.weights.subspan(lo, hi - lo)};
      halves->add_gradient({&part, 1}, Pooling::Mean, std::vector<ConstMatrixView>{{grad.data() + first * d, n, d, d}},
                           dense);
    }
    const auto unchanged = halves->parameter_blocks()[0];
    ASSERT_TRUE(std::equal(before.begin(), before.end(), unchanged.begin())) << "add_gradient changed the weights";
    halves->apply_gradient(dense, 0.1f);

    const auto a = whole->parameter_blocks()[0], b = halves->parameter_blocks()[0];
    ASSERT_EQ(a.size(), b.size());
    double worst = 0;
    int changed = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      worst = std::max(worst, static_cast<double>(std::abs(a[i] - b[i])));
      changed += a[i] != before[i];
    }
    EXPECT_LT(worst, 1e-6) << c.spec << " optimizer " << static_cast<int>(kind);
    EXPECT_GT(changed, 0) << "the batch updated nothing";
  }
}

INSTANTIATE_TEST_SUITE_P(Methods, DenseGradient, ::testing::ValuesIn(method_cases()));

}  // namespace
}  // namespace cembed::testing
