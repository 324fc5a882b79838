// The pooled gathers and the gradients' coalescing. Rounding is spelled out: this file is
// built with -ffp-contract=off (CMakeLists.txt), so a bag's sum is acc = fma(w, x, acc) from
// +0 in id order, then acc * scale, exactly as written, for every table precision (the fp16
// and int8 readers decode a row, then the same statements pool it). Before session 19 the
// compiler chose where to fuse; it fused the sums, but a change elsewhere in the file once
// made it round the fp16 path's differently from the fp32 path's.
#include "kernels/embedding_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <type_traits>

#include "kernels/prefetch_lines.h"
#include "kernels/weight_reader.h"
#include "util/check.h"
#include "util/largest.h"

namespace cembed::kernels {

void check_rows_in_range(std::span<const int64_t> rows, int64_t num_rows, const char* what) {
  // A first pass without branches; the loop naming the row only on failure.
  const uint64_t top = largest_as_unsigned(rows);
  if (num_rows >= 0 && top < static_cast<uint64_t>(num_rows)) return;
  for (int64_t r : rows) CEMBED_CHECK(r >= 0 && r < num_rows, "{}: row {} out of range [0, {})", what, r, num_rows);
}

namespace {

void check_rows(const RowBags& bags, int64_t num_rows) {
  check_rows_in_range(bags.rows, num_rows, "embedding kernel");
  CEMBED_CHECK(bags.weights.empty() || bags.weights.size() == bags.rows.size(),
               "embedding kernel: {} weights for {} ids", bags.weights.size(), bags.rows.size());
  CEMBED_CHECK(!bags.offsets.empty() && bags.offsets.back() == bags.rows.size(),
               "embedding kernel: offsets end at {} but there are {} ids",
               bags.offsets.empty() ? 0 : bags.offsets.back(), bags.rows.size());
}

float bag_scale(Pooling pooling, int64_t len) {
  if (pooling == Pooling::Sum) return 1.0f;
  return len > 0 ? 1.0f / static_cast<float>(len) : 0.0f;
}

// Ids whose rows (every cache line of them) are prefetched ahead of their read, across bags
// (DLRM's one-hot bags too): rows_ahead of a row's lines, 64 at dim 16 and 16 at dim 64 in
// fp32 (16 at every dim before session 20: docs/benchmarks.md, "Session 13", "Session 20").
// The first ids' rows are prefetched before the loop. An int8 row's scale and minimum, in
// another array, are neither prefetched nor counted.
template <typename R>
constexpr uint32_t pool_ahead(int64_t dim) {
  return static_cast<uint32_t>(rows_ahead(lines_of(dim * R::kElementBytes)));
}

// Prefetches every cache line that holds part of the n elements from element start.
template <typename R>
void prefetch_row(const R& table, int64_t start, int64_t n) {
  prefetch_lines<0, 3>(table.at(start), table.at(start + n - 1));
}

// The kernels below read rows through a reader (weight_reader.h): in place for fp32, decoded
// into `row` for fp16 and int8; the arithmetic on the floats read is the same code.
// dst = src + 0 over D floats (a -0 becomes +0). The output never overlaps the table: with
// restrict the compiler keeps the row in vector registers (without it, one float at a time).
template <int D>
void plus_zero(const float* __restrict src, float* __restrict dst) {
  for (int j = 0; j < D; ++j) dst[j] = src[j] + 0.0f;
}

void plus_zero_n(const float* __restrict src, float* __restrict dst, int64_t n) {
  for (int64_t j = 0; j < n; ++j) dst[j] = src[j] + 0.0f;
}

template <int D, typename R>
void pool_fixed(const R& table, const RowBags& bags, Pooling pooling, MatrixView out) {
  const int64_t batch = static_cast<int64_t>(bags.offsets.size()) - 1;
  const bool weighted = !bags.weights.empty();
  const auto ids = static_cast<uint32_t>(bags.rows.size());
  float row[D];
  constexpr uint32_t ahead = pool_ahead<R>(D);
  for (uint32_t k = 0; k < std::min(ahead, ids); ++k) prefetch_row(table, bags.rows[k] * D, D);
  if (one_id_per_bag(bags.offsets, bags.weights)) {
    // One id per bag, weight 1: the loop below computes (0 + 1 * x) * 1 for each float x of
    // the row, which is x + 0 (a -0 becomes +0); here that sum alone, a row per bag.
    for (uint32_t k = 0; k < ids; ++k) {
      if (k + ahead < ids) prefetch_row(table, bags.rows[k + ahead] * D, D);
      plus_zero<D>(table.read(bags.rows[k] * D, D, row), out.row(k));
    }
    return;
  }
  for (int64_t b = 0; b < batch; ++b) {
    float acc[D] = {};
    const uint32_t begin = bags.offsets[b], end = bags.offsets[b + 1];
    for (uint32_t k = begin; k < end; ++k) {
      if (k + ahead < ids) prefetch_row(table, bags.rows[k + ahead] * D, D);
      const float* src = table.read(bags.rows[k] * D, D, row);
      const float w = weighted ? bags.weights[k] : 1.0f;
      for (int j = 0; j < D; ++j) acc[j] = std::fma(w, src[j], acc[j]);
    }
    const float s = bag_scale(pooling, end - begin);
    float* dst = out.row(b);
    for (int j = 0; j < D; ++j) dst[j] = acc[j] * s;
  }
}

template <typename R>
void pool_generic(const R& table, int64_t dim, const RowBags& bags, Pooling pooling, MatrixView out) {
  const int64_t batch = static_cast<int64_t>(bags.offsets.size()) - 1;
  const bool weighted = !bags.weights.empty();
  const auto ids = static_cast<uint32_t>(bags.rows.size());
  thread_local std::vector<float> row;
  if (!R::kInPlace) row.resize(dim);
  const uint32_t ahead = pool_ahead<R>(dim);
  for (uint32_t k = 0; k < std::min(ahead, ids); ++k) prefetch_row(table, bags.rows[k] * dim, dim);
  for (int64_t b = 0; b < batch; ++b) {
    float* dst = out.row(b);
    std::fill(dst, dst + dim, 0.0f);
    const uint32_t begin = bags.offsets[b], end = bags.offsets[b + 1];
    for (uint32_t k = begin; k < end; ++k) {
      if (k + ahead < ids) prefetch_row(table, bags.rows[k + ahead] * dim, dim);
      const float* src = table.read(bags.rows[k] * dim, dim, row.data());
      const float w = weighted ? bags.weights[k] : 1.0f;
      for (int64_t j = 0; j < dim; ++j) dst[j] = std::fma(w, src[j], dst[j]);
    }
    const float s = bag_scale(pooling, end - begin);
    for (int64_t j = 0; j < dim; ++j) dst[j] *= s;
  }
}

// Sorts keys (row << 32 | position, positions increasing) by row, stably: least
// significant digit first, 11 bits at a time, only as many digits as max_row has (the
// same order as sorting whole keys, in linear time).
void sort_by_row(std::vector<uint64_t>& keys, uint64_t max_row) {
  constexpr int kBits = 11;
  constexpr size_t kBuckets = size_t{1} << kBits;
  if (keys.size() < 64) {  // small: a comparison sort is cheaper than the histograms
    std::sort(keys.begin(), keys.end());
    return;
  }
  thread_local std::vector<uint64_t> other;
  other.resize(keys.size());
  std::vector<uint32_t> count(kBuckets);
  for (int shift = 32; shift < 64 && (max_row >> (shift - 32)) != 0; shift += kBits) {
    std::fill(count.begin(), count.end(), 0u);
    for (uint64_t k : keys) ++count[(k >> shift) & (kBuckets - 1)];
    uint32_t sum = 0;
    for (uint32_t& c : count) {
      const uint32_t here = c;
      c = sum;
      sum += here;
    }
    for (uint64_t k : keys) other[count[(k >> shift) & (kBuckets - 1)]++] = k;
    keys.swap(other);
  }
}

int64_t pieces_of(int64_t dim, int64_t width) { return (dim + width - 1) / width; }

void check_pieces(int64_t array_size, int64_t dim, int64_t width, const PieceBags& bags) {
  CEMBED_CHECK(width >= 1 && dim >= 1, "embedding kernel: piece width {} for dim {}", width, dim);
  const int64_t pieces = pieces_of(dim, width);
  const int64_t last = dim - (pieces - 1) * width;
  CEMBED_CHECK(!bags.offsets.empty() &&
                   static_cast<int64_t>(bags.offsets.back()) * pieces == static_cast<int64_t>(bags.starts.size()),
               "embedding kernel: offsets end at {} but there are {} piece starts for {} pieces per id",
               bags.offsets.empty() ? 0 : bags.offsets.back(), bags.starts.size(), pieces);
  CEMBED_CHECK(bags.weights.empty() || bags.weights.size() == bags.offsets.back(),
               "embedding kernel: {} weights for {} ids", bags.weights.size(), bags.offsets.back());
  // Branch-free pass first (it vectorizes); the loop that names the bad piece only on failure.
  const int64_t n = static_cast<int64_t>(bags.starts.size());
  const int64_t* starts = bags.starts.data();
  // As unsigned, a negative start is above any limit: one comparison per start.
  uint64_t bad = array_size < (pieces == 1 ? last : width) && n > 0;
  if (!bad && (pieces == 1 || last == width)) {  // one length for every piece
    const auto limit = static_cast<uint64_t>(array_size - last);
    for (int64_t i = 0; i < n; ++i) bad |= static_cast<uint64_t>(starts[i]) > limit;
  } else if (!bad) {
    const auto full = static_cast<uint64_t>(array_size - width), short_last = static_cast<uint64_t>(array_size - last);
    for (int64_t i = 0; i < n; i += pieces) {
      for (int64_t c = 0; c < pieces; ++c) {
        bad |= static_cast<uint64_t>(starts[i + c]) > (c == pieces - 1 ? short_last : full);
      }
    }
  }
  if (!bad) return;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t len = i % pieces == pieces - 1 ? last : width;
    CEMBED_CHECK(starts[i] >= 0 && starts[i] <= array_size - len, "embedding kernel: piece at {} (+{}) outside [0, {})",
                 starts[i], len, array_size);
  }
}

constexpr int64_t kAhead = 8;  // ids whose pieces are prefetched ahead, across bags

// Pieces of W floats each (dim a multiple of W): accumulators stay in registers.
template <int W, typename R>
void pool_pieces_fixed(const R& array, int64_t dim, const PieceBags& bags, Pooling pooling, MatrixView out) {
  const int64_t batch = static_cast<int64_t>(bags.offsets.size()) - 1;
  const int64_t pieces = dim / W;
  const int64_t ids = bags.offsets.back();
  const int64_t* starts = bags.starts.data();
  if (one_id_per_bag(bags.offsets, bags.weights)) {  // one id per bag, weight 1 (sum and mean agree): a copy
    for (int64_t k = 0; k < ids; ++k) {
      if (k + kAhead < ids) {
        for (int64_t c = 0; c < pieces; ++c) __builtin_prefetch(array.at(starts[(k + kAhead) * pieces + c]));
      }
      float* dst = out.row(k);
      for (int64_t c = 0; c < pieces; ++c) {
        if constexpr (R::kInPlace) {
          std::memcpy(dst + c * W, array.read(starts[k * pieces + c], W, nullptr), W * sizeof(float));
        } else {
          array.read(starts[k * pieces + c], W, dst + c * W);  // decoded where it goes
        }
      }
    }
    return;
  }
  const bool weighted = !bags.weights.empty();
  float piece[W] = {};  // a piece decoded (fp16, int8)
  for (int64_t b = 0; b < batch; ++b) {
    const uint32_t begin = bags.offsets[b], end = bags.offsets[b + 1];
    for (int64_t k = begin; k < end && k + kAhead < ids; ++k) {
      for (int64_t c = 0; c < pieces; ++c) __builtin_prefetch(array.at(starts[(k + kAhead) * pieces + c]));
    }
    const float s = bag_scale(pooling, end - begin);
    float* dst = out.row(b);
    for (int64_t c = 0; c < pieces; ++c) {
      float acc[W] = {};
      for (uint32_t k = begin; k < end; ++k) {
        const float* src = array.read(starts[k * pieces + c], W, piece);
        const float w = weighted ? bags.weights[k] : 1.0f;
        for (int j = 0; j < W; ++j) acc[j] = std::fma(w, src[j], acc[j]);
      }
      for (int j = 0; j < W; ++j) dst[c * W + j] = acc[j] * s;
    }
  }
}

template <typename R>
void pool_pieces_generic(const R& array, int64_t dim, int64_t width, const PieceBags& bags, Pooling pooling,
                         MatrixView out) {
  const int64_t batch = static_cast<int64_t>(bags.offsets.size()) - 1;
  const int64_t pieces = pieces_of(dim, width);
  const bool weighted = !bags.weights.empty();
  thread_local std::vector<float> piece;
  if (!R::kInPlace) piece.resize(width);
  for (int64_t b = 0; b < batch; ++b) {
    float* dst = out.row(b);
    std::fill(dst, dst + dim, 0.0f);
    const uint32_t begin = bags.offsets[b], end = bags.offsets[b + 1];
    for (uint32_t k = begin; k < end; ++k) {
      const float w = weighted ? bags.weights[k] : 1.0f;
      for (int64_t c = 0; c < pieces; ++c) {
        const int64_t len = std::min(width, dim - c * width);
        const float* src = array.read(bags.starts[k * pieces + c], len, piece.data());
        for (int64_t j = 0; j < len; ++j) dst[c * width + j] = std::fma(w, src[j], dst[c * width + j]);
      }
    }
    const float s = bag_scale(pooling, end - begin);
    for (int64_t j = 0; j < dim; ++j) dst[j] *= s;
  }
}

}  // namespace

