// Dlrm::train_step under data parallelism: this rank's share of the global batch forward
// and backward, then the collectives: the global batch size and loss; the dense gradients
// (the MLPs', and the arrays of tables exchanged densely) summed; and the table inputs and
// gradients of every share gathered, from which every rank applies the same fused update.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "cembed/dlrm.h"
#include "model/phase_clock.h"
#include "util/check.h"

namespace cembed {
namespace {

// One rank's share, packed for the allgather:
//   int64 batch size | per feature: int64 id count, uint32 ids
//   | per gathered feature: uint32 bag lengths (batch), float pooled-vector gradients (batch x dim)
struct Packer {
  std::vector<std::byte> bytes;
  template <class T>
  void put(const T* data, size_t n) {
    const auto at = bytes.size();
    bytes.resize(at + n * sizeof(T));
    if (n > 0) std::memcpy(bytes.data() + at, data, n * sizeof(T));
  }
};

struct Reader {
  const std::byte* at;
  const std::byte* end;
  template <class T>
  void get(T* data, size_t n) {
    const size_t size = n * sizeof(T);
    CEMBED_CHECK(static_cast<size_t>(end - at) >= size,
                 "data-parallel step: a rank's share is shorter than its header");
    if (n > 0) std::memcpy(data, at, size);
    at += size;
  }
};

}  // namespace

Exchange parse_exchange(const std::string& name) {
  if (name == "auto") return Exchange::Auto;
  if (name == "sparse") return Exchange::Sparse;
  if (name == "dense") return Exchange::Dense;
  fail("exchange '{}': expected auto, sparse or dense", name);
}

double Dlrm::train_step(const Batch& batch, float lr, Communicator& comm, Exchange exchange) {
  if (comm.size() == 1) return train_step(batch, lr);
  CEMBED_CHECK(dense_opt_ != nullptr, "DLRM: set_optimizers() before train_step()");
  const int features = embeddings_.num_features(), tables = embeddings_.num_tables();
  const int64_t b = batch.size, v = features + 1, d = config_.dim;
  PhaseClock clock;

  int64_t global[1] = {b};
  comm.allreduce_sum(global);
  const int64_t total = global[0];
  CEMBED_CHECK(total > 0, "data-parallel step: every rank's share of the batch is empty");

  // Which tables send their array's gradient (dense) rather than their features' share of
  // the batch (sparse): decided from sizes every rank knows, so the same on every rank.
  const MemoryPlan& plan = embeddings_.plan();
  std::vector<char> sparse_table(tables, 1), gathered(features, 1);
  std::vector<int> dense_tables;
  int64_t dense_floats = 0;
  const int64_t share = (total + comm.size() - 1) / comm.size();
  for (int t = 0; t < tables; ++t) {
    const int64_t size = embeddings_.table(t).dense_gradient_size();
    if (size == 0 || exchange == Exchange::Sparse) continue;
    const int64_t sparse_bytes =
        share * static_cast<int64_t>(plan.tables[t].features.size()) * (2 * sizeof(uint32_t) + d * sizeof(float));
    if (exchange == Exchange::Auto && size * static_cast<int64_t>(sizeof(float)) >= sparse_bytes) continue;
    sparse_table[t] = 0;
    for (int f : plan.tables[t].features) gathered[f] = 0;
    dense_tables.push_back(t);
    dense_floats += size;
  }

  // This share's loss (its rows' sum, as a fraction of the global mean) and gradients: the
  // MLPs', then each dense table's array, summed over the ranks in one allreduce.
  double loss_sum[1] = {0.0};
  // The MLPs' gradient matrices, bottom then top: flattened into `dense` and back.
  std::vector<std::span<float>> mlp_grads = bottom_.gradients();
  for (auto g : top_.gradients()) mlp_grads.push_back(g);
  int64_t mlp_floats = 0;
  for (auto g : mlp_grads) mlp_floats += static_cast<int64_t>(g.size());
  std::vector<float> dense(static_cast<size_t>(mlp_floats + dense_floats), 0.0f);
  const auto bags_here = batch.bags();
  clock.lap(phases_.exchange);
  if (b > 0) {
    loss_sum[0] = forward_backward(batch, static_cast<double>(total));
    size_t at = 0;
    for (auto g : mlp_grads) {
      std::copy(g.begin(), g.end(), dense.begin() + static_cast<std::ptrdiff_t>(at));
      at += g.size();
    }
    for (int t : dense_tables) {
      EmbeddingTable& table = embeddings_.table(t);
      std::vector<BagBatch> tb;
      std::vector<ConstMatrixView> tv;
      for (int f : plan.tables[t].features) {
        tb.push_back(bags_here[f]);
        tv.emplace_back(dt_.data() + (f + 1) * d, b, d, v * d);
      }
      const auto n = static_cast<size_t>(table.dense_gradient_size());
      table.add_gradient(tb, config_.pooling, tv, std::span<float>(dense.data() + at, n));
      at += n;
    }
  }
  clock.lap(phases_.forward_backward);
  comm.allreduce_sum(loss_sum);
  CEMBED_CHECK(std::isfinite(loss_sum[0]), "training diverged: the loss is {} (lower the learning rate)", loss_sum[0]);
  comm.allreduce_sum(dense);
  size_t at = 0;
  for (auto g : mlp_grads) {
    std::copy(dense.begin() + static_cast<std::ptrdiff_t>(at),
              dense.begin() + static_cast<std::ptrdiff_t>(at + g.size()), g.begin());
    at += g.size();
  }

  // Every share's bags and pooled-vector gradients of the gathered features, in rank order:
  // the global batch's.
  Packer pack;
  pack.put(&b, 1);
  for (int f = 0; f < features; ++f) {
    const int64_t n = b > 0 && gathered[f] ? static_cast<int64_t>(batch.ids[f].size()) : 0;
    pack.put(&n, 1);
    if (n > 0) pack.put(batch.ids[f].data(), batch.ids[f].size());
  }
  std::vector<uint32_t> lengths(b);
  for (int f = 0; f < features && b > 0; ++f) {
    if (!gathered[f]) continue;
    for (int64_t i = 0; i < b; ++i) lengths[i] = batch.offsets[f][i + 1] - batch.offsets[f][i];
    pack.put(lengths.data(), lengths.size());
    for (int64_t i = 0; i < b; ++i) pack.put(dt_.data() + i * v * d + (f + 1) * d, static_cast<size_t>(d));
  }
  std::vector<int64_t> counts;
  const std::vector<std::byte> all = comm.allgather(pack.bytes, counts);

  std::vector<std::vector<Id>> ids(features);
  std::vector<std::vector<uint32_t>> offsets(features, std::vector<uint32_t>{0});
  std::vector<std::vector<float>> grads(features);
  const std::byte* from = all.data();
  for (int64_t count : counts) {
    Reader in{from, from + count};
    int64_t rows = 0;
    in.get(&rows, 1);
    for (int f = 0; f < features; ++f) {
      int64_t n = 0;
      in.get(&n, 1);
      const size_t first = ids[f].size();
      ids[f].resize(first + static_cast<size_t>(n));
      in.get(ids[f].data() + first, static_cast<size_t>(n));
    }
    for (int f = 0; f < features && rows > 0; ++f) {
      if (!gathered[f]) continue;
      lengths.resize(rows);
      in.get(lengths.data(), lengths.size());
      for (uint32_t len : lengths) offsets[f].push_back(offsets[f].back() + len);
      const size_t first = grads[f].size();
      grads[f].resize(first + static_cast<size_t>(rows * d));
      in.get(grads[f].data() + first, static_cast<size_t>(rows * d));
    }
    CEMBED_CHECK(in.at == in.end, "data-parallel step: a rank's share is longer than its header says");
    from += count;
  }
  std::vector<BagBatch> bags(features);
  std::vector<ConstMatrixView> views(features);
  for (int f = 0; f < features; ++f) {
    if (!gathered[f]) continue;  // its table is updated from the dense gradient below
    CEMBED_CHECK(static_cast<int64_t>(offsets[f].size()) == total + 1,
                 "data-parallel step: feature {} has {} bags in the gathered batch, expected {}", f,
                 offsets[f].size() - 1, total);
    bags[f] = BagBatch{ids[f], offsets[f], {}};
    views[f] = ConstMatrixView(grads[f].data(), total, d, d);
  }
  clock.lap(phases_.exchange);
  embeddings_.backward(bags, config_.pooling, views, lr, sparse_table);
  for (int t : dense_tables) {
    EmbeddingTable& table = embeddings_.table(t);
    const auto n = static_cast<size_t>(table.dense_gradient_size());
    table.apply_gradient(std::span<const float>(dense.data() + at, n), lr);
    at += n;
  }
  clock.lap(phases_.table_update);
  dense_opt_->step(lr);
  clock.lap(phases_.dense_update);
  return loss_sum[0];
}

}  // namespace cembed
