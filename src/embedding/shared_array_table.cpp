// robe and lma: one array of `size` floats shared by every feature the table serves.
//
//   robe:size=M[,block=Z][,seed=S]                 ROBE-Z (Desai et al., MLSys 2022)
//   lma:size=M[,block=Z][,k=K][,signature=rows|context][,seed=S]   LMA (SCMA paper)
//
// The array is M / Z blocks of Z contiguous floats. Element j of value v of feature f lies
// in chunk c = j div Z, at offset j mod Z of block
//   robe: h(f, v, c) mod (M / Z)
//   lma:  h(K minhashes of v's signature, c) mod (M / Z), the minhashes at positions
//         (c*K + i) mod L, i < K, of its L minhashes; values with no signature (never seen
//         in the rows the signatures were built from) fall back to robe's placement.
// So two lma values share a chunk's block with probability about J^K for the Jaccard
// similarity J of their sets (cembed/signatures.h), whatever their features. With L
// minhashes and K per chunk, chunks c and c + L/K draw on the same minhashes (different
// blocks, same sharing decision).
//
// Unlike ROBE's reference (offsets h mod (M - Z + 1), blocks overlapping by any amount),
// blocks here are aligned: a shared slot is a whole block, and the gradients of every
// (value, element) that land on one block add up exactly before the optimizer sees them,
// element-wise Adagrad included. Initialisation: uniform +-sqrt(1/n) with n the mean
// cardinality of the served features (a full table's scale for a typical feature).
// Memory: M floats; lma also keeps, per value, what places it (auxiliary bytes, saved
// with the model), whichever is smaller: the minhashes its chunks read, min(L, chunks * K)
// of its L, and a presence flag (2 bytes per minhash + 1), or the block of each chunk,
// computed once when the signatures are attached (4 bytes per chunk; lookups then hash
// nothing). With K = 2 and chunks * K <= L, the blocks.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "cembed/aligned_vector.h"
#include "cembed/errors.h"
#include "cembed/random.h"
#include "embedding/registry.h"
#include "embedding/table_state.h"
#include "kernels/embedding_kernels.h"

namespace cembed {
namespace {

constexpr uint64_t kDefaultSeed = 0x5eed;
constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ULL;
constexpr int64_t kMaxBlocks = int64_t{1} << 32;  // block numbers fit in 32 bits
constexpr int64_t kPlacementBatch = 4096;  // values placed per call when signatures are attached

struct SharedConfig {
  int64_t size = 0;
  int64_t block = 1;
  int k = 0;  // 0 for robe
  std::optional<SignatureKind> signature;
  uint64_t seed = kDefaultSeed;
};

SharedConfig shared_config(const Spec& spec) {
  SharedConfig c;
  const bool lma = spec.name == "lma";
  c.size = spec.get_int("size", 0);
  c.block = spec.get_int("block", lma ? 1 : 32);
  c.seed = static_cast<uint64_t>(spec.get_int("seed", kDefaultSeed));
  CEMBED_CHECK(c.block >= 1 && c.block <= 4096, "bad spec '{}': block must be in [1, 4096], got {}", spec.str(),
               c.block);
  if (lma) {
    c.k = static_cast<int>(spec.get_int("k", 2));
    CEMBED_CHECK(c.k >= 1 && c.k <= 8, "bad spec '{}': k must be in [1, 8], got {}", spec.str(), c.k);
    c.signature = parse_signature_kind(spec.get("signature", "rows"));
  }
  return c;
}

class SharedArrayTable final : public EmbeddingTable {
 public:
  SharedArrayTable(const TableShape& shape, const Spec& spec, SharedConfig config)
      : EmbeddingTable(shape), spec_(spec.str()), method_(spec.name), c_(config) {
    CEMBED_CHECK(c_.size > 0 && c_.size % c_.block == 0, "bad spec '{}': size must be a positive multiple of block {}",
                 spec_, c_.block);
    blocks_ = c_.size / c_.block;
    CEMBED_CHECK(blocks_ <= kMaxBlocks, "bad spec '{}': at most 2^32 blocks, got {}", spec_, blocks_);
    seed_key_ = mix64(c_.seed);
    chunks_ = (dim() + c_.block - 1) / c_.block;
    array_.emplace(blocks_, c_.block);
  }