void pool_pieces_reference(const float* array, int64_t array_size, int64_t dim, int64_t width, const PieceBags& bags,
                           Pooling pooling, MatrixView out) {
  check_pieces(array_size, dim, width, bags);
  const int64_t pieces = pieces_of(dim, width);
  const int64_t batch = static_cast<int64_t>(bags.offsets.size()) - 1;
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t len = bags.offsets[b + 1] - bags.offsets[b];
    for (int64_t j = 0; j < dim; ++j) {
      double acc = 0.0;
      for (uint32_t k = bags.offsets[b]; k < bags.offsets[b + 1]; ++k) {
        const double w = bags.weights.empty() ? 1.0 : bags.weights[k];
        acc += w * array[bags.starts[k * pieces + j / width] + j % width];
      }
      out.row(b)[j] = static_cast<float>(acc * bag_scale(pooling, len));
    }
  }
}

namespace {

template <typename R>
void pool_pieces_with(const R& array, int64_t dim, int64_t width, const PieceBags& bags, Pooling pooling,
                      MatrixView out) {
  const int64_t w = std::min(width, dim);  // one piece of dim floats when width >= dim
  if (dim % w == 0) {
    switch (w) {
      case 1:
        return pool_pieces_fixed<1>(array, dim, bags, pooling, out);
      case 2:
        return pool_pieces_fixed<2>(array, dim, bags, pooling, out);
      case 4:
        return pool_pieces_fixed<4>(array, dim, bags, pooling, out);
      case 8:
        return pool_pieces_fixed<8>(array, dim, bags, pooling, out);
      case 16:
        return pool_pieces_fixed<16>(array, dim, bags, pooling, out);
      case 32:
        return pool_pieces_fixed<32>(array, dim, bags, pooling, out);
      case 64:
        return pool_pieces_fixed<64>(array, dim, bags, pooling, out);
      default:
        break;
    }
  }
  pool_pieces_generic(array, dim, w, bags, pooling, out);
}

template <typename R>
void pool_rows_with(const R& table, int64_t dim, const RowBags& bags, Pooling pooling, MatrixView out) {
  switch (dim) {
    case 4:
      return pool_fixed<4>(table, bags, pooling, out);
    case 8:
      return pool_fixed<8>(table, bags, pooling, out);
    case 16:
      return pool_fixed<16>(table, bags, pooling, out);
    case 32:
      return pool_fixed<32>(table, bags, pooling, out);
    case 64:
      return pool_fixed<64>(table, bags, pooling, out);
    case 128:
      return pool_fixed<128>(table, bags, pooling, out);
    default:
      return pool_generic(table, dim, bags, pooling, out);
  }
}

}  // namespace

