#include "cembed/synthetic.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <numeric>
#include <utility>

#include "cembed/dataset.h"
#include "cembed/metrics.h"
#include "data/dataset_writer.h"
#include "data/zipf.h"
#include "util/atomic_file.h"
#include "util/check.h"
#include "util/file_format.h"
#include "util/random.h"

namespace cembed {
namespace {

constexpr int kDense = 13;
constexpr int kSparse = 26;
constexpr int64_t kChunk = 1 << 15;
// Child feature <- parent feature (the parent's value determines the child's, mostly).
constexpr int kParent[kSparse] = {-1, 0,  -1, 2,  -1, -1, -1, 6,  -1, -1, -1, -1, -1,
                                  -1, -1, 11, -1, -1, -1, -1, -1, -1, -1, 20, -1, -1};

int64_t gcd(int64_t a, int64_t b) { return b == 0 ? a : gcd(b, a % b); }

// The inverse of a modulo n (a and n coprime), by the extended Euclidean algorithm.
int64_t inverse_mod(int64_t a, int64_t n) {
  __int128 t = 0, new_t = 1, r = n, new_r = a;
  while (new_r != 0) {
    const __int128 q = r / new_r;
    t = std::exchange(new_t, t - q * new_t);
    r = std::exchange(new_r, r - q * new_r);
  }
  return static_cast<int64_t>(t < 0 ? t + n : t);
}

// The hidden model: everything that decides a row, drawn once from the seed.
class HiddenModel {
 public:
  explicit HiddenModel(const SyntheticConfig& c)
      : c_(c),
        card_(synthetic_cardinalities(c)),
        ids_by_frequency_(c.id_order == "frequency"),
        groups_by_frequency_(c.group_by == "frequency") {
    Rng rng(derive_seed(c.seed, 0x4d0d31));
    const int k = c.latent_dim;
    for (int f = 0; f < kSparse; ++f) {
      const int64_t n = card_[f];
      zipf_.emplace_back(n, c.zipf_exponent);
      int64_t a = 1 + static_cast<int64_t>(rng.below(static_cast<uint64_t>(n)));
      while (gcd(a, n) != 1) a = a % n + 1;
      mult_.push_back(a);
      add_.push_back(static_cast<int64_t>(rng.below(static_cast<uint64_t>(n))));
      for (int cl = 0; cl < c.clusters; ++cl)
        shift_.push_back(static_cast<int64_t>(rng.below(static_cast<uint64_t>(n))));
      for (int g = 0; g < c.latent_groups * k; ++g) {
        group_vec_.push_back(static_cast<float>(c.group_scale * rng.normal()));
      }
      for (int j = 0; j < k; ++j) linear_.push_back(static_cast<float>(rng.normal()));
    }
    for (int j = 0; j < kDense; ++j) {
      dense_mu_.push_back(static_cast<float>(0.5 + 2.5 * rng.uniform()));
      dense_weight_.push_back(static_cast<float>(rng.normal() * 0.5));
      for (int cl = 0; cl < c.clusters; ++cl) dense_cluster_.push_back(static_cast<float>(rng.normal() * 0.7));
    }
    for (int cl = 0; cl < c.clusters; ++cl) cluster_bias_.push_back(static_cast<float>(rng.normal() * 0.5));
    if (ids_by_frequency_ || groups_by_frequency_) order_by_frequency();
    if (c.cooccur_signal > 0) {
      // Its own stream, so that the draws above (and the data at weight 0) are unchanged.
      Rng crng(derive_seed(c.seed, 0xc0cc));
      for (int i = 0; i < c.clusters * k; ++i) cluster_vec_.push_back(static_cast<float>(crng.normal()));
      for (int f = 0; f < kSparse; ++f) inverse_mult_.push_back(inverse_mod(mult_[f], card_[f]));
    }
  }

  const std::vector<int64_t>& cardinalities() const { return card_; }

