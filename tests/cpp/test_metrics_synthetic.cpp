#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cembed/dataset.h"
#include "cembed/errors.h"
#include "cembed/lr_schedule.h"
#include "cembed/metrics.h"
#include "cembed/synthetic.h"
#include "data/zipf.h"
#include "util/file_format.h"

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

// Per feature and id: (rows, clicks) of a dataset.
std::vector<std::vector<std::pair<int64_t, int64_t>>> id_counts(const Dataset& d) {
  std::vector<std::vector<std::pair<int64_t, int64_t>>> out;
  for (int f = 0; f < d.schema().num_sparse(); ++f) {
    auto& c = out.emplace_back(d.schema().sparse[f].cardinality);
    for (int64_t r = 0; r < d.rows(); ++r) {
      auto& [rows, clicks] = c[d.bag(f, r)[0]];
      ++rows;
      clicks += d.label(r) > 0.5f;
    }
  }
  return out;
}

TEST(Synthetic, FrequencyIdOrderRenamesTheSameRowsMostFrequentFirst) {
  namespace fs = std::filesystem;
  const fs::path base = fs::temp_directory_path() / ("cembed_synth_order_" + std::to_string(::getpid()));
  SyntheticConfig c;
  c.train_rows = 60000;
  c.test_rows = 10;
  c.scale = 0.001;
  write_synthetic(c, (base / "random").string(), 2);
  c.id_order = "frequency";
  write_synthetic(c, (base / "frequency").string(), 2);
  const Dataset a = Dataset::open((base / "random/train.cds").string());
  const Dataset b = Dataset::open((base / "frequency/train.cds").string());
  ASSERT_EQ(a.rows(), b.rows());
  EXPECT_NE(a.schema().vocabulary_id, b.schema().vocabulary_id);  // the ids mean other values
  int checked = 0;
  for (int f = 0; f < 26; ++f) {
    // The same rows, each feature's ids renamed by a bijection.
    std::vector<int64_t> to(a.schema().sparse[f].cardinality, -1), from(to.size(), -1);
    for (int64_t r = 0; r < a.rows(); ++r) {
      ASSERT_EQ(a.label(r), b.label(r));
      ASSERT_EQ(a.dense_row(r)[f % 13], b.dense_row(r)[f % 13]);
      const Id x = a.bag(f, r)[0], y = b.bag(f, r)[0];
      if (to[x] < 0) to[x] = y;
      if (from[y] < 0) from[y] = x;
      ASSERT_EQ(to[x], y) << "feature " << f << " row " << r;
      ASSERT_EQ(from[y], x) << "feature " << f << " row " << r;
    }
    // Most frequent first: the rows of each eighth of the ids fall from one eighth to the
    // next (children of another feature included), which the random numbering does not do.
    const int64_t n = b.schema().sparse[f].cardinality;
    if (n < 256) continue;
    const auto count_eighths = [&](const Dataset& d) {
      std::vector<int64_t> rows(8, 0);
      for (int64_t r = 0; r < d.rows(); ++r) ++rows[d.bag(f, r)[0] * 8 / n];
      return rows;
    };
    const auto freq = count_eighths(b), rand = count_eighths(a);
    for (int k = 1; k < 8; ++k) EXPECT_GT(freq[k - 1], freq[k]) << "feature " << f << " eighth " << k;
    EXPECT_FALSE(std::is_sorted(rand.rbegin(), rand.rend())) << "feature " << f;
    ++checked;
  }
  EXPECT_GE(checked, 5);
  c.id_order = "sorted";
  EXPECT_THROW(write_synthetic(c, (base / "bad").string(), 1), Error);
  c.id_order = "random";
  c.group_by = "hash";
  EXPECT_THROW(write_synthetic(c, (base / "bad").string(), 1), Error);
  fs::remove_all(base);
}

TEST(Synthetic, GroupByFrequencyMakesValuesOfOneBandAlike) {
  // No signal of a value's own and no co-occurrence: a value's click rate is its group's.
  // Grouped by frequency (and numbered so), the groups are bands of consecutive ids, so the
  // click rates of the ids of one band differ only by sampling noise; grouped at random,
  // a band mixes groups and its click rates spread more.
  namespace fs = std::filesystem;
  const fs::path base = fs::temp_directory_path() / ("cembed_synth_group_" + std::to_string(::getpid()));
  SyntheticConfig c;
  c.train_rows = 200000;
  c.test_rows = 10;
  c.uniform_cardinality = 64;
  c.zipf_exponent = 0;  // every value as frequent: the bands are 16 ids each
  c.latent_groups = 4;
  c.value_noise = 0;
  c.cooccurrence = 0;
  c.duplicate = 0;
  c.logit_scale = 3;
  c.id_order = "frequency";
  const auto spread_within_bands = [&](const std::string& group_by) {
    c.group_by = group_by;
    const std::string dir = (base / group_by).string();
    write_synthetic(c, dir, 2);
    const auto counts = id_counts(Dataset::open(dir + "/train.cds"));
    // Mean over features and bands of the click rates' variance over the band's ids,
    // relative to the binomial variance of one id's rate.
    double ratio = 0;
    for (const auto& feature : counts) {
      for (int band = 0; band < 4; ++band) {
        double sum = 0, sq = 0, binomial = 0;
        for (int i = band * 16; i < band * 16 + 16; ++i) {
          const double p = static_cast<double>(feature[i].second) / static_cast<double>(feature[i].first);
          sum += p;
          sq += p * p;
          binomial += p * (1 - p) / static_cast<double>(feature[i].first);
        }
        const double mean = sum / 16;
        ratio += (sq / 16 - mean * mean) * 16 / 15 / (binomial / 16);
      }
    }
    return ratio / (4.0 * static_cast<double>(counts.size()));
  };
  const double frequency = spread_within_bands("frequency");
  const double random = spread_within_bands("random");
  EXPECT_LT(frequency, 1.5);  // sampling noise alone: about 1
  EXPECT_GT(random, 2 * frequency);
  fs::remove_all(base);
}