void pool_pieces(const float* array, int64_t array_size, int64_t dim, int64_t width, const PieceBags& bags,
                 Pooling pooling, MatrixView out) {
  check_pieces(array_size, dim, width, bags);
  pool_pieces_with(Fp32Reader{array}, dim, width, bags, pooling, out);
}

void pool_pieces(const WeightView& array, int64_t dim, int64_t width, const PieceBags& bags, Pooling pooling,
                 MatrixView out) {
  check_pieces(array.size, dim, width, bags);
  with_reader(array, [&](const auto& r) { pool_pieces_with(r, dim, width, bags, pooling, out); });
}

void pool_rows_reference(const float* table, int64_t num_rows, int64_t dim, const RowBags& bags, Pooling pooling,
                         MatrixView out) {
  check_rows(bags, num_rows);
  const int64_t batch = static_cast<int64_t>(bags.offsets.size()) - 1;
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t len = bags.offsets[b + 1] - bags.offsets[b];
    for (int64_t j = 0; j < dim; ++j) {
      double acc = 0.0;
      for (uint32_t k = bags.offsets[b]; k < bags.offsets[b + 1]; ++k) {
        const double w = bags.weights.empty() ? 1.0 : bags.weights[k];
        acc += w * table[bags.rows[k] * dim + j];
      }
      out.row(b)[j] = static_cast<float>(acc * bag_scale(pooling, len));
    }
  }
}

