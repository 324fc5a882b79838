// The order in which an epoch visits the training rows, split into shards for data
// parallelism (docs/distributed.md).
//
// The rows are cut into `shards` contiguous ranges (shard s: rows [s*R/S, (s+1)*R/S)), each
// permuted on its own by (seed, epoch, s) when shuffling. Batch k of the epoch is shard 0's
// k-th share, then shard 1's, ..., where shard s's share holds B/S rows (one more for the
// first B%S shards) and may run short or empty at the end of the epoch. The epoch has as
// many batches as its longest shard needs. With one shard this is one permutation of every
// row drawn from (seed, epoch), cut into batches of B.
//
// A process serves shards [first, last): rank r of S ranks serves [r, r+1), so it reads only
// its own rows, and one process serving [0, S) sees the same global batches as S ranks.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace cembed::train_run {

class EpochOrder {
 public:
  EpochOrder(int64_t rows, int64_t batch_size, int shards, uint64_t seed, int64_t epoch, bool shuffle, int first,
             int last);
  int64_t batches() const { return batches_; }
  // The rows this process gathers for batch k (its shards' shares in shard order).
  std::vector<int64_t> batch(int64_t k) const;
  // Rows in batch k over every shard: the global batch's size.
  int64_t global_batch_size(int64_t k) const;

 private:
  struct Shard {
    int64_t rows = 0, share = 0;
    std::vector<int64_t> order;  // only for the shards this process serves
  };
  int64_t share_rows(const Shard& s, int64_t k) const;
  std::vector<Shard> shards_;
  int first_ = 0, last_ = 0;
  int64_t batches_ = 0;
};

// Batches in an epoch of `rows` rows (the same for every process of the job).
int64_t batches_per_epoch(int64_t rows, int64_t batch_size, int shards);

}  // namespace cembed::train_run
