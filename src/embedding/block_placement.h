// Block placement for the shared-array methods (robe, lma): in an array of `blocks` blocks
// of Z floats, where chunk c (elements c*Z .. c*Z+Z-1) of value v of a served feature lies.
//
//   HashedPlacement    robe, and lma values without a signature: a hash of (feature, v, c)
//   MinhashPlacement   lma: a hash of K of the value's minhashes per chunk
//   StoredPlacement    lma: each value's blocks, computed once from its minhashes, kept
//                      where they take less room than the minhashes (lookups hash nothing)
//
// A placement answers for a whole batch of ids of one feature at a time (one virtual call
// per feature and batch); inside, the hashing runs in plain loops over the batch that
// vectorize. What a placement keeps per value is saved with the model, in one section
// (PlacementData) whose layout every placement shares.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "cembed/bags.h"
#include "util/aligned_vector.h"
#include "util/binary_io.h"

namespace cembed {

constexpr int64_t kMaxBlocks = int64_t{1} << 32;  // block numbers fit in 32 bits

// The array a placement places into: blocks, chunks per value, and the hash key of the
// table's seed.
struct PlacementGrid {
  int64_t blocks = 0;
  int64_t chunks = 0;
  uint64_t seed_key = 0;
};

// The arrays a placement reads per value, when the table owns them (built from signatures
// or read from a checkpoint).
struct PlacementArrays {
  std::vector<uint16_t> minhash;
  std::vector<uint8_t> present;
  AlignedVector<uint32_t> blocks;
};

// What a table keeps per value to place it: minhash placement reads hashes, minhashes and
// flags; stored placement the blocks; hashed placement nothing. The arrays are views, of
// `owned` or of an exported model's read-only mapping (which outlives the table), so a
// served model reads them in place and every process shares their pages.
//
// Its file section, in two layouts:
//   u32 hashes kept per value, u64 + i64 x n offsets (num_features + 1, or none),
//   u64 + minhashes (values x hashes, u16), u64 + presence flags (values, u8),
//   u64 + blocks (values x chunks, u32)
// packed in a checkpoint; in an exported model (`mapped`) each array starts after zero
// padding on a 64-byte boundary of the section (sections lie on 64-byte boundaries of the
// file), so a value's 16 blocks are one cache line of the mapping.
struct PlacementData {
  int hashes = 0;
  std::vector<int64_t> offset;  // first value of each served feature
  std::span<const uint16_t> minhash;
  std::span<const uint8_t> present;
  std::span<const uint32_t> blocks;
  std::shared_ptr<const PlacementArrays> owned;  // null when the arrays view a mapping

  // Data viewing `arrays`, which it then owns.
  static PlacementData owning(int hashes, std::vector<int64_t> offset, PlacementArrays arrays);

  int64_t values() const { return offset.empty() ? 0 : offset.back(); }
  bool empty() const { return offset.empty(); }
  int64_t bytes() const {
    return static_cast<int64_t>(minhash.size_bytes() + present.size_bytes() + blocks.size_bytes());
  }
  void save(BinaryWriter& out, bool mapped) const;
  // Reads and checks a section for `features` served features in `grid`: either form, or
  // none at all. `mapped`: the exported layout, its arrays viewed where `in` reads them
  // (the bytes must outlive the data), with every block checked below grid.blocks in one
  // branch-free pass; else the packed layout, copied.
  static PlacementData load(BinaryReader& in, int features, const PlacementGrid& grid, bool mapped);
};

class BlockPlacement {
 public:
  virtual ~BlockPlacement() = default;
  // Blocks of every chunk of every id of served feature f, times `scale`:
  // out[k * chunks + c]. Ids are already checked against the feature's cardinality.
  virtual void blocks_of(int f, std::span<const Id> ids, int64_t scale, int64_t* out) const = 0;
  // What the placement keeps per value (auxiliary bytes, saved with the model).
  virtual const PlacementData& data() const = 0;
};

// robe: block of chunk c of value v of feature f = reduce(mix(mix(f:v ^ seed) + (c+1) G)),
// G the golden-ratio constant, reduce(h) = h * blocks / 2^64.
class HashedPlacement final : public BlockPlacement {
 public:
  explicit HashedPlacement(const PlacementGrid& grid) : grid_(grid) {}
  void blocks_of(int f, std::span<const Id> ids, int64_t scale, int64_t* out) const override;
  const PlacementData& data() const override { return data_; }

 private:
  PlacementGrid grid_;
  PlacementData data_;  // none
  mutable std::vector<uint64_t> scratch_;
};

// lma: block of chunk c of value v = reduce(mix(h_c + (c+1) G)), h_c the table's seed
// mixed with each word of the K packed (minhash, position) pairs of chunk c, two per
// 64-bit word, the minhashes at positions (c*K + i) mod hashes, i < K. Values without a
// signature are placed as by HashedPlacement.
class MinhashPlacement final : public BlockPlacement {
 public:
  // `data` holds hashes, offset, minhash and present.
  MinhashPlacement(const PlacementGrid& grid, int k, PlacementData data);
  void blocks_of(int f, std::span<const Id> ids, int64_t scale, int64_t* out) const override;
  const PlacementData& data() const override { return data_; }

 private:
  void read_signature_words(int f, std::span<const Id> ids, uint64_t* word, int64_t ld) const;
  template <int K>
  void read_signature_words_k(int f, std::span<const Id> ids, uint64_t* word, int64_t ld) const;

  PlacementGrid grid_;
  int k_;
  PlacementData data_;
  std::vector<uint32_t> positions_;  // (c * K + j) mod hashes
  mutable std::vector<uint64_t> scratch_;
  mutable std::vector<int64_t> absent_, signature_start_;
};

// Each value's blocks, read (lookups hash nothing).
class StoredPlacement final : public BlockPlacement {
 public:
  // `data` holds offset and blocks.
  StoredPlacement(const PlacementGrid& grid, PlacementData data);
  // The blocks `source` gives every value of features of these cardinalities.
  static StoredPlacement of(const BlockPlacement& source, const PlacementGrid& grid,
                            std::span<const int64_t> cardinalities);
  void blocks_of(int f, std::span<const Id> ids, int64_t scale, int64_t* out) const override;
  const PlacementData& data() const override { return data_; }

 private:
  PlacementGrid grid_;
  PlacementData data_;
};

}  // namespace cembed