  // Draws one row: dense (kDense), ids (kSparse); returns the raw (unstandardised) logit.
  double draw(Rng& rng, float* dense, uint32_t* ids) const {
    const int k = c_.latent_dim;
    const auto cl = static_cast<int>(rng.below(static_cast<uint64_t>(c_.clusters)));
    float sum[16] = {};
    double sq = 0, lin = 0;
    for (int f = 0; f < kSparse; ++f) {
      const int64_t n = card_[f];
      int64_t id;
      if (kParent[f] >= 0 && rng.uniform() < c_.duplicate) {
        id = static_cast<int64_t>(mix64(derive_seed(c_.seed, f, ids[kParent[f]])) % static_cast<uint64_t>(n));
      } else {
        int64_t r = zipf_[f].sample(rng) - 1;
        if (rng.uniform() < c_.cooccurrence) r = (r + shift_[f * c_.clusters + cl]) % n;
        id = static_cast<int64_t>((static_cast<__uint128_t>(mult_[f]) * r + add_[f]) % n);
      }
      ids[f] = static_cast<uint32_t>(id);
      float u[16];
      value_vector(f, static_cast<uint64_t>(id), u);
      for (int j = 0; j < k; ++j) {
        sum[j] += u[j];
        sq += u[j] * u[j];
        lin += linear_[f * k + j] * u[j];
      }
    }
    if (ids_by_frequency_) {
      for (int f = 0; f < kSparse; ++f) ids[f] = position_[f][ids[f]];
    }
    double pair = 0;
    for (int j = 0; j < k; ++j) pair += sum[j] * sum[j];
    pair = 0.5 * (pair - sq);  // sum over f < g of <u_f, u_g>
    double dense_term = 0;
    for (int j = 0; j < kDense; ++j) {
      double x = 0;
      if (rng.uniform() >= 0.1) {  // 10% missing, stored as 0 like an empty Criteo field
        const double mu = dense_mu_[j] + dense_cluster_[j * c_.clusters + cl];
        x = std::floor(std::exp(mu + rng.normal()));
      }
      dense[j] = static_cast<float>(std::log1p(x));
      dense_term += dense_weight_[j] * (dense[j] - dense_mu_[j]);
    }
    return lin / std::sqrt(static_cast<double>(kSparse)) + pair / kSparse + dense_term + cluster_bias_[cl];
  }

 private:
  // Each feature's values in order of their probability under the hidden model, most
  // probable first (ties by the id as drawn): position_[f][id]. Wanted by id_order =
  // frequency (the ids written are the positions, as prepare numbers a vocabulary; the
  // hidden model keeps the ids as drawn) and group_by = frequency (a value's latent group
  // is its band of positions).
  void order_by_frequency() {
    std::vector<std::vector<double>> prob(kSparse);
    for (int f = 0; f < kSparse; ++f) {
      const int64_t n = card_[f];
      std::vector<double> zipf(n), rank(n);  // P(Zipf rank r), P(drawn rank r)
      double total = 0;
      for (int64_t r = 0; r < n; ++r) total += zipf[r] = std::pow(static_cast<double>(r + 1), -c_.zipf_exponent);
      for (int64_t r = 0; r < n; ++r) rank[r] = (1 - c_.cooccurrence) * zipf[r] / total;
      const double per_cluster = c_.cooccurrence / c_.clusters / total;
      for (int cl = 0; cl < c_.clusters; ++cl) {
        const int64_t shift = shift_[f * c_.clusters + cl];
        for (int64_t r = 0; r < n; ++r) rank[(r + shift) % n] += per_cluster * zipf[r];
      }
      std::vector<double>& p = prob[f];
      p.assign(n, 0.0);
      const double own = kParent[f] >= 0 ? 1 - c_.duplicate : 1;
      for (int64_t r = 0; r < n; ++r) {
        p[static_cast<int64_t>((static_cast<__uint128_t>(mult_[f]) * r + add_[f]) % n)] += own * rank[r];
      }
      if (kParent[f] >= 0) {
        const std::vector<double>& parent = prob[kParent[f]];
        for (size_t v = 0; v < parent.size(); ++v) {
          p[mix64(derive_seed(c_.seed, f, v)) % static_cast<uint64_t>(n)] += c_.duplicate * parent[v];
        }
      }
      std::vector<uint32_t> order(n);
      std::iota(order.begin(), order.end(), 0u);
      std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return p[a] > p[b]; });
      std::vector<uint32_t>& position = position_.emplace_back(n);
      for (int64_t i = 0; i < n; ++i) position[order[i]] = static_cast<uint32_t>(i);
    }
  }

  void value_vector(int f, uint64_t id, float* u) const {
    const uint64_t h = derive_seed(c_.seed, 0x7a1 + f, id);
    const auto g = groups_by_frequency_ ? static_cast<int>(int64_t{position_[f][id]} * c_.latent_groups / card_[f])
                                        : static_cast<int>(h % static_cast<uint64_t>(c_.latent_groups));
    Rng noise(h);
    const float* gv = group_vec_.data() + (static_cast<int64_t>(f) * c_.latent_groups + g) * c_.latent_dim;
    for (int j = 0; j < c_.latent_dim; ++j) u[j] = gv[j] + static_cast<float>(c_.value_noise * noise.normal());
    if (c_.cooccur_signal > 0) {
      const float* cv = cluster_vec_.data() + static_cast<int64_t>(home_cluster(f, id)) * c_.latent_dim;
      for (int j = 0; j < c_.latent_dim; ++j) u[j] += static_cast<float>(c_.cooccur_signal) * cv[j];
    }
  }