TEST(Synthetic, CooccurSignalZeroKeepsTheDataOfBefore) {
  // The bytes the generator wrote before cooccur_signal existed (same settings, seed 42):
  // the knob at its default changes nothing, metadata and vocabulary identity included.
  namespace fs = std::filesystem;
  const fs::path base = fs::temp_directory_path() / ("cembed_synth_golden_" + std::to_string(::getpid()));
  SyntheticConfig c;
  c.train_rows = 70000;
  c.test_rows = 500;
  c.scale = 0.001;
  write_synthetic(c, (base / "a").string(), 2);
  const std::string train = read_all((base / "a/train.cds").string());
  EXPECT_EQ(checksum64(train.data(), train.size()), 0x233831487f314cu)
      << std::hex << checksum64(train.data(), train.size());
  c.cooccur_signal = 1;
  write_synthetic(c, (base / "b").string(), 2);
  const Dataset a = Dataset::open((base / "a/train.cds").string());
  const Dataset b = Dataset::open((base / "b/train.cds").string());
  EXPECT_NE(a.schema().vocabulary_id, b.schema().vocabulary_id);  // the values mean other things
  for (double bad : {-0.5, 101.0, std::nan("")}) {
    c.cooccur_signal = bad;
    EXPECT_THROW(write_synthetic(c, (base / "bad").string(), 1), Error) << bad;
  }
  fs::remove_all(base);
}

TEST(Synthetic, CooccurSignalMakesCooccurringValuesClickAlike) {
  // Every value drawn from its row's cluster, no groups, no duplicates: a value's click
  // rate is its own vector's effect plus what its rows share (the cluster). For pairs of
  // values of different features that co-occur most (each value with its partner of
  // highest lift), the correlation of their click rates, against random pairs: with
  // cooccur_signal, co-occurring values share their home cluster's vector, so their click
  // rates agree far more than at 0, and more than random pairs'.
  namespace fs = std::filesystem;
  const fs::path base = fs::temp_directory_path() / ("cembed_synth_cosig_" + std::to_string(::getpid()));
  SyntheticConfig c;
  c.train_rows = 200000;
  c.test_rows = 10;
  c.uniform_cardinality = 64;
  c.zipf_exponent = 1.0;
  c.clusters = 8;
  c.latent_groups = 1;
  c.group_scale = 0;
  c.value_noise = 1;
  c.cooccurrence = 1;
  c.duplicate = 0;
  c.logit_scale = 3;
  const auto correlations = [&](double w) {
    c.cooccur_signal = w;
    const std::string dir = (base / std::to_string(w)).string();
    write_synthetic(c, dir, 2);
    const Dataset d = Dataset::open(dir + "/train.cds");
    const auto counts = id_counts(d);
    const int features = 26, n = 64;
    const auto rate = [&](int f, int v) {
      return static_cast<double>(counts[f][v].second) / static_cast<double>(counts[f][v].first);
    };
    std::vector<double> xs, ys, rx, ry;
    Rng rng(7);
    for (int f = 0; f + 1 < features; f += 2) {  // disjoint feature pairs (f, f + 1)
      const int g = f + 1;
      std::vector<int64_t> pair(n * n, 0);
      for (int64_t r = 0; r < d.rows(); ++r) ++pair[d.bag(f, r)[0] * n + d.bag(g, r)[0]];
      for (int a = 0; a < n; ++a) {
        if (counts[f][a].first < 500) continue;
        int best = -1;
        double best_lift = 0;
        for (int b = 0; b < n; ++b) {
          if (counts[g][b].first < 500) continue;
          const double lift = static_cast<double>(pair[a * n + b]) * static_cast<double>(d.rows()) /
                              (static_cast<double>(counts[f][a].first) * static_cast<double>(counts[g][b].first));
          if (lift > best_lift) best_lift = lift, best = b;
        }
        if (best < 0) continue;
        xs.push_back(rate(f, a));
        ys.push_back(rate(g, best));
        int other;
        do other = static_cast<int>(rng.below(n));
        while (counts[g][other].first < 500);
        rx.push_back(rate(f, a));
        ry.push_back(rate(g, other));
      }
    }
    const auto corr = [](const std::vector<double>& x, const std::vector<double>& y) {
      const double m = static_cast<double>(x.size());
      double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
      for (size_t i = 0; i < x.size(); ++i) {
        sx += x[i], sy += y[i], sxx += x[i] * x[i], syy += y[i] * y[i], sxy += x[i] * y[i];
      }
      return (sxy - sx * sy / m) / std::sqrt((sxx - sx * sx / m) * (syy - sy * sy / m));
    };
    EXPECT_GT(xs.size(), 200u);
    return std::pair{corr(xs, ys), corr(rx, ry)};
  };
  const auto [plain, plain_random] = correlations(0);
  const auto [shared, shared_random] = correlations(2);
  std::cout << "co-occurring pairs' click-rate correlation: " << plain << " at 0 (random pairs " << plain_random
            << "), " << shared << " at 2 (random pairs " << shared_random << ")\n";
  EXPECT_GT(shared, plain + 0.2);
  EXPECT_GT(shared, shared_random + 0.3);
  fs::remove_all(base);
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