  std::string spec() const override { return spec_; }
  std::string method() const override { return method_; }
  int64_t parameter_bytes() const override { return array_->parameter_bytes(); }
  int64_t optimizer_bytes() const override { return array_->optimizer_bytes(); }
  int64_t auxiliary_bytes() const override {
    return static_cast<int64_t>(minhash_.size() * sizeof(uint16_t) + present_.size() +
                                placement_.size() * sizeof(uint32_t));
  }
  std::optional<SignatureKind> signature_kind() const override { return c_.signature; }

  void attach_signatures(const ValueSignatures& sigs, std::span<const int> features) override {
    if (!c_.signature) return;
    CEMBED_CHECK(static_cast<int>(features.size()) == num_features(), "{}: signatures for {} features, table serves {}",
                 spec_, features.size(), num_features());
    CEMBED_CHECK(sigs.config.kind == *c_.signature, "{}: needs {} signatures, got {}", spec_,
                 signature_kind_name(*c_.signature), signature_kind_name(sigs.config.kind));
    // Chunk c reads minhashes (c * K + i) mod L, i < K: only the first min(L, chunks * K)
    // of each value are kept (the same positions, mod the kept count).
    const int L = sigs.config.num_hashes;
    const auto kept = static_cast<int>(std::min<int64_t>(L, chunks_ * c_.k));
    set_hashes(kept);
    offset_.assign(1, 0);
    minhash_.clear();
    present_.clear();
    for (int i = 0; i < num_features(); ++i) {
      const int f = features[i];
      CEMBED_CHECK(f >= 0 && f < sigs.num_features(), "{}: no signatures for feature {}", spec_, f);
      const int64_t n = sigs.offset[f + 1] - sigs.offset[f];
      CEMBED_CHECK(n == num_values(i), "{}: signatures cover {} values of feature {}, the table {}", spec_, n, f,
                   num_values(i));
      for (int64_t v = sigs.offset[f]; v < sigs.offset[f + 1]; ++v) {
        minhash_.insert(minhash_.end(), sigs.minhash.begin() + v * L, sigs.minhash.begin() + v * L + kept);
      }
      present_.insert(present_.end(), sigs.present.begin() + sigs.offset[f], sigs.present.begin() + sigs.offset[f + 1]);
      offset_.push_back(offset_.back() + n);
    }
    // Where a value's blocks (4 bytes per chunk) take no more room than its minhashes and
    // presence flag, keep the blocks instead: lookups then read them and hash nothing.
    placement_.clear();
    if (4 * chunks_ <= 2 * kept + 1) {  // blocks fit in 32 bits (checked at construction)
      AlignedVector<uint32_t> placement(offset_.back() * chunks_);
      std::vector<Id> ids;
      std::vector<int64_t> blocks;
      for (int f = 0; f < num_features(); ++f) {
        for (int64_t v0 = 0; v0 < num_values(f); v0 += kPlacementBatch) {
          const int64_t m = std::min(kPlacementBatch, num_values(f) - v0);
          ids.resize(m);
          std::iota(ids.begin(), ids.end(), static_cast<Id>(v0));
          blocks.resize(m * chunks_);
          blocks_of(f, ids, 1, blocks.data());
          std::copy(blocks.begin(), blocks.end(), placement.begin() + (offset_[f] + v0) * chunks_);
        }
      }
      placement_ = std::move(placement);
      set_hashes(0);
      minhash_ = {};
      present_ = {};
    }
  }