  // The cluster under which value id of feature f has its smallest Zipf rank: the cluster
  // whose rows it mostly shares when drawn from a cluster (the first on ties).
  int home_cluster(int f, uint64_t id) const {
    const int64_t n = card_[f];
    const auto diff = static_cast<int64_t>((static_cast<int64_t>(id) - add_[f] + n) % n);
    const auto r = static_cast<int64_t>(static_cast<__uint128_t>(inverse_mult_[f]) * diff % n);  // drawn rank
    int best = 0;
    int64_t best_rank = n;
    for (int cl = 0; cl < c_.clusters; ++cl) {
      const int64_t rank = (r - shift_[f * c_.clusters + cl] + n) % n;
      if (rank < best_rank) best_rank = rank, best = cl;
    }
    return best;
  }

  SyntheticConfig c_;
  std::vector<int64_t> card_;
  bool ids_by_frequency_, groups_by_frequency_;
  std::vector<ZipfSampler> zipf_;
  std::vector<int64_t> mult_, add_, shift_;
  std::vector<int64_t> inverse_mult_;  // per feature, when cooccur_signal > 0
  std::vector<float> cluster_vec_;     // clusters x latent_dim, when cooccur_signal > 0
  std::vector<float> group_vec_, linear_, dense_mu_, dense_weight_, dense_cluster_, cluster_bias_;
  std::vector<std::vector<uint32_t>> position_;  // per feature: frequency position of each drawn id (or none)
};

struct Chunk {
  std::vector<float> dense, raw_logit;
  std::vector<uint32_t> ids;
  std::vector<float> uniforms;  // for the label draw
};

void draw_chunk(const HiddenModel& m, uint64_t seed, int split, int64_t chunk, int64_t rows, Chunk& out) {
  Rng rng(derive_seed(seed, 0x5b17 + split, chunk));
  out.dense.resize(rows * kDense);
  out.ids.resize(rows * kSparse);
  out.raw_logit.resize(rows);
  out.uniforms.resize(rows);
  for (int64_t r = 0; r < rows; ++r) {
    out.raw_logit[r] = static_cast<float>(m.draw(rng, out.dense.data() + r * kDense, out.ids.data() + r * kSparse));
    out.uniforms[r] = static_cast<float>(rng.uniform());
  }
}

double sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

// Rows as raw Criteo text: label, 13 integer counts (empty when 0, as missing values are),
// 26 categorical values as 8 hex digits (a fixed bijection-free hash of feature and id).
class CriteoTextWriter {
 public:
  CriteoTextWriter(const std::string& path, uint64_t seed) : file_(path), seed_(seed) {}
  void add_row(float label, const float* dense, const uint32_t* ids) {
    buf_ += label > 0.5f ? '1' : '0';
    for (int j = 0; j < kDense; ++j) {
      buf_ += '\t';
      const auto x = static_cast<int64_t>(std::llround(std::expm1(static_cast<double>(dense[j]))));
      if (x != 0) fmt::format_to(std::back_inserter(buf_), "{}", x);
    }
    for (int f = 0; f < kSparse; ++f) {
      fmt::format_to(std::back_inserter(buf_), "\t{:08x}", static_cast<uint32_t>(derive_seed(seed_, 0xC7 + f, ids[f])));
    }
    buf_ += '\n';
    if (buf_.size() > (1 << 20)) flush();
  }
  void finish() {
    flush();
    file_.commit();
  }

 private:
  void flush() {
    file_.write(buf_);
    buf_.clear();
  }
  AtomicFile file_;  // removed unless finished
  uint64_t seed_;
  std::string buf_;
};

}  // namespace

