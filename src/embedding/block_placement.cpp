#include "embedding/block_placement.h"

#include <algorithm>
#include <numeric>

#include "util/check.h"
#include "util/random.h"

namespace cembed {
namespace {

constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ULL;
constexpr int64_t kPlacementBatch = 4096;  // values placed per call when storing blocks

// Rows of a scratch `ld` apart: count rounded up, off multiples of 4 KiB (rows written
// and read together at 4 KiB strides alias in the load/store unit).
int64_t scratch_stride(int64_t count) {
  int64_t ld = (count + 7) / 8 * 8;
  if (ld % 512 == 0) ld += 8;
  return ld;
}

uint64_t feature_key(int f, uint64_t seed_key) { return (static_cast<uint64_t>(f) << 32) ^ seed_key; }

// h: chunks rows of count hashes, ld apart. reduce(h) = h * blocks / 2^64 from 32-bit
// halves (exact for blocks <= 2^32; it vectorizes, a 128-bit product does not), times
// scale, then chunk-major to id-major into out.
void reduce_to_blocks(uint64_t* h, int64_t ld, int64_t count, int64_t chunks, int64_t blocks, int64_t scale,
                      int64_t* out) {
  const auto b = static_cast<uint64_t>(blocks), s = static_cast<uint64_t>(scale);
  for (int64_t i = 0; i < chunks * ld; ++i) {
    const uint64_t hi = h[i] >> 32, lo = h[i] & 0xffffffffULL;
    h[i] = ((hi * b + ((lo * b) >> 32)) >> 32) * s;
  }
  if (chunks == 1) {
    std::copy_n(h, count, out);
    return;
  }
  for (int64_t k = 0; k < count; ++k) {
    for (int64_t c = 0; c < chunks; ++c) out[k * chunks + c] = static_cast<int64_t>(h[c * ld + k]);
  }
}

}  // namespace

// ---- the file section ----------------------------------------------------------------

void PlacementData::save(BinaryWriter& out) const {
  out.u32(static_cast<uint32_t>(hashes));
  out.u64(offset.size());
  for (int64_t o : offset) out.i64(o);
  out.u64(minhash.size());
  out.raw(minhash.data(), minhash.size() * sizeof(uint16_t));
  out.u64(present.size());
  out.raw(present.data(), present.size());
  out.u64(blocks.size());
  out.raw(blocks.data(), blocks.size() * sizeof(uint32_t));
}

PlacementData PlacementData::load(BinaryReader& in, int features, const PlacementGrid& grid) {
  PlacementData d;
  d.hashes = static_cast<int>(in.u32("signature hashes"));
  const uint64_t offsets = in.u64("signature offsets");
  CEMBED_CHECK(offsets == 0 || offsets == static_cast<uint64_t>(features + 1),
               "{}: {} signature offsets for {} features", in.context(), offsets, features);
  d.offset.resize(offsets);
  for (auto& o : d.offset) o = in.i64("signature offset");
  // Offsets from 0, never decreasing, and values few enough for the arithmetic below (every
  // value takes at least one byte of the section: a presence flag or its blocks).
  for (size_t i = 0; i < d.offset.size(); ++i) {
    CEMBED_CHECK(d.offset[i] >= (i == 0 ? 0 : d.offset[i - 1]) && (i > 0 || d.offset[0] == 0) &&
                     d.offset[i] <= (int64_t{1} << 40),
                 "{}: signature offset {} of feature {} out of order or out of range", in.context(), d.offset[i], i);
  }
  CEMBED_CHECK(d.hashes >= 0 && d.hashes <= (1 << 16), "{}: {} signature hashes per value", in.context(), d.hashes);
  const uint64_t m = in.u64("minhash count");
  const int64_t values = d.values();
  CEMBED_CHECK(m == static_cast<uint64_t>(values * d.hashes), "{}: {} minhashes for {} values", in.context(), m,
               values);
  d.minhash.resize(m);
  in.raw_into(d.minhash.data(), m * sizeof(uint16_t), "minhashes");
  const uint64_t p = in.u64("presence count");
  d.present.resize(p);
  in.raw_into(d.present.data(), p, "presence flags");
  const uint64_t b = in.u64("placement count");
  // Signatures are kept as minhashes with presence flags, or as each value's blocks.
  const bool as_minhashes = b == 0 && p == static_cast<uint64_t>(values) && d.hashes > 0;
  const bool as_blocks = m == 0 && p == 0 && b == static_cast<uint64_t>(values * grid.chunks);
  CEMBED_CHECK(values == 0 ? m == 0 && p == 0 && b == 0 : as_minhashes || as_blocks,
               "{}: {} minhashes, {} presence flags and {} blocks for {} values of {} chunks", in.context(), m, p, b,
               values, grid.chunks);
  d.blocks.resize(b);
  in.raw_into(d.blocks.data(), b * sizeof(uint32_t), "value blocks");
  for (uint32_t x : d.blocks)
    CEMBED_CHECK(x < grid.blocks, "{}: value block {} beyond {}", in.context(), x, grid.blocks);
  return d;
}

// ---- hashed (robe) -------------------------------------------------------------------

void HashedPlacement::blocks_of(int f, std::span<const Id> ids, int64_t scale, int64_t* out) const {
  const auto count = static_cast<int64_t>(ids.size());
  const int64_t chunks = grid_.chunks, ld = scratch_stride(count);
  const uint64_t fkey = feature_key(f, grid_.seed_key);
  scratch_.resize(ld * (chunks + 1));
  uint64_t* h = scratch_.data();     // chunks rows of count mixes
  uint64_t* base = h + chunks * ld;  // one row: mixes of the ids
  for (int64_t k = 0; k < count; ++k) base[k] = mix64(fkey ^ ids[k]);
  for (int64_t c = 0; c < chunks; ++c) {
    const uint64_t salt = static_cast<uint64_t>(c + 1) * kGolden;
    uint64_t* hc = h + c * ld;
    for (int64_t k = 0; k < count; ++k) hc[k] = mix64(base[k] + salt);
  }
  reduce_to_blocks(h, ld, count, chunks, grid_.blocks, scale, out);
}

// ---- minhashes (lma) -----------------------------------------------------------------

MinhashPlacement::MinhashPlacement(const PlacementGrid& grid, int k, PlacementData data)
    : grid_(grid), k_(k), data_(std::move(data)) {
  for (int64_t c = 0; c < grid_.chunks; ++c) {
    for (int j = 0; j < k_; ++j) {
      positions_.push_back(static_cast<uint32_t>((c * k_ + j) % std::max(data_.hashes, 1)));
    }
  }
}

// The mixing runs in plain loops over the batch, chunk-major (they vectorize); reading
// the signatures, the reduction and the interleaving into out are separate passes.
void MinhashPlacement::blocks_of(int f, std::span<const Id> ids, int64_t scale, int64_t* out) const {
  const auto count = static_cast<int64_t>(ids.size());
  const int64_t chunks = grid_.chunks, ld = scratch_stride(count);
  const uint64_t fkey = feature_key(f, grid_.seed_key), seed_key = grid_.seed_key;
  const int words = (k_ + 1) / 2;  // per chunk
  scratch_.resize(ld * (chunks * (words + 1) + 1));
  uint64_t* h = scratch_.data();          // chunks rows of count mixes
  uint64_t* word = h + chunks * ld + ld;  // (chunk, word) rows
  absent_.clear();
  read_signature_words(f, ids, word, ld);
  for (int64_t c = 0; c < chunks; ++c) {
    uint64_t* hc = h + c * ld;
    const uint64_t* w = word + c * words * ld;
    const uint64_t salt = static_cast<uint64_t>(c + 1) * kGolden;
    if (words == 1) {  // K <= 2, the common case: one pass
      for (int64_t k = 0; k < count; ++k) hc[k] = mix64(mix64(seed_key ^ w[k]) + salt);
      continue;
    }
    for (int64_t k = 0; k < count; ++k) hc[k] = mix64(seed_key ^ w[k]);
    for (int i = 1; i < words; ++i) {
      const uint64_t* wi = w + i * ld;
      for (int64_t k = 0; k < count; ++k) hc[k] = mix64(hc[k] ^ wi[k]);
    }
    for (int64_t k = 0; k < count; ++k) hc[k] = mix64(hc[k] + salt);
  }
  for (int64_t k : absent_) {  // never seen where the signatures were built: placed by id
    const uint64_t id_mix = mix64(fkey ^ ids[k]);
    for (int64_t c = 0; c < chunks; ++c) h[c * ld + k] = mix64(id_mix + static_cast<uint64_t>(c + 1) * kGolden);
  }
  reduce_to_blocks(h, ld, count, chunks, grid_.blocks, scale, out);
}

// The packed (minhash, position) words of every chunk of every id (word[(c * words + i)
// * ld + k]); ids without a signature go to absent_.
void MinhashPlacement::read_signature_words(int f, std::span<const Id> ids, uint64_t* word, int64_t ld) const {
  switch (k_) {  // K known at compile time: the packing loops unroll
    case 1:
      return read_signature_words_k<1>(f, ids, word, ld);
    case 2:
      return read_signature_words_k<2>(f, ids, word, ld);
    case 3:
      return read_signature_words_k<3>(f, ids, word, ld);
    case 4:
      return read_signature_words_k<4>(f, ids, word, ld);
    case 5:
      return read_signature_words_k<5>(f, ids, word, ld);
    case 6:
      return read_signature_words_k<6>(f, ids, word, ld);
    case 7:
      return read_signature_words_k<7>(f, ids, word, ld);
    default:
      return read_signature_words_k<8>(f, ids, word, ld);
  }
}

template <int K>
void MinhashPlacement::read_signature_words_k(int f, std::span<const Id> ids, uint64_t* word, int64_t ld) const {
  constexpr int kWords = (K + 1) / 2;
  const auto count = static_cast<int64_t>(ids.size());
  const int64_t chunks = grid_.chunks, L = data_.hashes;
  const uint16_t* minhash = data_.minhash.data() + data_.offset[f] * L;
  const uint8_t* present = data_.present.data() + data_.offset[f];
  // Where each id's minhashes start (prefetched: they are read at random, like table
  // rows), then word by word over the batch (loops of loads at a fixed position).
  constexpr int64_t kAhead = 16;
  signature_start_.resize(count);
  int64_t* start = signature_start_.data();
  for (int64_t k = 0; k < count; ++k) {
    start[k] = static_cast<int64_t>(ids[k]) * L;
    if (k + kAhead < count) __builtin_prefetch(minhash + static_cast<int64_t>(ids[k + kAhead]) * L);
    if (!present[ids[k]]) absent_.push_back(k);
  }
  const uint32_t* pos = positions_.data();  // (c * K + j) mod kept, precomputed
  for (int64_t c = 0; c < chunks; ++c, pos += K) {
    for (int i = 0; i < kWords; ++i) {
      uint64_t* w = word + (c * kWords + i) * ld;
      const uint64_t t0 = pos[2 * i];
      if (2 * i + 1 < K) {
        const uint64_t t1 = pos[2 * i + 1];
        const uint64_t tags = (t0 << 16) | (t1 << 48);
        for (int64_t k = 0; k < count; ++k) {
          w[k] = (static_cast<uint64_t>(minhash[start[k] + t0]) | static_cast<uint64_t>(minhash[start[k] + t1]) << 32) |
                 tags;
        }
      } else {
        for (int64_t k = 0; k < count; ++k) w[k] = static_cast<uint64_t>(minhash[start[k] + t0]) | t0 << 16;
      }
    }
  }
}

// ---- stored blocks (lma) -------------------------------------------------------------

StoredPlacement::StoredPlacement(const PlacementGrid& grid, PlacementData data) : grid_(grid), data_(std::move(data)) {}

StoredPlacement StoredPlacement::of(const BlockPlacement& source, const PlacementGrid& grid,
                                    std::span<const int64_t> cardinalities) {
  PlacementData d;
  d.offset.assign(1, 0);
  for (int64_t n : cardinalities) d.offset.push_back(d.offset.back() + n);
  d.blocks.resize(d.values() * grid.chunks);  // blocks fit in 32 bits (kMaxBlocks)
  std::vector<Id> ids;
  std::vector<int64_t> blocks;
  for (size_t f = 0; f < cardinalities.size(); ++f) {
    for (int64_t v0 = 0; v0 < cardinalities[f]; v0 += kPlacementBatch) {
      const int64_t m = std::min(kPlacementBatch, cardinalities[f] - v0);
      ids.resize(m);
      std::iota(ids.begin(), ids.end(), static_cast<Id>(v0));
      blocks.resize(m * grid.chunks);
      source.blocks_of(static_cast<int>(f), ids, 1, blocks.data());
      std::copy(blocks.begin(), blocks.end(), d.blocks.begin() + (d.offset[f] + v0) * grid.chunks);
    }
  }
  return StoredPlacement(grid, std::move(d));
}

void StoredPlacement::blocks_of(int f, std::span<const Id> ids, int64_t scale, int64_t* out) const {
  const auto count = static_cast<int64_t>(ids.size());
  const int64_t chunks = grid_.chunks;
  const uint32_t* placed = data_.blocks.data() + data_.offset[f] * chunks;
  constexpr int64_t kAhead = 16;  // read at random, like table rows: prefetch
  for (int64_t k = 0; k < count; ++k) {
    if (k + kAhead < count) __builtin_prefetch(placed + static_cast<int64_t>(ids[k + kAhead]) * chunks);
    const uint32_t* p = placed + static_cast<int64_t>(ids[k]) * chunks;
    for (int64_t c = 0; c < chunks; ++c) out[k * chunks + c] = static_cast<int64_t>(p[c]) * scale;
  }
}

}  // namespace cembed