void pool_rows(const float* table, int64_t num_rows, int64_t dim, const RowBags& bags, Pooling pooling,
               MatrixView out) {
  check_rows(bags, num_rows);
  pool_rows_with(Fp32Reader{table}, dim, bags, pooling, out);
}

void scatter_rows(const float* src, std::span<const uint32_t> bags, int64_t dim, MatrixView out) {
  CEMBED_CHECK(out.cols == dim, "embedding kernel: output has {} columns, rows have {}", out.cols, dim);
  const auto count = static_cast<int64_t>(bags.size());
  const auto each = [&]<int D>(std::integral_constant<int, D>) {
    for (int64_t k = 0; k < count; ++k) plus_zero<D>(src + k * D, out.row(bags[k]));
  };
  switch (dim) {  // pool_rows's fixed widths
    case 4:
      return each(std::integral_constant<int, 4>{});
    case 8:
      return each(std::integral_constant<int, 8>{});
    case 16:
      return each(std::integral_constant<int, 16>{});
    case 32:
      return each(std::integral_constant<int, 32>{});
    case 64:
      return each(std::integral_constant<int, 64>{});
    case 128:
      return each(std::integral_constant<int, 128>{});
    default:
      for (int64_t k = 0; k < count; ++k) plus_zero_n(src + k * dim, out.row(bags[k]), dim);
  }
}