nlohmann::json SyntheticConfig::to_json() const {
  nlohmann::json j = {{"train_rows", train_rows},
                      {"valid_rows", valid_rows},
                      {"test_rows", test_rows},
                      {"scale", scale},
                      {"uniform_cardinality", uniform_cardinality},
                      {"zipf_exponent", zipf_exponent},
                      {"latent_dim", latent_dim},
                      {"latent_groups", latent_groups},
                      {"clusters", clusters},
                      {"value_noise", value_noise},
                      {"group_scale", group_scale},
                      {"cooccurrence", cooccurrence},
                      {"duplicate", duplicate},
                      {"logit_scale", logit_scale},
                      {"ctr", ctr},
                      {"seed", seed},
                      {"format", format}};
  // Named only when not the default, so that data written before the option existed keeps
  // its metadata and vocabulary identity.
  if (id_order != "random") j["id_order"] = id_order;
  if (group_by != "random") j["group_by"] = group_by;
  if (cooccur_signal != 0) j["cooccur_signal"] = cooccur_signal;
  return j;
}

const std::vector<int64_t>& criteo_kaggle_cardinalities() {
  static const std::vector<int64_t> c = {1460,  583,  10131227, 2202608, 305, 24,     12517,   633,   3,
                                         93145, 5683, 8351593,  3194,    27,  14992,  5461306, 10,    5652,
                                         2173,  4,    7046547,  18,      15,  286181, 105,     142572};
  return c;
}

std::vector<int64_t> synthetic_cardinalities(const SyntheticConfig& c) {
  CEMBED_CHECK(c.scale > 0, "synthetic: scale must be positive, got {}", c.scale);
  std::vector<int64_t> out;
  for (int64_t n : criteo_kaggle_cardinalities()) {
    if (c.uniform_cardinality > 0) {
      out.push_back(c.uniform_cardinality);
    } else {
      // Small features keep their size (up to 16 values); the rest scale.
      out.push_back(
          std::max(std::min<int64_t>(n, 16), static_cast<int64_t>(std::ceil(static_cast<double>(n) * c.scale))));
    }
  }
  return out;
}