  void init(uint64_t seed) override {
    int64_t total = 0;
    for (int f = 0; f < num_features(); ++f) total += num_values(f);
    const double mean_n = static_cast<double>(total) / num_features();
    const auto bound = static_cast<float>(std::sqrt(1.0 / mean_n));
    Rng rng(seed);
    for (float& x : array_->weights()) x = rng.uniform(-bound, bound);
  }

  void set_optimizer(const OptimizerConfig& config) override { array_->set_optimizer(config); }

  // Blocks of every chunk of every id of a bag batch of served feature f, times `scale`:
  // out[k * chunks + c]. The placement of chunk c of value v:
  //   robe (and lma values without a signature): reduce(mix(mix(f:v ^ seed) + (c+1) G))
  //   lma: reduce(mix(h_c + (c+1) G)), h_c = seed mixed with each word of K packed
  //        (minhash, position) pairs, two per 64-bit word
  // with G the golden-ratio constant and reduce(h) = h * blocks / 2^64. The mixing runs in
  // plain loops over the batch, chunk-major (they vectorize); reading the signatures, the
  // reduction and the interleaving into out are separate passes. Where the table keeps
  // each value's blocks (placement_), they are read instead.
  void blocks_of(int f, std::span<const Id> ids, int64_t scale, int64_t* out) const {
    const auto count = static_cast<int64_t>(ids.size());
    const int64_t chunks = chunks_;
    const uint64_t fkey = (static_cast<uint64_t>(f) << 32) ^ seed_key_;
    if (!placement_.empty()) {
      const uint32_t* placed = placement_.data() + offset_[f] * chunks;
      constexpr int64_t kAhead = 16;  // read at random, like table rows: prefetch
      for (int64_t k = 0; k < count; ++k) {
        if (k + kAhead < count) __builtin_prefetch(placed + static_cast<int64_t>(ids[k + kAhead]) * chunks);
        const uint32_t* p = placed + static_cast<int64_t>(ids[k]) * chunks;
        for (int64_t c = 0; c < chunks; ++c) out[k * chunks + c] = static_cast<int64_t>(p[c]) * scale;
      }
      return;
    }
    const bool by_signature = !offset_.empty();
    const int words = by_signature ? (c_.k + 1) / 2 : 0;  // per chunk
    // Rows of the scratch `ld` apart: count rounded up, off multiples of 4 KiB (rows
    // written and read together at 4 KiB strides alias in the load/store unit).
    int64_t ld = (count + 7) / 8 * 8;
    if (ld % 512 == 0) ld += 8;
    hash_scratch_.resize(ld * (chunks * (words + 1) + 1));
    uint64_t* h = hash_scratch_.data();  // chunks rows of count mixes
    uint64_t* base = h + chunks * ld;    // one row: mixes of the ids
    uint64_t* word = base + ld;          // (chunk, word) rows
    if (!by_signature) {
      for (int64_t k = 0; k < count; ++k) base[k] = mix64(fkey ^ ids[k]);
      for (int64_t c = 0; c < chunks; ++c) {
        const uint64_t salt = static_cast<uint64_t>(c + 1) * kGolden;
        uint64_t* hc = h + c * ld;
        for (int64_t k = 0; k < count; ++k) hc[k] = mix64(base[k] + salt);
      }
    } else {
      absent_.clear();
      read_signature_words(f, ids, word, ld);
      for (int64_t c = 0; c < chunks; ++c) {
        uint64_t* hc = h + c * ld;
        const uint64_t* w = word + c * words * ld;
        const uint64_t salt = static_cast<uint64_t>(c + 1) * kGolden;
        if (words == 1) {  // K <= 2, the common case: one pass
          for (int64_t k = 0; k < count; ++k) hc[k] = mix64(mix64(seed_key_ ^ w[k]) + salt);
          continue;
        }
        for (int64_t k = 0; k < count; ++k) hc[k] = mix64(seed_key_ ^ w[k]);
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
    }
    // reduce(h) = h * blocks / 2^64 from 32-bit halves (exact for blocks <= 2^32; it
    // vectorizes, a 128-bit product does not), then chunk-major to id-major.
    const uint64_t blocks = static_cast<uint64_t>(blocks_), s = static_cast<uint64_t>(scale);
    for (int64_t i = 0; i < chunks * ld; ++i) {
      const uint64_t hi = h[i] >> 32, lo = h[i] & 0xffffffffULL;
      h[i] = ((hi * blocks + ((lo * blocks) >> 32)) >> 32) * s;
    }
    if (chunks == 1) {
      std::copy_n(h, count, out);
      return;
    }
    for (int64_t k = 0; k < count; ++k) {
      for (int64_t c = 0; c < chunks; ++c) out[k * chunks + c] = static_cast<int64_t>(h[c * ld + k]);
    }
  }

  // The packed (minhash, position) words of every chunk of every id (word[(c * words + i)
  // * ld + k]); ids without a signature go to absent_.
  void read_signature_words(int f, std::span<const Id> ids, uint64_t* word, int64_t ld) const {
    switch (c_.k) {  // K known at compile time: the packing loops unroll
      case 1: return read_signature_words_k<1>(f, ids, word, ld);
      case 2: return read_signature_words_k<2>(f, ids, word, ld);
      case 3: return read_signature_words_k<3>(f, ids, word, ld);
      case 4: return read_signature_words_k<4>(f, ids, word, ld);
      case 5: return read_signature_words_k<5>(f, ids, word, ld);
      case 6: return read_signature_words_k<6>(f, ids, word, ld);
      case 7: return read_signature_words_k<7>(f, ids, word, ld);
      default: return read_signature_words_k<8>(f, ids, word, ld);
    }
  }

  template <int K>
  void read_signature_words_k(int f, std::span<const Id> ids, uint64_t* word, int64_t ld) const {
    constexpr int kWords = (K + 1) / 2;
    const auto count = static_cast<int64_t>(ids.size());
    const int64_t chunks = chunks_, L = hashes_;
    const uint16_t* minhash = minhash_.data() + offset_[f] * L;
    const uint8_t* present = present_.data() + offset_[f];
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
            w[k] = (static_cast<uint64_t>(minhash[start[k] + t0]) | static_cast<uint64_t>(minhash[start[k] + t1]) << 32) | tags;
          }
        } else {
          for (int64_t k = 0; k < count; ++k) w[k] = static_cast<uint64_t>(minhash[start[k] + t0]) | t0 << 16;
        }
      }
    }
  }

  void forward(std::span<const BagBatch> bags, Pooling pooling, std::span<const MatrixView> out) const override {
    check_ready();
    for (int f = 0; f < num_features(); ++f) {
      const BagBatch& b = bags[f];
      check_ids(f, b);
      // Where every (id, chunk) lies first, then the gather (which prefetches ahead).
      blocks_scratch_.resize(b.ids.size() * chunks_);
      blocks_of(f, b.ids, c_.block, blocks_scratch_.data());
      kernels::pool_pieces(array_->weights(), c_.size, dim(), c_.block, {blocks_scratch_, b.offsets, b.weights}, pooling,
                           out[f]);
    }
  }

  void backward(std::span<const BagBatch> bags, Pooling pooling, std::span<const ConstMatrixView> grad_out,
                float lr) override {
    check_ready();
    CEMBED_CHECK(array_->has_optimizer(), "{} table: set_optimizer() was not called before backward()", method_);
    const int64_t d = dim(), Z = c_.block;
    int64_t total = 0;
    for (int f = 0; f < num_features(); ++f) total += static_cast<int64_t>(bags[f].ids.size()) * chunks_;
    slot_blocks_.resize(total);
    slot_grads_.assign(total * Z, 0.0f);
    int64_t i = 0;
    for (int f = 0; f < num_features(); ++f) {
      const BagBatch& b = bags[f];
      check_ids(f, b);
      const auto count = static_cast<int64_t>(b.ids.size());
      per_id_.resize(count * d);
      kernels::occurrence_gradients(b.offsets, b.weights, pooling, grad_out[f], d, {per_id_.data(), count, d, d});
      blocks_of(f, b.ids, 1, slot_blocks_.data() + i);
      for (int64_t k = 0; k < count; ++k) {
        for (int64_t c = 0; c < chunks_; ++c, ++i) {
          const int64_t width = std::min(Z, d - c * Z);
          std::copy_n(per_id_.data() + k * d + c * Z, width, slot_grads_.data() + i * Z);
        }
      }
    }
    if (identity_offsets_.size() < static_cast<size_t>(total + 1)) {
      identity_offsets_.resize(total + 1);
      std::iota(identity_offsets_.begin(), identity_offsets_.end(), uint32_t{0});
    }
    const kernels::RowBags slots{slot_blocks_, std::span<const uint32_t>(identity_offsets_.data(), total + 1), {}};
    kernels::coalesce_gradients(slots, Pooling::Sum, ConstMatrixView{slot_grads_.data(), total, Z, Z}, Z, coalesced_);
    array_->update(coalesced_, lr);
  }

  void save(BinaryWriter& out) const override {
    save_table_spec(out, spec_);
    out.i64(dim());
    array_->save_weights(out, false);
    save_optimizer_state(out, {&*array_, 1});
    out.u32(static_cast<uint32_t>(hashes_));
    out.u64(offset_.size());
    for (int64_t o : offset_) out.i64(o);
    out.u64(minhash_.size());
    out.raw(minhash_.data(), minhash_.size() * sizeof(uint16_t));
    out.u64(present_.size());
    out.raw(present_.data(), present_.size());
    out.u64(placement_.size());
    out.raw(placement_.data(), placement_.size() * sizeof(uint32_t));
  }

  void load(BinaryReader& in) override {
    load_table_spec(in, spec_);
    const int64_t d = in.i64("table dim");
    CEMBED_CHECK(d == dim(), "{}: table dim {} in file, {} expected", in.context(), d, dim());
    array_->load_weights(in, false, "shared array");
    load_optimizer_state(in, {&*array_, 1});
    set_hashes(static_cast<int>(in.u32("signature hashes")));
    const uint64_t offsets = in.u64("signature offsets");
    CEMBED_CHECK(offsets == 0 || offsets == static_cast<uint64_t>(num_features() + 1),
                 "{}: {} signature offsets for {} features", in.context(), offsets, num_features());
    offset_.resize(offsets);
    for (auto& o : offset_) o = in.i64("signature offset");
    const uint64_t m = in.u64("minhash count");
    const int64_t values = offset_.empty() ? 0 : offset_.back();
    CEMBED_CHECK(m == static_cast<uint64_t>(values * hashes_), "{}: {} minhashes for {} values", in.context(), m,
                 values);
    minhash_.resize(m);
    in.raw_into(minhash_.data(), m * sizeof(uint16_t), "minhashes");
    const uint64_t p = in.u64("presence count");
    present_.resize(p);
    in.raw_into(present_.data(), p, "presence flags");
    const uint64_t b = in.u64("placement count");
    // Signatures are kept as minhashes with presence flags, or as each value's blocks.
    const bool as_minhashes = b == 0 && p == static_cast<uint64_t>(values) && hashes_ > 0;
    const bool as_blocks = m == 0 && p == 0 && b == static_cast<uint64_t>(values * chunks_);
    CEMBED_CHECK(values == 0 ? m == 0 && p == 0 && b == 0 : as_minhashes || as_blocks,
                 "{}: {} minhashes, {} presence flags and {} blocks for {} values of {} chunks", in.context(), m, p, b,
                 values, chunks_);
    placement_.resize(b);
    in.raw_into(placement_.data(), b * sizeof(uint32_t), "value blocks");
    for (uint32_t x : placement_) CEMBED_CHECK(x < blocks_, "{}: value block {} beyond {}", in.context(), x, blocks_);
  }

  std::vector<std::span<float>> parameter_blocks() override { return {array_->weights()}; }

 private:
  void set_hashes(int hashes) {
    hashes_ = hashes;
    positions_.clear();
    for (int64_t c = 0; c < chunks_; ++c) {
      for (int j = 0; j < c_.k; ++j) positions_.push_back(static_cast<uint32_t>((c * c_.k + j) % std::max(hashes, 1)));
    }
  }
  void check_ready() const {
    CEMBED_CHECK(!c_.signature || !offset_.empty(),
                 "{} table: no signatures attached (train computes them from the training data, or reads "
                 "<train>.{}.sig written by `cembed signatures`)",
                 spec_, signature_kind_name(*c_.signature));
  }
  void check_ids(int f, const BagBatch& b) const {
    const auto n = static_cast<uint64_t>(num_values(f));
    uint32_t bad = 0;  // branch-free first pass (it vectorizes); the loop naming the id on failure
    for (Id id : b.ids) bad |= id >= n;
    if (!bad) return;
    for (Id id : b.ids) CEMBED_CHECK(id < n, "{} table: value id {} out of range [0, {})", method_, id, n);
  }

  std::string spec_, method_;
  SharedConfig c_;
  int64_t blocks_ = 0, chunks_ = 0;
  uint64_t seed_key_ = 0;
  std::optional<TableState> array_;  // blocks x block, on cache lines
  int hashes_ = 0;
  std::vector<uint32_t> positions_;
  std::vector<int64_t> offset_;
  std::vector<uint16_t> minhash_;
  std::vector<uint8_t> present_;
  AlignedVector<uint32_t> placement_;  // values x chunks blocks, when smaller than the minhashes
  // Scratch reused across batches.
  mutable std::vector<int64_t> blocks_scratch_;
  mutable std::vector<uint64_t> hash_scratch_;
  mutable std::vector<int64_t> absent_, signature_start_;
  std::vector<int64_t> slot_blocks_;
  std::vector<float> slot_grads_, per_id_;
  std::vector<uint32_t> identity_offsets_;
  kernels::RowGradients coalesced_;
};

