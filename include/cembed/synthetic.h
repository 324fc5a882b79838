// A synthetic Criteo-shaped click data generator with a known AUC ceiling.
//
// 13 dense integer features (stored as log(1 + x), as DLRM's preprocessing does) and 26
// one-hot categorical features whose cardinalities are Criteo Kaggle's times `scale`.
// Each row: a latent cluster c; categorical values drawn by Zipf rank (half of them shifted
// by the cluster, so values co-occur within clusters); some features determined by another
// (as site_id determines site_domain) with probability 0.9; every value has a latent vector
// (its latent group's vector plus its own noise), so values of a group behave alike. The
// label is Bernoulli(sigmoid(z)) with z from a hidden model: a linear term and pairwise
// dot products of the latent vectors, dense terms and a cluster bias, standardised so that
// z has the requested scale and the mean click rate is `ctr`. The AUC of the true
// probabilities on the test split is the ceiling any model can reach (reported).
// Rows are generated in fixed chunks with their own seeds: deterministic by seed,
// whatever the thread count.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace cembed {

struct SyntheticConfig {
  int64_t train_rows = 500000;
  int64_t valid_rows = 0;
  int64_t test_rows = 100000;
  double scale = 0.01;              // multiplies Criteo Kaggle's cardinalities
  int64_t uniform_cardinality = 0;  // > 0: every feature has this many values instead
  double zipf_exponent = 1.05;
  int latent_dim = 4;
  int latent_groups = 32;
  int clusters = 16;
  double value_noise = 0.7;  // per-value deviation from its group's vector
  double logit_scale = 1.6;  // standard deviation of the hidden logit
  double ctr = 0.25;
  uint64_t seed = 42;
  std::string format = "cds";  // "cds" (datasets) or "criteo" (raw Criteo TSV text, .txt)

  nlohmann::json to_json() const;
};

// Criteo Kaggle's 26 categorical cardinalities (DLRM's counts).
const std::vector<int64_t>& criteo_kaggle_cardinalities();
std::vector<int64_t> synthetic_cardinalities(const SyntheticConfig& config);

struct SyntheticSummary {
  std::vector<std::string> files;  // train, [valid,] test
  nlohmann::json stats;            // rows, ctr, bayes AUC and log loss per split, seconds
};

// Writes out_dir/train.cds, [valid.cds,] test.cds (or .txt in Criteo text format) and
// out_dir/synthetic.json.
SyntheticSummary write_synthetic(const SyntheticConfig& config, const std::string& out_dir, int threads);

}  // namespace cembed