SyntheticSummary write_synthetic(const SyntheticConfig& c, const std::string& out_dir, int threads) {
  CEMBED_CHECK(c.train_rows > 0 && c.test_rows > 0 && c.valid_rows >= 0, "synthetic: row counts must be positive");
  CEMBED_CHECK(c.latent_dim >= 1 && c.latent_dim <= 16, "synthetic: latent_dim must be in [1, 16]");
  CEMBED_CHECK(c.clusters >= 1 && c.latent_groups >= 1, "synthetic: clusters and latent_groups must be positive");
  CEMBED_CHECK(c.ctr > 0 && c.ctr < 1, "synthetic: ctr must be in (0, 1)");
  CEMBED_CHECK(c.cooccurrence >= 0 && c.cooccurrence <= 1 && c.duplicate >= 0 && c.duplicate <= 1,
               "synthetic: cooccurrence and duplicate are probabilities (0 to 1)");
  CEMBED_CHECK(c.group_scale >= 0 && c.value_noise >= 0, "synthetic: group_scale and value_noise must be >= 0");
  CEMBED_CHECK(std::isfinite(c.cooccur_signal) && c.cooccur_signal >= 0 && c.cooccur_signal <= 100,
               "synthetic: cooccur_signal must be in [0, 100], got {}", c.cooccur_signal);
  CEMBED_CHECK(c.id_order == "random" || c.id_order == "frequency",
               "synthetic: id_order must be random or frequency, got '{}'", c.id_order);
  CEMBED_CHECK(c.group_by == "random" || c.group_by == "frequency",
               "synthetic: group_by must be random or frequency, got '{}'", c.group_by);
  CEMBED_CHECK(c.format == "cds" || c.format == "criteo", "synthetic: format must be cds or criteo, got '{}'",
               c.format);
  const auto start = std::chrono::steady_clock::now();
  std::filesystem::create_directories(out_dir);
  const HiddenModel model(c);

  // Standardise the logit on a pilot sample (its own stream), then find the bias giving `ctr`.
  Chunk pilot;
  draw_chunk(model, c.seed, 99, 0, 20000, pilot);
  double mean = 0, var = 0;
  for (float z : pilot.raw_logit) mean += z;
  mean /= static_cast<double>(pilot.raw_logit.size());
  for (float z : pilot.raw_logit) var += (z - mean) * (z - mean);
  const double sd = std::sqrt(var / static_cast<double>(pilot.raw_logit.size()));
  const double scale = c.logit_scale / std::max(sd, 1e-9);
  double lo = -20, hi = 20;
  for (int it = 0; it < 60; ++it) {
    const double mid = 0.5 * (lo + hi);
    double p = 0;
    for (float z : pilot.raw_logit) p += sigmoid(mid + scale * (z - mean));
    (p / static_cast<double>(pilot.raw_logit.size()) < c.ctr ? lo : hi) = mid;
  }
  const double bias = 0.5 * (lo + hi);

  DatasetSchema schema;
  const auto& card = model.cardinalities();
  for (int j = 0; j < kDense; ++j) schema.dense_names.push_back("I" + std::to_string(j + 1));
  for (int f = 0; f < kSparse; ++f) {
    schema.sparse.push_back({"C" + std::to_string(f + 1), card[f]});
    schema.multi_hot.push_back(false);
  }
  // The generator's settings that decide what each value id means (not the row counts,
  // the output format or the labels' calibration): the datasets' vocabulary identity.
  nlohmann::json vocab = c.to_json();
  for (const char* k : {"train_rows", "valid_rows", "test_rows", "format", "ctr", "logit_scale"}) vocab.erase(k);
  const std::string vocab_text = vocab.dump();
  schema.vocabulary_id = fmt::format("synthetic:{:016x}", checksum64(vocab_text.data(), vocab_text.size()));

  SyntheticSummary summary;
  summary.stats["config"] = c.to_json();
  summary.stats["cardinalities"] = card;
  const std::pair<const char*, int64_t> splits[] = {
      {"train", c.train_rows}, {"valid", c.valid_rows}, {"test", c.test_rows}};
  threads = std::max(1, threads);
  for (int s = 0; s < 3; ++s) {
    const char* name = splits[s].first;
    const int64_t rows = splits[s].second;  // not a structured binding: OpenMP regions below use it
    if (rows == 0) continue;
    const bool text = c.format == "criteo";
    const std::string path = (std::filesystem::path(out_dir) / (std::string(name) + (text ? ".txt" : ".cds"))).string();
    std::unique_ptr<DatasetWriter> writer;
    std::unique_ptr<CriteoTextWriter> text_writer;
    if (text) {
      text_writer = std::make_unique<CriteoTextWriter>(path, c.seed);
    } else {
      writer = std::make_unique<DatasetWriter>(path, schema);
    }
    std::vector<float> probs;
    std::vector<float> labels;
    probs.reserve(rows);
    labels.reserve(rows);
    const int64_t chunks = (rows + kChunk - 1) / kChunk;
    std::vector<Chunk> block(threads);
    std::vector<std::span<const Id>> bags(kSparse);
    for (int64_t first = 0; first < chunks; first += threads) {
      const int64_t count = std::min<int64_t>(threads, chunks - first);
#pragma omp parallel for num_threads(threads) schedule(static, 1)
      for (int64_t i = 0; i < count; ++i) {
        const int64_t ch = first + i;
        draw_chunk(model, c.seed, s, ch, std::min(kChunk, rows - ch * kChunk), block[i]);
      }
      for (int64_t i = 0; i < count; ++i) {
        const Chunk& chunk = block[i];
        const int64_t n = static_cast<int64_t>(chunk.raw_logit.size());
        for (int64_t r = 0; r < n; ++r) {
          const double p = sigmoid(bias + scale * (chunk.raw_logit[r] - mean));
          const float label = chunk.uniforms[r] < p ? 1.0f : 0.0f;
          probs.push_back(static_cast<float>(p));
          labels.push_back(label);
          for (int f = 0; f < kSparse; ++f) bags[f] = {chunk.ids.data() + r * kSparse + f, 1};
          if (text) {
            text_writer->add_row(label, chunk.dense.data() + r * kDense, chunk.ids.data() + r * kSparse);
          } else {
            writer->add_row(label, {chunk.dense.data() + r * kDense, kDense}, bags);
          }
        }
      }
    }
    const double ctr = std::accumulate(labels.begin(), labels.end(), 0.0) / static_cast<double>(rows);
    nlohmann::json split_stats = {{"rows", rows},
                                  {"ctr", ctr},
                                  {"bayes_auc", roc_auc(probs, labels)},
                                  {"bayes_logloss", log_loss(probs, labels)}};
    nlohmann::json meta = {
        {"source", "synthetic"}, {"split", name}, {"generator", c.to_json()}, {"stats", split_stats}};
    if (text) {
      text_writer->finish();
    } else {
      writer->set_metadata(meta);
      writer->finish();
    }
    summary.files.push_back(path);
    summary.stats[name] = split_stats;
  }
  summary.stats["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  write_file_atomically((std::filesystem::path(out_dir) / "synthetic.json").string(), summary.stats.dump(2) + "\n");
  return summary;
}

}  // namespace cembed
