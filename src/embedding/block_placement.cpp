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

namespace {

constexpr size_t kArrayAlign = 64;  // where the exported layout starts each array

void pad(BinaryWriter& out) {
  const std::string zeros((kArrayAlign - out.bytes().size() % kArrayAlign) % kArrayAlign, '\0');
  out.raw(zeros.data(), zeros.size());
}

template <typename T>
void save_array(BinaryWriter& out, std::span<const T> a, bool mapped) {
  out.u64(a.size());
  if (mapped) pad(out);
  out.raw(a.data(), a.size_bytes());
}

// `count` values of T where they lie in `in` (after the exported layout's zero padding),
// or copied into `copy` (the packed layout).
template <typename T, typename Vector>
std::span<const T> read_array(BinaryReader& in, uint64_t count, bool mapped, Vector& copy, const char* what) {
  if (!mapped) {
    copy.resize(count);
    in.raw_into(copy.data(), count * sizeof(T), what);
    return copy;
  }
  const size_t gap = (kArrayAlign - in.position() % kArrayAlign) % kArrayAlign;
  const char* zeros = in.view(gap, "placement padding");
  for (size_t i = 0; i < gap; ++i) CEMBED_CHECK(zeros[i] == 0, "{}: nonzero padding before {}", in.context(), what);
  const char* p = in.view(count * sizeof(T), what);
  CEMBED_CHECK(reinterpret_cast<uintptr_t>(p) % alignof(T) == 0, "{}: {} not aligned", in.context(), what);
  return {reinterpret_cast<const T*>(p), static_cast<size_t>(count)};
}

}  // namespace

PlacementData PlacementData::owning(int hashes, std::vector<int64_t> offset, PlacementArrays arrays) {
  PlacementData d;
  d.hashes = hashes;
  d.offset = std::move(offset);
  auto owned = std::make_shared<const PlacementArrays>(std::move(arrays));
  d.minhash = owned->minhash;
  d.present = owned->present;
  d.blocks = owned->blocks;
  d.owned = std::move(owned);
  return d;
}

void PlacementData::save(BinaryWriter& out, bool mapped) const {
  out.u32(static_cast<uint32_t>(hashes));
  out.u64(offset.size());
  for (int64_t o : offset) out.i64(o);
  save_array(out, minhash, mapped);
  save_array(out, present, mapped);
  save_array(out, blocks, mapped);
}

PlacementData PlacementData::load(BinaryReader& in, int features, const PlacementGrid& grid, bool mapped) {
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
  const int64_t values = d.values();
  auto copies = std::make_shared<PlacementArrays>();  // the packed layout's arrays
  const uint64_t m = in.u64("minhash count");
  CEMBED_CHECK(m == static_cast<uint64_t>(values * d.hashes), "{}: {} minhashes for {} values", in.context(), m,
               values);
  d.minhash = read_array<uint16_t>(in, m, mapped, copies->minhash, "minhashes");
  const uint64_t p = in.u64("presence count");
  CEMBED_CHECK(p == 0 || p == static_cast<uint64_t>(values), "{}: {} presence flags for {} values", in.context(), p,
               values);
  d.present = read_array<uint8_t>(in, p, mapped, copies->present, "presence flags");
  const uint64_t b = in.u64("placement count");
  // Signatures are kept as minhashes with presence flags, or as each value's blocks.
  const bool as_minhashes = b == 0 && p == static_cast<uint64_t>(values) && d.hashes > 0;
  const bool as_blocks = m == 0 && p == 0 && b == static_cast<uint64_t>(values * grid.chunks);
  CEMBED_CHECK(values == 0 ? m == 0 && p == 0 && b == 0 : as_minhashes || as_blocks,
               "{}: {} minhashes, {} presence flags and {} blocks for {} values of {} chunks", in.context(), m, p, b,
               values, grid.chunks);
  d.blocks = read_array<uint32_t>(in, b, mapped, copies->blocks, "value blocks");
  // Every index a lookup reads or computes from these is in bounds: minhashes are read at
  // (offset + id) * hashes + a position below hashes, and hashed into [0, blocks) whatever
  // their values (a presence flag only chooses between two hashes); stored blocks are
  // checked here, in a branch-free pass first (it vectorizes: the one pass over a mapped
  // model's placement at open), the loop naming the entry only on failure.
  const auto last = static_cast<uint32_t>(grid.blocks - 1);  // blocks in [1, 2^32]
  uint32_t bad = 0;
  for (const uint32_t x : d.blocks) bad |= static_cast<uint32_t>(x > last);
  for (size_t i = 0; bad != 0 && i < d.blocks.size(); ++i) {
    CEMBED_CHECK(d.blocks[i] <= last, "{}: value block {} beyond {} (value {}, chunk {})", in.context(), d.blocks[i],
                 grid.blocks, i / static_cast<size_t>(grid.chunks), i % static_cast<size_t>(grid.chunks));
  }
  if (!mapped) d.owned = std::move(copies);
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
  std::vector<int64_t> offset(1, 0);
  for (int64_t n : cardinalities) offset.push_back(offset.back() + n);
  PlacementArrays a;
  a.blocks.resize(offset.back() * grid.chunks);  // blocks fit in 32 bits (kMaxBlocks)
  std::vector<Id> ids;
  std::vector<int64_t> blocks;
  for (size_t f = 0; f < cardinalities.size(); ++f) {
    for (int64_t v0 = 0; v0 < cardinalities[f]; v0 += kPlacementBatch) {
      const int64_t m = std::min(kPlacementBatch, cardinalities[f] - v0);
      ids.resize(m);
      std::iota(ids.begin(), ids.end(), static_cast<Id>(v0));
      blocks.resize(m * grid.chunks);
      source.blocks_of(static_cast<int>(f), ids, 1, blocks.data());
      std::copy(blocks.begin(), blocks.end(), a.blocks.begin() + (offset[f] + v0) * grid.chunks);
    }
  }
  return StoredPlacement(grid, PlacementData::owning(0, std::move(offset), std::move(a)));
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
