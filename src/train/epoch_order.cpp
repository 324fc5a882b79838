// EpochOrder: shards, their permutations and the batches cut from them (epoch_order.h).
#include "train/epoch_order.h"

#include <algorithm>
#include <numeric>

#include "util/check.h"
#include "util/random.h"

namespace cembed::train_run {
namespace {

int64_t shard_begin(int64_t rows, int shards, int s) { return rows * s / shards; }
int64_t shard_share(int64_t batch_size, int shards, int s) { return batch_size / shards + (s < batch_size % shards); }

}  // namespace

int64_t batches_per_epoch(int64_t rows, int64_t batch_size, int shards) {
  int64_t batches = 0;
  for (int s = 0; s < shards; ++s) {
    const int64_t n = shard_begin(rows, shards, s + 1) - shard_begin(rows, shards, s);
    const int64_t share = shard_share(batch_size, shards, s);
    batches = std::max(batches, (n + share - 1) / share);
  }
  return batches;
}

EpochOrder::EpochOrder(int64_t rows, int64_t batch_size, int shards, uint64_t seed, int64_t epoch, bool shuffle,
                       int first, int last)
    : first_(first), last_(last) {
  CEMBED_CHECK(shards >= 1 && batch_size >= shards,
               "a batch of {} rows cannot be split over {} shards (each needs at least one row): give --batch-size "
               "of at least {}",
               batch_size, shards, shards);
  CEMBED_CHECK(0 <= first && first < last && last <= shards, "shards [{}, {}) are not among {}", first, last, shards);
  shards_.resize(shards);
  for (int s = 0; s < shards; ++s) {
    Shard& sh = shards_[s];
    const int64_t begin = shard_begin(rows, shards, s);
    sh.rows = shard_begin(rows, shards, s + 1) - begin;
    sh.share = shard_share(batch_size, shards, s);
    batches_ = std::max(batches_, (sh.rows + sh.share - 1) / sh.share);
    if (s < first || s >= last) continue;
    sh.order.resize(sh.rows);
    std::iota(sh.order.begin(), sh.order.end(), begin);
    if (shuffle) {
      // One shard keeps the single permutation of earlier versions: (seed, epoch) alone.
      const uint64_t stream = derive_seed(seed, 0xE90C, epoch);
      Rng rng(shards == 1 ? stream : derive_seed(stream, 0x54A2D, s));
      for (int64_t i = sh.rows - 1; i > 0; --i)
        std::swap(sh.order[i], sh.order[rng.below(static_cast<uint64_t>(i + 1))]);
    }
  }
}

int64_t EpochOrder::share_rows(const Shard& s, int64_t k) const {
  return std::clamp<int64_t>(s.rows - k * s.share, 0, s.share);
}

std::vector<int64_t> EpochOrder::batch(int64_t k) const {
  std::vector<int64_t> out;
  for (int s = first_; s < last_; ++s) {
    const Shard& sh = shards_[s];
    const int64_t n = share_rows(sh, k);
    if (n == 0) continue;
    out.insert(out.end(), sh.order.begin() + k * sh.share, sh.order.begin() + k * sh.share + n);
  }
  return out;
}

int64_t EpochOrder::global_batch_size(int64_t k) const {
  int64_t n = 0;
  for (const Shard& sh : shards_) n += share_rows(sh, k);
  return n;
}

}  // namespace cembed::train_run
