#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cembed/lr_schedule.h"
#include "cembed/metrics.h"
#include "cembed/synthetic.h"
#include "data/zipf.h"

namespace cembed {
namespace {

TEST(Metrics, AucByHand) {
  const std::vector<float> labels = {0, 0, 1, 1};
  EXPECT_DOUBLE_EQ(roc_auc(std::vector<float>{0.1f, 0.4f, 0.35f, 0.8f}, labels), 0.75);
  EXPECT_DOUBLE_EQ(roc_auc(std::vector<float>{0.5f, 0.5f, 0.5f, 0.5f}, labels), 0.5);
  // A tie between one positive and one negative counts one half.
  EXPECT_DOUBLE_EQ(roc_auc(std::vector<float>{0.1f, 0.6f, 0.6f, 0.9f}, labels), 0.875);
  EXPECT_TRUE(std::isnan(roc_auc(std::vector<float>{0.1f, 0.2f}, std::vector<float>{1, 1})));
}

TEST(Metrics, LogLossByHand) {
  const std::vector<float> p = {0.9f, 0.2f}, y = {1, 0};
  EXPECT_NEAR(log_loss(p, y), -(std::log(0.9) + std::log(0.8)) / 2, 1e-7);
}

TEST(LrSchedule, WarmupAndDecay) {
  LrSchedule s{1.0f, 4, 10, 5, 0.0f};
  EXPECT_FLOAT_EQ(s.at(0), 0.25f);
  EXPECT_FLOAT_EQ(s.at(3), 1.0f);
  EXPECT_FLOAT_EQ(s.at(9), 1.0f);
  EXPECT_FLOAT_EQ(s.at(10), 1.0f);
  EXPECT_FLOAT_EQ(s.at(12), 0.36f);
  EXPECT_FLOAT_EQ(s.at(15), 0.0f);
  EXPECT_FLOAT_EQ(s.at(100), 0.0f);
}

TEST(Zipf, FrequenciesFollowThePowerLaw) {
  for (double s : {0.8, 1.0, 1.2}) {
    const int64_t n = 50, draws = 400000;
    ZipfSampler z(n, s);
    Rng rng(3);
    std::vector<int64_t> counts(n + 1);
    for (int64_t i = 0; i < draws; ++i) counts[z.sample(rng)]++;
    double norm = 0;
    for (int64_t k = 1; k <= n; ++k) norm += std::pow(static_cast<double>(k), -s);
    for (int64_t k = 1; k <= n; ++k) {
      const double p = std::pow(static_cast<double>(k), -s) / norm;
      const double sigma = std::sqrt(draws * p * (1 - p));
      EXPECT_NEAR(static_cast<double>(counts[k]), draws * p, 5 * sigma) << "s=" << s << " k=" << k;
    }
  }
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Synthetic, DeterministicBySeedWhateverTheThreads) {
  namespace fs = std::filesystem;
  const fs::path base = fs::temp_directory_path() / ("cembed_synth_" + std::to_string(::getpid()));
  SyntheticConfig c;
  c.train_rows = 70000;  // more than two generation chunks
  c.test_rows = 500;
  c.scale = 0.001;
  const auto a = write_synthetic(c, (base / "a").string(), 1);
  const auto b = write_synthetic(c, (base / "b").string(), 2);
  EXPECT_EQ(read_all((base / "a/train.cds").string()), read_all((base / "b/train.cds").string()));
  c.seed = 43;
  write_synthetic(c, (base / "c").string(), 2);
  EXPECT_NE(read_all((base / "a/train.cds").string()), read_all((base / "c/train.cds").string()));
  // The hidden model is informative and the click rate is as asked.
  EXPECT_GT(a.stats["train"]["bayes_auc"].get<double>(), 0.75);
  EXPECT_NEAR(a.stats["train"]["ctr"].get<double>(), 0.25, 0.02);
}

TEST(Synthetic, CardinalitiesScaleCriteoKaggle) {
  SyntheticConfig c;
  c.scale = 0.01;
  const auto card = synthetic_cardinalities(c);
  ASSERT_EQ(card.size(), 26u);
  EXPECT_EQ(card[2], 101313);  // ceil(10131227 * 0.01)
  EXPECT_EQ(card[8], 3);       // small features keep their size
  c.uniform_cardinality = 1000000;
  for (int64_t n : synthetic_cardinalities(c)) EXPECT_EQ(n, 1000000);
}

}  // namespace
}  // namespace cembed
