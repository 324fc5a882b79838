// Bags: the sparse input of one categorical feature for one batch, in CSR form.
//
// For a batch of B rows, bag b holds the ids ids[offsets[b]] .. ids[offsets[b+1]-1]
// (an empty bag is allowed and pools to the zero vector). offsets has B+1 entries,
// offsets[0] == 0 and offsets[B] == ids.size(). weights is empty (every id weighs 1)
// or has one weight per id. One-hot features are bags of length 1.
#pragma once

#include <cstdint>
#include <span>

namespace cembed {

// Vocabulary id of a categorical value inside its feature: 0 .. cardinality-1.
using Id = uint32_t;

enum class Pooling { Sum, Mean };

struct BagBatch {
  std::span<const Id> ids;
  std::span<const uint32_t> offsets;  // size batch_size() + 1
  std::span<const float> weights;     // empty, or ids.size()

  int64_t batch_size() const { return offsets.empty() ? 0 : static_cast<int64_t>(offsets.size()) - 1; }
  int64_t bag_length(int64_t b) const { return offsets[b + 1] - offsets[b]; }
};

// Bag b holds exactly id b, with weight 1 (no weights): one-hot bags, DLRM's batches. The
// kernels' fast paths for them; false for no offsets at all.
inline bool one_id_per_bag(std::span<const uint32_t> offsets, std::span<const float> weights) {
  if (!weights.empty() || offsets.empty() || offsets.size() - 1 > UINT32_MAX) return false;
  // An or of offsets[b] ^ b, which vectorizes (an and of 64-bit compares did not: 4 % of a
  // cached update).
  uint32_t differ = 0;
  for (size_t b = 0; b < offsets.size(); ++b) differ |= offsets[b] ^ static_cast<uint32_t>(b);
  return differ == 0;
}

// A row-major matrix view: row r starts at data + r * stride; each row holds `cols` floats.
struct MatrixView {
  float* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t stride = 0;
  float* row(int64_t r) const { return data + r * stride; }
};

struct ConstMatrixView {
  const float* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t stride = 0;
  ConstMatrixView() = default;
  ConstMatrixView(const float* d, int64_t r, int64_t c, int64_t s) : data(d), rows(r), cols(c), stride(s) {}
  ConstMatrixView(const MatrixView& m) : data(m.data), rows(m.rows), cols(m.cols), stride(m.stride) {}
  const float* row(int64_t r) const { return data + r * stride; }
};

}  // namespace cembed
