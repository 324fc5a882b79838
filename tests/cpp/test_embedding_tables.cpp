// Every table type: gradients against finite differences (through the fused SGD update),
// id range errors, save/load round trips.
#include <gtest/gtest.h>

#include <cctype>
#include <set>
#include <tuple>

#include "cembed/factory.h"
#include "embedding/table_state.h"
#include "method_cases.h"
#include "test_helpers.h"
#include "util/check.h"
#include "util/random.h"

namespace cembed {
namespace {

using testing::probe_loss;

using testing::MethodCase;

class TableGradients : public ::testing::TestWithParam<std::tuple<MethodCase, Pooling, bool>> {};

TEST_P(TableGradients, SgdUpdateEqualsFiniteDifferenceGradient) {
  const auto [c, pooling, weighted] = GetParam();
  const std::string& spec = c.spec;
  const int64_t n = c.cardinality, d = c.dim, batch = 12;
  auto table = testing::make_case_table(spec, c.shape());
  table->init(3);
  table->set_optimizer({OptimizerKind::Sgd});
  Rng rng(11);
  const auto bags = testing::random_bags(rng, batch, n, 0, 5, weighted);  // repeats and empty bags
  const auto r = testing::random_vector(rng, batch * d);
  const BagBatch view = bags.view();

  auto blocks = table->parameter_blocks();
  std::vector<std::vector<float>> before;
  std::vector<std::vector<double>> fd;
  for (auto& block : blocks) {
    before.emplace_back(block.begin(), block.end());
    fd.emplace_back(block.size());
    for (size_t i = 0; i < block.size(); ++i) {
      fd.back()[i] = testing::finite_difference([&] { return probe_loss(*table, view, pooling, r); }, block[i], 1e-2);
    }
  }
  // SGD with lr = 1: w_new = w - g, so g = w - w_new.
  ConstMatrixView grad{r.data(), batch, d, d};
  table->backward(std::span(&view, 1), pooling, std::span(&grad, 1), 1.0f);
  for (size_t p = 0; p < blocks.size(); ++p) {
    int touched = 0;
    for (size_t i = 0; i < before[p].size(); ++i) {
      const double g = static_cast<double>(before[p][i]) - blocks[p][i];
      ASSERT_TRUE(testing::close(g, fd[p][i], c.rtol, c.atol))
          << spec << " block " << p << " parameter " << i << ": " << g << " vs " << fd[p][i];
      touched += g != 0;
    }
    EXPECT_GT(touched, 0) << spec << " block " << p;
  }
}

// The gradient kind (autograd from Python) hands out the gradient the SGD step applies: on
// the same batch from the same weights, state == (w - w_sgd) / lr, element for element
// (lr = 0.5 scales both the same way), and the weights stay; blocks() pairs each weight
// matrix with a state of its size.
TEST_P(TableGradients, GradientKindEqualsSgdStep) {
  const auto [c, pooling, weighted] = GetParam();
  const int64_t n = c.cardinality, d = c.dim, batch = 12;
  auto sgd = testing::make_case_table(c.spec, c.shape());
  auto acc = testing::make_case_table(c.spec, c.shape());
  sgd->init(3);
  acc->init(3);
  sgd->set_optimizer({OptimizerKind::Sgd});
  acc->set_optimizer({OptimizerKind::Gradient});
  Rng rng(12);
  const auto bags = testing::random_bags(rng, batch, n, 0, 5, weighted);
  const auto r = testing::random_vector(rng, batch * d);
  const BagBatch view = bags.view();
  const auto start = acc->parameter_blocks();
  std::vector<std::vector<float>> before;
  for (auto& block : start) before.emplace_back(block.begin(), block.end());
  ConstMatrixView grad{r.data(), batch, d, d};
  sgd->backward(std::span(&view, 1), pooling, std::span(&grad, 1), 0.5f);
  acc->backward(std::span(&view, 1), pooling, std::span(&grad, 1), 0.5f);
  const auto blocks = acc->blocks();
  const auto stepped = sgd->parameter_blocks();
  ASSERT_EQ(blocks.size(), stepped.size());
  for (size_t p = 0; p < blocks.size(); ++p) {
    ASSERT_EQ(blocks[p].state.size(), blocks[p].weights.size()) << c.spec;
    ASSERT_EQ(blocks[p].rows * blocks[p].width, static_cast<int64_t>(blocks[p].weights.size())) << c.spec;
    for (size_t i = 0; i < before[p].size(); ++i) {
      ASSERT_EQ(blocks[p].weights[i], before[p][i]) << c.spec << " block " << p << " weight " << i;
      const double g = static_cast<double>(before[p][i]) - stepped[p][i];
      ASSERT_TRUE(testing::close(g, blocks[p].state[i], 1e-4, 1e-6))
          << c.spec << " block " << p << " parameter " << i << ": " << g << " vs " << blocks[p].state[i];
    }
  }
}

std::string case_name(const ::testing::TestParamInfo<TableGradients::ParamType>& info) {
  std::string name = std::get<0>(info.param).spec;
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name + (std::get<1>(info.param) == Pooling::Sum ? "_sum" : "_mean") +
         (std::get<2>(info.param) ? "_weighted" : "");
}

std::vector<MethodCase> gradient_cases() {
  std::vector<MethodCase> out;
  for (const MethodCase& c : testing::method_cases()) {
    if (!(c.grids & testing::kOwnGradientCheck)) out.push_back(c);
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Methods, TableGradients,
                         ::testing::Combine(::testing::ValuesIn(gradient_cases()),
                                            ::testing::Values(Pooling::Sum, Pooling::Mean), ::testing::Bool()),
                         case_name);

TEST(Tables, OutOfRangeIdNamesTheValue) {
  auto table = make_table("full", {4, {10}});
  std::vector<Id> ids = {3, 10};
  std::vector<uint32_t> offsets = {0, 2};
  BagBatch bags{ids, offsets, {}};
  std::vector<float> out(4);
  MatrixView view{out.data(), 1, 4, 4};
  try {
    table->forward(std::span(&bags, 1), Pooling::Sum, std::span(&view, 1));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("value id 10 out of range [0, 10)"), std::string::npos) << e.what();
  }
}

TEST(Tables, HashSpreadsValuesOverRows) {
  auto table = make_table("hash:rows=64", {4, {100000}});
  table->init(1);
  // Distinct ids share rows only through the hash: 64 rows are all used by 10k ids.
  std::vector<Id> ids(10000);
  for (Id i = 0; i < 10000; ++i) ids[i] = i * 7;
  std::vector<uint32_t> offsets(ids.size() + 1);
  for (size_t i = 0; i < offsets.size(); ++i) offsets[i] = static_cast<uint32_t>(i);
  std::vector<float> out(ids.size() * 4);
  BagBatch bags{ids, offsets, {}};
  MatrixView view{out.data(), static_cast<int64_t>(ids.size()), 4, 4};
  table->forward(std::span(&bags, 1), Pooling::Sum, std::span(&view, 1));
  std::set<float> distinct;
  for (size_t i = 0; i < ids.size(); ++i) distinct.insert(out[i * 4]);
  EXPECT_EQ(distinct.size(), 64u);
}

// A value's row is mix64(v ^ mix64(seed)) mod rows, written out here with the % operator:
// the mapping saved models depend on, at rows that are not powers of two and at values up
// to the largest id.
TEST(Tables, HashRowIsTheSeededMixModRows) {
  for (const auto& [spec, seed, rows] : {std::tuple<std::string, uint64_t, uint64_t>{"hash:rows=1000", 0x5eed, 1000},
                                         {"hash:rows=999983,seed=77", 77, 999983}}) {
    const int64_t values = int64_t{1} << 32;
    auto table = make_table(spec, {2, {values}});
    table->init(3);
    const std::span<const float> w = table->blocks()[0].weights;
    std::vector<Id> ids = {0, 1, 2, 999, 1000, 123456789, 4294967294u, 4294967295u};
    std::vector<uint32_t> offsets(ids.size() + 1);
    for (size_t i = 0; i < offsets.size(); ++i) offsets[i] = static_cast<uint32_t>(i);
    std::vector<float> out(ids.size() * 2);
    BagBatch bags{ids, offsets, {}};
    MatrixView view{out.data(), static_cast<int64_t>(ids.size()), 2, 2};
    table->forward(std::span(&bags, 1), Pooling::Sum, std::span(&view, 1));
    for (size_t i = 0; i < ids.size(); ++i) {
      const uint64_t row = mix64(ids[i] ^ mix64(seed)) % rows;
      EXPECT_EQ(out[i * 2], w[row * 2]) << spec << ": value " << ids[i] << " should use row " << row;
      EXPECT_EQ(out[i * 2 + 1], w[row * 2 + 1]) << spec << ": value " << ids[i] << " should use row " << row;
    }
  }
}

// Row, parts and shared-array tables name the first id out of range, not the largest.
TEST(Tables, OutOfRangeIdNamesTheFirstBadValue) {
  for (const std::string spec : {"full", "hash:rows=4", "qr:collisions=2", "robe:size=64,block=4"}) {
    auto table = make_table(spec, {4, {10}});
    table->init(1);
    std::vector<Id> ids = {3, 10, 4, 12};
    std::vector<uint32_t> offsets = {0, 2, 4};
    BagBatch bags{ids, offsets, {}};
    std::vector<float> out(8);
    MatrixView view{out.data(), 2, 4, 4};
    try {
      table->forward(std::span(&bags, 1), Pooling::Sum, std::span(&view, 1));
      FAIL() << spec << ": no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("value id 10 out of range [0, 10)"), std::string::npos) << e.what();
    }
  }
}

// The id check's first pass (16 running maxima) sees a bad id wherever it is: in the
// vector body, in the tail, at a batch size on either side of a multiple of 16. A hash
// table's rows are always in range, so its forward has only this check.
TEST(Tables, OutOfRangeIdFoundAtEveryPosition) {
  auto table = make_table("hash:rows=4", {2, {10}});
  table->init(1);
  for (const size_t n : {1, 15, 16, 17, 33, 40}) {
    std::vector<Id> ids(n);
    for (size_t k = 0; k < n; ++k) ids[k] = static_cast<Id>(k % 10);
    const std::vector<uint32_t> offsets = {0, static_cast<uint32_t>(n)};
    std::vector<float> out(2);
    MatrixView view{out.data(), 1, 2, 2};
    auto forward = [&](std::span<const Id> batch) {
      BagBatch bags{batch, offsets, {}};
      table->forward(std::span(&bags, 1), Pooling::Sum, std::span(&view, 1));
    };
    EXPECT_NO_THROW(forward(ids)) << n << " ids";
    for (size_t p = 0; p < n; ++p) {
      for (const Id bad : {Id{10}, Id{4294967295u}}) {
        std::vector<Id> with_bad = ids;
        with_bad[p] = bad;
        try {
          forward(with_bad);
          ADD_FAILURE() << "value " << bad << " at " << p << " of " << n << ": no error";
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find(fmt::format("value id {} out of range [0, 10)", bad)), std::string::npos)
              << e.what();
        }
      }
    }
  }
}

TEST(Tables, SaveLoadRoundTrip) {
  for (const MethodCase& c : testing::method_cases()) {
    const std::string& spec = c.spec;
    const int64_t d = c.dim;
    auto a = testing::make_case_table(spec, c.shape());
    a->init(5);
    a->set_optimizer({OptimizerKind::Adagrad});
    Rng rng(2);
    const auto bags = testing::random_bags(rng, 8, c.cardinality, 1, 3, false);
    const auto g = testing::random_vector(rng, 8 * d);
    const BagBatch view = bags.view();
    ConstMatrixView grad{g.data(), 8, d, d};
    a->backward(std::span(&view, 1), Pooling::Sum, std::span(&grad, 1), 0.1f);
    BinaryWriter w;
    a->save(w);
    auto b = make_table(spec, c.shape());  // signatures come back with the model
    b->set_optimizer({OptimizerKind::Adagrad});
    BinaryReader r(w.bytes().data(), w.bytes().size(), "test");
    b->load(r);
    r.expect_end();
    EXPECT_EQ(probe_loss(*a, view, Pooling::Sum, g), probe_loss(*b, view, Pooling::Sum, g)) << spec;
    // Same optimizer state: one more identical step keeps them equal.
    a->backward(std::span(&view, 1), Pooling::Sum, std::span(&grad, 1), 0.1f);
    b->backward(std::span(&view, 1), Pooling::Sum, std::span(&grad, 1), 0.1f);
    EXPECT_EQ(probe_loss(*a, view, Pooling::Sum, g), probe_loss(*b, view, Pooling::Sum, g)) << spec;
    // A different spec is refused.
    auto other = make_table("hash:rows=14", c.shape());
    other->set_optimizer({OptimizerKind::Adagrad});
    BinaryReader r2(w.bytes().data(), w.bytes().size(), "test");
    EXPECT_THROW(other->load(r2), Error) << spec;
  }
}

// Every table's section goes through table_state.h: a file of another optimizer is refused
// naming both, and an unknown kind is named as such (no bare number cast to a kind).
TEST(TableState, OptimizerKindIsCheckedByEveryTable) {
  for (const MethodCase& c : testing::method_cases()) {
    auto a = testing::make_case_table(c.spec, c.shape());
    a->set_optimizer({OptimizerKind::Adagrad});
    BinaryWriter w;
    a->save(w);
    auto b = make_table(c.spec, c.shape());
    b->set_optimizer({OptimizerKind::RowwiseAdagrad});
    BinaryReader r(w.bytes().data(), w.bytes().size(), "model.ckpt");
    const std::string e = testing::error_of([&] { b->load(r); });
    EXPECT_NE(e.find("model.ckpt: table optimizer in file is adagrad, configured rowwise_adagrad"), std::string::npos)
        << c.spec << ": " << e;
  }
  BinaryWriter w;
  w.u32(7);
  BinaryReader r(w.bytes().data(), w.bytes().size(), "model.ckpt");
  const std::string e = testing::error_of([&] { load_optimizer_kind(r, OptimizerKind::Sgd, "dense optimizer"); });
  EXPECT_NE(e.find("model.ckpt: unknown dense optimizer kind 7"), std::string::npos) << e;
}

}  // namespace
}  // namespace cembed
