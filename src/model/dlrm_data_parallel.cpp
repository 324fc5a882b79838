// Dlrm::train_step under data parallelism: this rank's share of the global batch forward
// and backward, then three collectives: the global batch size and loss, the dense gradients
// (summed), and the table inputs and gradients of every share (gathered), from which every
// rank applies the same fused table update.
#include <algorithm>
#include <cstring>

#include "cembed/dlrm.h"
#include "util/check.h"

namespace cembed {
namespace {

// One rank's share, packed for the allgather:
//   int64 batch size | int64 id count per feature | uint32 ids (feature after feature)
//   | uint32 bag lengths (batch per feature) | float pooled-vector gradients (batch x dim per feature)
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

double Dlrm::train_step(const Batch& batch, float lr, Communicator& comm) {
  if (comm.size() == 1) return train_step(batch, lr);
  CEMBED_CHECK(dense_opt_ != nullptr, "DLRM: set_optimizers() before train_step()");
  const int features = embeddings_.num_features();
  const int64_t b = batch.size, v = features + 1, d = config_.dim;

  int64_t global[1] = {b};
  comm.allreduce_sum(global);
  const int64_t total = global[0];
  CEMBED_CHECK(total > 0, "data-parallel step: every rank's share of the batch is empty");

  // This share's loss (summed over its rows, as a fraction of the global mean) and gradients.
  double loss_sum[1] = {0.0};
  std::vector<float> dense;
  for (auto g : bottom_.gradients()) dense.insert(dense.end(), g.begin(), g.end());
  for (auto g : top_.gradients()) dense.insert(dense.end(), g.begin(), g.end());
  if (b > 0) {
    loss_sum[0] = forward_backward(batch, static_cast<double>(total));
    dense.clear();
    for (auto g : bottom_.gradients()) dense.insert(dense.end(), g.begin(), g.end());
    for (auto g : top_.gradients()) dense.insert(dense.end(), g.begin(), g.end());
  } else {
    std::fill(dense.begin(), dense.end(), 0.0f);
  }
  comm.allreduce_sum(loss_sum);
  CEMBED_CHECK(std::isfinite(loss_sum[0]), "training diverged: the loss is {} (lower the learning rate)", loss_sum[0]);
  comm.allreduce_sum(dense);
  size_t at = 0;
  for (auto* mlp : {&bottom_, &top_}) {
    for (auto g : mlp->gradients()) {
      std::copy(dense.begin() + static_cast<std::ptrdiff_t>(at),
                dense.begin() + static_cast<std::ptrdiff_t>(at + g.size()), g.begin());
      at += g.size();
    }
  }

  // Every share's bags and pooled-vector gradients, in rank order: the global batch's.
  Packer pack;
  pack.put(&b, 1);
  for (int f = 0; f < features; ++f) {
    const int64_t n = b > 0 ? static_cast<int64_t>(batch.ids[f].size()) : 0;
    pack.put(&n, 1);
  }
  for (int f = 0; f < features && b > 0; ++f) pack.put(batch.ids[f].data(), batch.ids[f].size());
  std::vector<uint32_t> lengths(b);
  for (int f = 0; f < features && b > 0; ++f) {
    for (int64_t i = 0; i < b; ++i) lengths[i] = batch.offsets[f][i + 1] - batch.offsets[f][i];
    pack.put(lengths.data(), lengths.size());
  }
  for (int f = 0; f < features && b > 0; ++f) {
    for (int64_t i = 0; i < b; ++i) pack.put(dt_.data() + i * v * d + (f + 1) * d, static_cast<size_t>(d));
  }
  std::vector<int64_t> counts;
  const std::vector<std::byte> all = comm.allgather(pack.bytes, counts);

  std::vector<std::vector<Id>> ids(features);
  std::vector<std::vector<uint32_t>> offsets(features, std::vector<uint32_t>{0});
  std::vector<std::vector<float>> grads(features);
  for (auto& g : grads) g.reserve(static_cast<size_t>(total * d));
  const std::byte* share = all.data();
  for (int64_t count : counts) {
    Reader in{share, share + count};
    int64_t rows = 0;
    in.get(&rows, 1);
    std::vector<int64_t> n(features);
    in.get(n.data(), n.size());
    for (int f = 0; f < features; ++f) {
      const size_t first = ids[f].size();
      ids[f].resize(first + static_cast<size_t>(n[f]));
      in.get(ids[f].data() + first, static_cast<size_t>(n[f]));
    }
    for (int f = 0; f < features && rows > 0; ++f) {
      lengths.resize(rows);
      in.get(lengths.data(), lengths.size());
      for (uint32_t len : lengths) offsets[f].push_back(offsets[f].back() + len);
    }
    for (int f = 0; f < features && rows > 0; ++f) {
      const size_t first = grads[f].size();
      grads[f].resize(first + static_cast<size_t>(rows * d));
      in.get(grads[f].data() + first, static_cast<size_t>(rows * d));
    }
    CEMBED_CHECK(in.at == in.end, "data-parallel step: a rank's share is longer than its header says");
    share += count;
  }
  std::vector<BagBatch> bags(features);
  std::vector<ConstMatrixView> views(features);
  for (int f = 0; f < features; ++f) {
    CEMBED_CHECK(static_cast<int64_t>(offsets[f].size()) == total + 1,
                 "data-parallel step: feature {} has {} bags in the gathered batch, expected {}", f,
                 offsets[f].size() - 1, total);
    bags[f] = BagBatch{ids[f], offsets[f], {}};
    views[f] = ConstMatrixView(grads[f].data(), total, d, d);
  }
  embeddings_.backward(bags, config_.pooling, views, lr);
  dense_opt_->step(lr);
  return loss_sum[0];
}

}  // namespace cembed