void pool_rows(const WeightView& table, int64_t dim, const RowBags& bags, Pooling pooling, MatrixView out) {
  CEMBED_CHECK(dim >= 1 && table.size % dim == 0, "embedding kernel: {} floats are not rows of {}", table.size, dim);
  check_rows(bags, table.size / dim);
  with_reader(table, [&](const auto& r) { pool_rows_with(r, dim, bags, pooling, out); });
}

void coalesce_gradients_reference(const RowBags& bags, Pooling pooling, ConstMatrixView grad, int64_t dim,
                                  RowGradients& out) {
  std::map<int64_t, std::vector<double>> acc;
  const int64_t batch = static_cast<int64_t>(bags.offsets.size()) - 1;
  for (int64_t b = 0; b < batch; ++b) {
    const float s = bag_scale(pooling, bags.offsets[b + 1] - bags.offsets[b]);
    for (uint32_t k = bags.offsets[b]; k < bags.offsets[b + 1]; ++k) {
      auto& a = acc[bags.rows[k]];
      a.resize(dim, 0.0);
      const double w = bags.weights.empty() ? 1.0 : bags.weights[k];
      for (int64_t j = 0; j < dim; ++j) a[j] += s * w * grad.row(b)[j];
    }
  }
  out.rows.clear();
  out.grads.clear();
  for (const auto& [row, g] : acc) {
    out.rows.push_back(row);
    for (double v : g) out.grads.push_back(static_cast<float>(v));
  }
}

