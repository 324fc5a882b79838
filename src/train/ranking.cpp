#include "cembed/ranking.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "cembed/dataset.h"
#include "cembed/dlrm.h"
#include "cembed/trainer.h"
#include "util/check.h"
#include "util/random.h"

namespace cembed {

nlohmann::json RankingResult::to_json() const {
  return {{"queries", queries},        {"k", k},     {"negatives", negatives}, {"ndcg_at_k", ndcg},
          {"hit_rate_at_k", hit_rate}, {"auc", auc}, {"seconds", seconds}};
}

RankingResult ranking_metrics(std::span<const double> positive, const std::vector<std::vector<double>>& negative,
                              int k) {
  CEMBED_CHECK(positive.size() == negative.size(), "ranking: {} positives for {} candidate lists", positive.size(),
               negative.size());
  CEMBED_CHECK(k >= 1, "ranking: k must be at least 1, got {}", k);
  RankingResult r;
  r.k = k;
  for (size_t q = 0; q < positive.size(); ++q) {
    if (negative[q].empty()) continue;
    int64_t above = 0, tied = 0;
    for (double s : negative[q]) {
      above += s > positive[q];
      tied += s == positive[q];
    }
    const int64_t rank = 1 + above + tied;
    if (rank <= k) {
      r.ndcg += 1.0 / std::log2(static_cast<double>(rank) + 1.0);
      r.hit_rate += 1.0;
    }
    const auto n = static_cast<double>(negative[q].size());
    r.auc += (n - static_cast<double>(above) - static_cast<double>(tied) + 0.5 * static_cast<double>(tied)) / n;
    ++r.queries;
  }
  if (r.queries > 0) {
    const auto q = static_cast<double>(r.queries);
    r.ndcg /= q;
    r.hit_rate /= q;
    r.auc /= q;
  }
  return r;
}

namespace {

struct ItemCatalogue {
  int user_feature = -1, item_feature = -1;
  std::vector<int> item_features;
  // items[i][j]: ids of item_features[j] for catalogue item i (j = 0 is the item id).
  std::vector<std::vector<std::vector<Id>>> items;
};

ItemCatalogue catalogue_of(const Dataset& test) {
  const auto& meta = test.metadata();
  CEMBED_CHECK(meta.contains("ranking"),
               "{}: no ranking metadata (prepare the data with a schema that names the user and item features: "
               "ranking = {{ user = \"...\", item = \"...\" }})",
               test.path());
  const auto& r = meta["ranking"];
  ItemCatalogue c;
  c.user_feature = r.at("user_feature");
  c.item_feature = r.at("item_feature");
  c.item_features = r.at("item_features").get<std::vector<int>>();
  for (const auto& item : r.at("items")) c.items.push_back(item.get<std::vector<std::vector<Id>>>());
  CEMBED_CHECK(!c.items.empty(), "{}: the item catalogue is empty", test.path());
  return c;
}

}  // namespace

RankingResult evaluate_ranking(Dlrm& model, const Dataset& test, std::span<const Dataset* const> history,
                               const RankingConfig& config) {
  check_range("ranking-k", config.k, ranges::ranking_k);
  check_range("ranking-negatives", static_cast<double>(config.negatives), ranges::ranking_negatives);
  // A history numbered by another vocabulary would mark the wrong items as seen.
  for (const Dataset* h : history) {
    if (h != &test) check_same_vocabulary(*h, test.schema().to_json(), "the test data " + test.path());
  }
  const auto start = std::chrono::steady_clock::now();
  const ItemCatalogue cat = catalogue_of(test);
  const int F = test.schema().num_sparse();
  // Items each user interacted with (by item id).
  std::unordered_map<Id, std::unordered_set<Id>> seen;
  for (const Dataset* d : history) {
    for (int64_t r = 0; r < d->rows(); ++r) {
      const auto u = d->bag(cat.user_feature, r), i = d->bag(cat.item_feature, r);
      if (!u.empty() && !i.empty()) seen[u[0]].insert(i[0]);
    }
  }
  std::vector<double> positive;
  std::vector<std::vector<double>> negative;
  Batch batch;
  std::vector<float> logits;
  Rng rng(derive_seed(config.seed, 0x4a4b));
  for (int64_t r = 0; r < test.rows(); ++r) {
    if (test.labels()[r] != 1.0f) continue;
    const auto u = test.bag(cat.user_feature, r), own = test.bag(cat.item_feature, r);
    if (u.empty() || own.empty() || own[0] == 0) continue;  // OOV item: not rankable
    const auto& user_seen = seen[u[0]];
    std::vector<size_t> pool;
    size_t own_index = cat.items.size();
    for (size_t i = 0; i < cat.items.size(); ++i) {
      const Id item = cat.items[i][0][0];
      if (item == own[0]) own_index = i;
      if (!user_seen.count(item) && item != own[0]) pool.push_back(i);
    }
    if (own_index == cat.items.size() || pool.empty()) continue;
    if (config.negatives > 0 && static_cast<int64_t>(pool.size()) > config.negatives) {
      // Partial Fisher-Yates: the first `negatives` of a seeded shuffle.
      for (int64_t j = 0; j < config.negatives; ++j) {
        std::swap(pool[j], pool[j + rng.below(pool.size() - j)]);
      }
      pool.resize(config.negatives);
    }
    // Batch: the held-out item, then the candidates; the row's other features kept.
    const int64_t n = static_cast<int64_t>(pool.size()) + 1;
    batch.labels.assign(n, 0.0f);
    batch.dense.clear();
    const float* dense = test.dense_row(r);
    const int64_t nd = test.schema().num_dense();
    for (int64_t i = 0; i < n; ++i) batch.dense.insert(batch.dense.end(), dense, dense + nd);
    batch.ids.assign(F, {});
    batch.offsets.assign(F, std::vector<uint32_t>{0});
    for (int64_t i = 0; i < n; ++i) {
      const auto& item = cat.items[i == 0 ? own_index : pool[i - 1]];
      for (int f = 0; f < F; ++f) {
        const auto it = std::find(cat.item_features.begin(), cat.item_features.end(), f);
        if (it != cat.item_features.end()) {
          const auto& ids = item[it - cat.item_features.begin()];
          batch.ids[f].insert(batch.ids[f].end(), ids.begin(), ids.end());
        } else {
          const auto bag = test.bag(f, r);
          batch.ids[f].insert(batch.ids[f].end(), bag.begin(), bag.end());
        }
        batch.offsets[f].push_back(static_cast<uint32_t>(batch.ids[f].size()));
      }
    }
    batch.size = n;
    model.forward(batch, logits);
    positive.push_back(logits[0]);
    negative.emplace_back(logits.begin() + 1, logits.end());
  }
  RankingResult res = ranking_metrics(positive, negative, config.k);
  res.negatives = config.negatives > 0 ? config.negatives : 0;
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return res;
}

}  // namespace cembed
