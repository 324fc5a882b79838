// A synthetic Criteo-shaped click data generator with a known AUC ceiling.
//
// 13 dense integer features (stored as log(1 + x), as DLRM's preprocessing does) and 26
// one-hot categorical features whose cardinalities are Criteo Kaggle's times `scale`.
// Each row: a latent cluster c; categorical values drawn by Zipf rank; some features
// determined by another (as site_id determines site_domain); every value has a latent vector
// (its latent group's vector plus its own part), so values of a group behave alike. The
// label is Bernoulli(sigmoid(z)) with z from a hidden model: a linear term and pairwise
// dot products of the latent vectors, dense terms and a cluster bias, standardised so that
// z has the requested scale and the mean click rate is `ctr`. The AUC of the true
// probabilities on the test split is the ceiling any model can reach (reported).
//
// Where the signal lives (the knobs; docs/data.md has their effect on the methods):
//   - in individual values: value_noise, the spread of each value's own part of its vector
//     (against group_scale, the spread of the group vectors). High: each value matters on
//     its own and collisions (hashing) destroy it; 0: values of a group are interchangeable.
//   - in groups of similar values: latent_groups groups per feature of group_scale spread;
//     group_by "random" (a hash of the value) or "frequency" (bands of values of similar
//     frequency: popularity carries signal, as on frappe and ml-100k).
//   - in co-occurrence across features: with probability `cooccurrence` a value is drawn
//     from the row's cluster (its rank shifted by the cluster: values of one cluster share
//     rows across features), and a child feature takes the value its parent's value
//     determines with probability `duplicate` (near-duplicate features: their row sets
//     overlap, as Criteo's do, so LMA's row signatures find them). cooccur_signal w makes
//     values that co-occur carry similar signal: each cluster has a latent vector (shared
//     by all features) and every value adds w times the vector of its home cluster, the
//     cluster under which its Zipf rank is smallest (the one whose rows it mostly shares).
//     0 (the default) leaves the data byte-identical to the generator without the knob.
//   - value frequencies: Zipf law of exponent zipf_exponent per feature (lower: flatter, so
//     more values are frequent enough to learn and to be hurt by collisions).
//   - how values are numbered: id_order "random" (a random bijection of the Zipf rank) or
//     "frequency" (most probable value first, as `cembed prepare` numbers a vocabulary, so
//     ids of similar frequency are neighbours, which QR's quotient rows group; the rows
//     are the same, only the ids written are renamed).
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
  double value_noise = 0.7;   // spread of each value's own part of its latent vector
  double group_scale = 1.0;   // spread of the latent groups' vectors
  double cooccurrence = 0.5;  // probability a value is drawn from the row's cluster
  double duplicate = 0.9;     // probability a child feature follows its parent
  double cooccur_signal = 0;  // weight of the home cluster's vector in each value's vector
  double logit_scale = 1.6;   // standard deviation of the hidden logit
  double ctr = 0.25;
  uint64_t seed = 42;
  std::string id_order = "random";  // "random" or "frequency" (most probable value first)
  std::string group_by = "random";  // latent group of a value: "random" (a hash) or "frequency" (its band)
  std::string format = "cds";       // "cds" (datasets) or "criteo" (raw Criteo TSV text, .txt)

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
