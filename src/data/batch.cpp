// Batches gathered from a dataset: per feature the bags in CSR form.
#include <cstring>

#include "cembed/dataset.h"

namespace cembed {

std::vector<BagBatch> Batch::bags() const {
  std::vector<BagBatch> out;
  for (size_t f = 0; f < ids.size(); ++f) out.push_back({ids[f], offsets[f], {}});
  return out;
}

constexpr int64_t kParallelLookups = 1 << 14;
// Rows ahead whose data a gather prefetches: the rows are shuffled, so each row's label,
// dense features and each feature's ids miss the caches (docs/benchmarks.md, "Session 16:
// Zen 5").
constexpr int64_t kRowsAhead = 16;

void gather_batch(const Dataset& data, std::span<const int64_t> rows, Batch& out) {
  const auto& s = data.schema();
  const int64_t b = static_cast<int64_t>(rows.size());
  const int nd = s.num_dense();
  out.size = b;
  out.labels.resize(b);
  out.dense.resize(b * nd);
  out.ids.resize(s.num_sparse());
  out.offsets.resize(s.num_sparse());
  for (int64_t i = 0; i < b; ++i) {
    if (i + kRowsAhead < b) {
      const int64_t ahead = rows[i + kRowsAhead];
      __builtin_prefetch(data.labels().data() + ahead);
      if (nd > 0) {
        __builtin_prefetch(data.dense_row(ahead));
        __builtin_prefetch(data.dense_row(ahead) + nd - 1);
      }
    }
    out.labels[i] = data.label(rows[i]);
    std::memcpy(out.dense.data() + i * nd, data.dense_row(rows[i]), nd * sizeof(float));
  }
  // Each feature's bags are read at random places of the file (a cache miss per row and
  // feature); the features go to the threads, each filling its own ids and offsets.
#pragma omp parallel for schedule(dynamic, 1) if (b * s.num_sparse() >= kParallelLookups)
  for (int f = 0; f < s.num_sparse(); ++f) {
    auto& ids = out.ids[f];
    auto& off = out.offsets[f];
    off.resize(b + 1);
    off[0] = 0;
    if (!s.multi_hot[f]) {  // one id per row: written in place, the rows ahead prefetched
      ids.resize(b);
      for (int64_t i = 0; i < b; ++i) {
        if (i + kRowsAhead < b) __builtin_prefetch(data.bag(f, rows[i + kRowsAhead]).data());
        ids[i] = data.bag(f, rows[i])[0];
        off[i + 1] = static_cast<uint32_t>(i + 1);
      }
      continue;
    }
    ids.clear();
    for (int64_t i = 0; i < b; ++i) {
      const auto bag = data.bag(f, rows[i]);
      ids.insert(ids.end(), bag.begin(), bag.end());
      off[i + 1] = static_cast<uint32_t>(ids.size());
    }
  }
}

}  // namespace cembed