void coalesce_gradients(const RowBags& bags, Pooling pooling, ConstMatrixView grad, int64_t dim, RowGradients& out) {
  const int64_t n = static_cast<int64_t>(bags.rows.size());
  const int64_t batch = static_cast<int64_t>(bags.offsets.size()) - 1;
  CEMBED_CHECK(n < (int64_t{1} << 32), "embedding kernel: {} ids in one batch (limit 2^32)", n);
  // Sort keys: row in the high 32 bits, position of the id in the low 32 bits, so equal
  // rows are summed in input order whatever the thread count.
  auto& keys = out.scratch;
  keys.resize(n);
  uint64_t max_row = 0;
  for (int64_t k = 0; k < n; ++k) {
    const auto r = static_cast<uint64_t>(bags.rows[k]);
    max_row |= r;
    keys[k] = (r << 32) | static_cast<uint64_t>(k);
  }
  CEMBED_CHECK(max_row < (uint64_t{1} << 32), "embedding kernel: a row beyond 2^32 (negative or too large)");
  sort_by_row(keys, max_row);
  // Bag index and scale of each id position.
  thread_local std::vector<uint32_t> bag_of;
  thread_local std::vector<float> scale_of;
  bag_of.resize(n);
  scale_of.resize(n);
  for (int64_t b = 0; b < batch; ++b) {
    const float s = bag_scale(pooling, bags.offsets[b + 1] - bags.offsets[b]);
    for (uint32_t k = bags.offsets[b]; k < bags.offsets[b + 1]; ++k) {
      bag_of[k] = static_cast<uint32_t>(b);
      scale_of[k] = bags.weights.empty() ? s : s * bags.weights[k];
    }
  }
  // At most n distinct rows: sized once, trimmed at the end.
  out.rows.resize(n);
  out.grads.assign(n * dim, 0.0f);
  int64_t distinct = 0;
  for (int64_t i = 0; i < n; ++distinct) {
    const uint64_t row = keys[i] >> 32;
    out.rows[distinct] = static_cast<int64_t>(row);
    float* acc = out.grads.data() + distinct * dim;
    for (; i < n && (keys[i] >> 32) == row; ++i) {
      const uint32_t k = static_cast<uint32_t>(keys[i]);
      const float s = scale_of[k];
      const float* g = grad.row(bag_of[k]);
      // fma spelt out, as the fused kernel does (row_updates.cpp): a build that does not contract
      // (-O1 under the sanitizers) must sum the same bits.
      for (int64_t j = 0; j < dim; ++j) acc[j] = std::fma(s, g[j], acc[j]);
    }
  }
  out.rows.resize(distinct);
  out.grads.resize(distinct * dim);
}

void occurrence_gradients(std::span<const uint32_t> offsets, std::span<const float> weights, Pooling pooling,
                          ConstMatrixView grad, int64_t dim, MatrixView out) {
  const int64_t batch = static_cast<int64_t>(offsets.size()) - 1;
  CEMBED_CHECK(batch >= 0 && offsets.back() == static_cast<uint64_t>(out.rows),
               "occurrence gradients: offsets end at {} for {} ids", offsets.empty() ? 0 : offsets.back(), out.rows);
  for (int64_t b = 0; b < batch; ++b) {
    const float s = bag_scale(pooling, offsets[b + 1] - offsets[b]);
    const float* g = grad.row(b);
    for (uint32_t k = offsets[b]; k < offsets[b + 1]; ++k) {
      const float sk = weights.empty() ? s : s * weights[k];
      float* dst = out.row(k);
      for (int64_t j = 0; j < dim; ++j) dst[j] = sk * g[j];
    }
  }
}

}  // namespace cembed::kernels
