// Ranking evaluation (leave-latest-out), for data prepared with a schema that names the
// user and item features (`ranking = { user = ..., item = ... }`, see docs/data.md).
//
// Every positive row of the test set (a user's held-out latest interaction with label 1)
// is a query: its item is ranked by the model's score among `negatives` items drawn (seeded)
// from the items the user never interacted with in the given datasets, or among all of
// them. The candidate rows are the test row with the item's features replaced by the
// candidate's (item id and its side features). Ties rank pessimistically.
//   rank     = 1 + #{candidates scoring >= the held-out item}
//   nDCG@k   = 1 / log2(rank + 1) if rank <= k, else 0      (one relevant item)
//   HitRate@k = [rank <= k]
//   AUC      = (#{scored below} + #{tied} / 2) / #candidates
// each averaged over queries.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace cembed {

class Dataset;
class Dlrm;

struct RankingConfig {
  int k = 10;
  int64_t negatives = 100;  // 0: every unseen item (ranges::ranking_negatives in trainer.h)
  uint64_t seed = 1;
};

struct RankingResult {
  int64_t queries = 0;
  double ndcg = 0, hit_rate = 0, auc = 0;
  int k = 10;
  int64_t negatives = 0;  // per query (0: all unseen items)
  double seconds = 0;
  nlohmann::json to_json() const;
};

// Metrics of fixed scores: positive[q] is query q's held-out item's score, negative[q] its
// candidates' scores.
RankingResult ranking_metrics(std::span<const double> positive, const std::vector<std::vector<double>>& negative,
                              int k);

// `history`: datasets whose (user, item) pairs count as seen (train, valid, test).
RankingResult evaluate_ranking(Dlrm& model, const Dataset& test, std::span<const Dataset* const> history,
                               const RankingConfig& config);

}  // namespace cembed