EmbeddingTablePtr build_shared(const Spec& spec, const TableShape& shape) {
  return std::make_unique<SharedArrayTable>(shape, spec, shared_config(spec));
}

int64_t shared_bytes(const Spec& spec, const TableShape&) {
  return spec.get_int("size", 0) * static_cast<int64_t>(sizeof(float));
}

Spec fit_shared(const Spec& spec, const TableShape& shape, int64_t budget) {
  const SharedConfig c = shared_config(spec);
  const int64_t block_bytes = c.block * static_cast<int64_t>(sizeof(float));
  CEMBED_CHECK(budget >= block_bytes, "{} needs at least one block ({} bytes), budget is {}", spec.name, block_bytes,
               budget);
  Spec sized = spec;
  sized.set("size", std::to_string(std::min(budget / block_bytes, kMaxBlocks) * c.block));
  return sized;
}

int64_t shared_min_bytes(const Spec& spec, const TableShape&) {
  return shared_config(spec).block * static_cast<int64_t>(sizeof(float));
}

}  // namespace

MethodEntry robe_table_method() {
  return {{"robe", "ROBE-Z: one array of size floats for all features, blocks of Z placed by a hash of the id",
           {"size", "block", "seed"}, true},
          build_shared, shared_bytes, fit_shared, [](const Spec& spec) { return spec.has("size"); }, shared_min_bytes};
}

MethodEntry lma_table_method() {
  return {{"lma",
           "LMA: one array of size floats for all features, blocks placed by K minhashes of each value's "
           "signature (signature=rows|context)",
           {"size", "block", "k", "signature", "seed"}, true},
          build_shared, shared_bytes, fit_shared, [](const Spec& spec) { return spec.has("size"); }, shared_min_bytes};
}

}  // namespace cembed
