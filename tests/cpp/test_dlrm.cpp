// The whole model: gradients of the loss against finite differences for every dense
// parameter and (through the fused SGD update) every table parameter.
#include <gtest/gtest.h>

#include "cembed/dlrm.h"
#include "dlrm_batches.h"
#include "util/binary_io.h"

namespace cembed {
namespace {

// Labels with probability 0.4; the first feature one-hot, the others 0-3 ids.
Batch random_batch(Rng& rng, int64_t b, int64_t num_dense, const std::vector<int64_t>& cards) {
  return testing::random_dlrm_batch(rng, b, num_dense, cards, {.min_len = 0, .max_len = 3});
}

double model_loss(Dlrm& m, const Batch& batch) {
  std::vector<float> z;
  m.forward(batch, z);
  return bce_with_logits(z, batch.labels, nullptr);
}

class DlrmGradients : public ::testing::TestWithParam<std::tuple<std::string, Pooling>> {};

TEST_P(DlrmGradients, MatchFiniteDifferences) {
  const auto [method, pooling] = GetParam();
  const std::vector<int64_t> cards = {30, 12, 50};
  const auto features = testing::numbered_features(cards);
  DlrmConfig cfg;
  cfg.num_dense = 3;
  cfg.dim = 4;
  cfg.bottom_hidden = {6};
  cfg.top_hidden = {8};
  cfg.pooling = pooling;
  Dlrm model(cfg, plan_memory(method, features, cfg.dim, Budget::none(), 0));
  model.init(21);
  model.set_optimizers({OptimizerKind::Sgd}, {OptimizerKind::Sgd});
  Rng rng(8);
  const Batch batch = random_batch(rng, 7, cfg.num_dense, cards);

  std::vector<std::vector<float>> emb_grads;
  model.loss_and_gradients(batch, &emb_grads);
  // Dense parameters.
  for (Mlp* mlp : {&model.bottom(), &model.top()}) {
    auto params = mlp->parameters();
    std::vector<std::vector<float>> analytic;
    for (auto g : mlp->gradients()) analytic.emplace_back(g.begin(), g.end());
    for (size_t p = 0; p < params.size(); ++p) {
      for (size_t i = 0; i < params[p].size(); ++i) {
        const double fd = testing::finite_difference([&] { return model_loss(model, batch); }, params[p][i], 1e-3);
        ASSERT_TRUE(testing::close(analytic[p][i], fd, 3e-2, 3e-4)) << "block " << p << " element " << i;
      }
    }
  }
  // Table parameters: finite differences of the model loss against the fused SGD update.
  const auto bags = batch.bags();
  for (int t = 0; t < model.embeddings().num_tables(); ++t) {
    EmbeddingTable& table = model.embeddings().table(t);
    const int f = model.embeddings().plan().tables[t].features[0];
    auto block = table.parameter_blocks()[0];
    std::vector<double> fd(block.size());
    for (size_t i = 0; i < block.size(); ++i) {
      fd[i] = testing::finite_difference([&] { return model_loss(model, batch); }, block[i], 1e-3);
    }
    const std::vector<float> before(block.begin(), block.end());
    ConstMatrixView g{emb_grads[f].data(), batch.size, cfg.dim, cfg.dim};
    table.backward(std::span(&bags[f], 1), pooling, std::span(&g, 1), 1.0f);
    for (size_t i = 0; i < block.size(); ++i) {
      ASSERT_TRUE(testing::close(before[i] - block[i], fd[i], 3e-2, 3e-4)) << "table " << t << " element " << i;
    }
    std::copy(before.begin(), before.end(), block.begin());  // the next table's differences start from here
  }
}

INSTANTIATE_TEST_SUITE_P(Methods, DlrmGradients,
                         ::testing::Combine(::testing::Values("full", "hash:rows=7"),
                                            ::testing::Values(Pooling::Sum, Pooling::Mean)));

TEST(Dlrm, SameSeedSameModel) {
  const std::vector<FeatureInfo> features = {{"a", 40}, {"b", 300}};
  DlrmConfig cfg;
  cfg.num_dense = 2;
  cfg.dim = 4;
  cfg.bottom_hidden = {8};
  cfg.top_hidden = {8};
  std::vector<double> losses[2];
  std::string bytes[2];
  for (int run = 0; run < 2; ++run) {
    Dlrm model(cfg, plan_memory("hash", features, cfg.dim, Budget::ratio(4)));
    model.init(5);
    model.set_optimizers({OptimizerKind::Adagrad}, {OptimizerKind::RowwiseAdagrad});
    Rng rng(6);
    for (int s = 0; s < 20; ++s) losses[run].push_back(model.train_step(random_batch(rng, 16, 2, {40, 300}), 0.05f));
    BinaryWriter w;
    model.save(w);
    bytes[run] = w.bytes();
  }
  EXPECT_EQ(losses[0], losses[1]);
  EXPECT_EQ(bytes[0], bytes[1]);
  EXPECT_LT(losses[0].back(), losses[0].front());
}

TEST(Dlrm, NonFiniteLossIsAnError) {
  const std::vector<FeatureInfo> features = {{"a", 10}};
  DlrmConfig cfg;
  cfg.num_dense = 1;
  cfg.dim = 2;
  cfg.bottom_hidden = {2};
  cfg.top_hidden = {2};
  Dlrm model(cfg, plan_memory("full", features, 2, Budget::none()));
  model.init(1);
  model.set_optimizers({OptimizerKind::Sgd}, {OptimizerKind::Sgd});
  Rng rng(1);
  const Batch b = random_batch(rng, 4, 1, {10});
  model.top().layer(model.top().num_layers() - 1).bias[0] = std::numeric_limits<float>::quiet_NaN();
  try {
    model.train_step(b, 0.1f);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("training diverged"), std::string::npos);
  }
}

}  // namespace
}  // namespace cembed
