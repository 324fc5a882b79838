// The epoch order of data-parallel training (src/train/epoch_order.h): shards, shares, and
// one process serving every shard seeing the batches of the ranks together.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "train/epoch_order.h"
#include "util/random.h"

namespace cembed::train_run {
namespace {

TEST(EpochOrder, OneShardIsOnePermutationOfEveryRowCutIntoBatches) {
  const int64_t rows = 1000, batch = 64;
  const uint64_t seed = 7;
  const EpochOrder order(rows, batch, 1, seed, 3, true, 0, 1);
  // The permutation of earlier versions, written out: Fisher-Yates from (seed, epoch).
  std::vector<int64_t> expected(rows);
  std::iota(expected.begin(), expected.end(), 0);
  Rng rng(derive_seed(seed, 0xE90C, 3));
  for (int64_t i = rows - 1; i > 0; --i) std::swap(expected[i], expected[rng.below(static_cast<uint64_t>(i + 1))]);
  ASSERT_EQ(order.batches(), (rows + batch - 1) / batch);
  std::vector<int64_t> got;
  for (int64_t k = 0; k < order.batches(); ++k) {
    const auto b = order.batch(k);
    EXPECT_EQ(static_cast<int64_t>(b.size()), std::min(batch, rows - k * batch)) << "batch " << k;
    EXPECT_EQ(order.global_batch_size(k), static_cast<int64_t>(b.size()));
    got.insert(got.end(), b.begin(), b.end());
  }
  EXPECT_EQ(got, expected);
}

TEST(EpochOrder, EachRankReadsOnlyItsShardAndTheRanksTogetherVisitEveryRowOnce) {
  const int64_t rows = 1003, batch = 10;
  const int shards = 3;
  std::vector<int> seen(rows, 0);
  for (int s = 0; s < shards; ++s) {
    const EpochOrder order(rows, batch, shards, 11, 0, true, s, s + 1);
    const int64_t begin = rows * s / shards, end = rows * (s + 1) / shards;
    const int64_t share = batch / shards + (s < batch % shards ? 1 : 0);
    EXPECT_EQ(order.batches(), batches_per_epoch(rows, batch, shards));
    for (int64_t k = 0; k < order.batches(); ++k) {
      const auto b = order.batch(k);
      EXPECT_LE(static_cast<int64_t>(b.size()), share);
      for (int64_t r : b) {
        ASSERT_TRUE(r >= begin && r < end) << "rank " << s << " got row " << r << " outside its shard";
        ++seen[r];
      }
    }
  }
  for (int64_t r = 0; r < rows; ++r) ASSERT_EQ(seen[r], 1) << "row " << r;
}

TEST(EpochOrder, OneProcessServingEveryShardSeesTheRanksBatchesInRankOrder) {
  const int64_t rows = 517, batch = 32;
  const int shards = 4;
  const EpochOrder all(rows, batch, shards, 5, 2, true, 0, shards);
  for (int64_t k = 0; k < all.batches(); ++k) {
    std::vector<int64_t> joined;
    for (int s = 0; s < shards; ++s) {
      const auto part = EpochOrder(rows, batch, shards, 5, 2, true, s, s + 1).batch(k);
      joined.insert(joined.end(), part.begin(), part.end());
    }
    EXPECT_EQ(all.batch(k), joined) << "batch " << k;
    EXPECT_EQ(all.global_batch_size(k), static_cast<int64_t>(joined.size()));
  }
}

TEST(EpochOrder, ShardsArePermutedApartAndNotWithoutShuffle) {
  const EpochOrder a(100, 10, 2, 5, 0, true, 0, 2), b(100, 10, 2, 5, 0, false, 0, 2);
  EXPECT_NE(a.batch(0), b.batch(0));
  EXPECT_EQ(b.batch(0), (std::vector<int64_t>{0, 1, 2, 3, 4, 50, 51, 52, 53, 54}));
}

TEST(EpochOrder, ABatchSmallerThanTheShardCountIsRefused) {
  try {
    EpochOrder(100, 3, 4, 1, 0, true, 0, 1);
    FAIL() << "no error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("a batch of 3 rows cannot be split over 4 shards"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace cembed::train_run
