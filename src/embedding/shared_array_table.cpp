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
// Memory: M floats; lma also keeps the signatures of its values (auxiliary bytes:
// L * 2 + 1 bytes per value, saved with the model).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "cembed/errors.h"
#include "cembed/random.h"
#include "embedding/registry.h"
#include "kernels/embedding_kernels.h"

namespace cembed {
namespace {

constexpr uint64_t kDefaultSeed = 0x5eed;
constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ULL;

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
    seed_key_ = mix64(c_.seed);
    chunks_ = (dim() + c_.block - 1) / c_.block;
    array_.resize(c_.size);
  }

  std::string spec() const override { return spec_; }
  std::string method() const override { return method_; }
  int64_t parameter_bytes() const override { return c_.size * static_cast<int64_t>(sizeof(float)); }
  int64_t optimizer_bytes() const override { return static_cast<int64_t>(state_.size() * sizeof(float)); }
  int64_t auxiliary_bytes() const override {
    return static_cast<int64_t>(minhash_.size() * sizeof(uint16_t) + present_.size());
  }
  std::optional<SignatureKind> signature_kind() const override { return c_.signature; }

  void attach_signatures(const ValueSignatures& sigs, std::span<const int> features) override {
    if (!c_.signature) return;
    CEMBED_CHECK(static_cast<int>(features.size()) == num_features(), "{}: signatures for {} features, table serves {}",
                 spec_, features.size(), num_features());
    CEMBED_CHECK(sigs.config.kind == *c_.signature, "{}: needs {} signatures, got {}", spec_,
                 signature_kind_name(*c_.signature), signature_kind_name(sigs.config.kind));
    set_hashes(sigs.config.num_hashes);
    offset_.assign(1, 0);
    minhash_.clear();
    present_.clear();
    for (int i = 0; i < num_features(); ++i) {
      const int f = features[i];
      CEMBED_CHECK(f >= 0 && f < sigs.num_features(), "{}: no signatures for feature {}", spec_, f);
      const int64_t n = sigs.offset[f + 1] - sigs.offset[f];
      CEMBED_CHECK(n == num_values(i), "{}: signatures cover {} values of feature {}, the table {}", spec_, n, f,
                   num_values(i));
      minhash_.insert(minhash_.end(), sigs.minhash.begin() + sigs.offset[f] * hashes_,
                      sigs.minhash.begin() + sigs.offset[f + 1] * hashes_);
      present_.insert(present_.end(), sigs.present.begin() + sigs.offset[f], sigs.present.begin() + sigs.offset[f + 1]);
      offset_.push_back(offset_.back() + n);
    }
  }

  void init(uint64_t seed) override {
    int64_t total = 0;
    for (int f = 0; f < num_features(); ++f) total += num_values(f);
    const double mean_n = static_cast<double>(total) / num_features();
    const auto bound = static_cast<float>(std::sqrt(1.0 / mean_n));
    Rng rng(seed);
    for (float& x : array_) x = rng.uniform(-bound, bound);
  }

  void set_optimizer(const OptimizerConfig& config) override {
    optimizer_ = config;
    optimizer_set_ = true;
    state_.assign(optimizer_state_floats(config.kind, blocks_, c_.block), config.initial_accumulator);
  }

  // Blocks of every chunk of value v of served feature f: out[c] for c < chunks. Two
  // 64-bit mixes per chunk: one of the value's key (the id for robe, K packed minhashes
  // with their positions for lma), one with the chunk index.
  void blocks_of(int f, Id v, int64_t* out) const {
    const auto blocks = static_cast<uint64_t>(blocks_);
    auto reduce = [blocks](uint64_t h) {
      return static_cast<int64_t>((static_cast<__uint128_t>(h) * blocks) >> 64);
    };
    const uint16_t* sig = signature(f, v);
    if (sig == nullptr) {
      const uint64_t base = mix64(((static_cast<uint64_t>(f) << 32) | v) ^ seed_key_);
      for (int64_t c = 0; c < chunks_; ++c) out[c] = reduce(mix64(base + static_cast<uint64_t>(c + 1) * kGolden));
      return;
    }
    const uint32_t* pos = positions_.data();  // (c * K + j) mod L, precomputed
    for (int64_t c = 0; c < chunks_; ++c, pos += c_.k) {
      uint64_t h = seed_key_;
      for (int i = 0; i < c_.k; i += 2) {
        uint64_t word = 0;
        for (int j = i; j < std::min(i + 2, c_.k); ++j) {
          const uint64_t t = pos[j];
          word |= (static_cast<uint64_t>(sig[t]) | t << 16) << (32 * (j - i));
        }
        h = mix64(h ^ word);
      }
      out[c] = reduce(mix64(h + static_cast<uint64_t>(c + 1) * kGolden));
    }
  }

  void forward(std::span<const BagBatch> bags, Pooling pooling, std::span<const MatrixView> out) const override {
    check_ready();
    const int64_t d = dim(), Z = c_.block;
    for (int f = 0; f < num_features(); ++f) {
      const BagBatch& b = bags[f];
      check_ids(f, b);
      // Blocks of every (id, chunk) first, then the gather with prefetching ahead.
      const auto count = static_cast<int64_t>(b.ids.size());
      blocks_scratch_.resize(count * chunks_);
      for (int64_t k = 0; k < count; ++k) {
        // LMA reads each value's signature (a random access like a table row): ahead of time.
        if (!offset_.empty() && k + 8 < count) {
          __builtin_prefetch(minhash_.data() + (offset_[f] + b.ids[k + 8]) * hashes_);
          __builtin_prefetch(present_.data() + offset_[f] + b.ids[k + 8]);
        }
        blocks_of(f, b.ids[k], blocks_scratch_.data() + k * chunks_);
      }
      const int64_t* blk = blocks_scratch_.data();
      const bool weighted = !b.weights.empty();
      for (int64_t r = 0; r < b.batch_size(); ++r) {
        float* dst = out[f].row(r);
        const uint32_t begin = b.offsets[r], end = b.offsets[r + 1];
        if (begin == end) std::fill(dst, dst + d, 0.0f);
        for (uint32_t k = begin; k < end; ++k) {
          if (k + 4 < count) {
            for (int64_t c = 0; c < chunks_; ++c) __builtin_prefetch(array_.data() + blk[(k + 4) * chunks_ + c] * Z);
          }
          const float w = weighted ? b.weights[k] : 1.0f;
          for (int64_t c = 0; c < chunks_; ++c) {
            const float* src = array_.data() + blk[k * chunks_ + c] * Z;
            const int64_t width = std::min(Z, d - c * Z);
            float* o = dst + c * Z;
            if (k == begin) {
              for (int64_t i = 0; i < width; ++i) o[i] = w * src[i];
            } else {
              for (int64_t i = 0; i < width; ++i) o[i] += w * src[i];
            }
          }
        }
        if (pooling == Pooling::Mean && end > begin) {
          const float s = 1.0f / static_cast<float>(end - begin);
          for (int64_t i = 0; i < d; ++i) dst[i] *= s;
        }
      }
    }
  }

  void backward(std::span<const BagBatch> bags, Pooling pooling, std::span<const ConstMatrixView> grad_out,
                float lr) override {
    check_ready();
    CEMBED_CHECK(optimizer_set_, "{} table: set_optimizer() was not called before backward()", method_);
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
      for (int64_t k = 0; k < count; ++k) {
        blocks_of(f, b.ids[k], slot_blocks_.data() + i);
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
    kernels::apply_row_updates(array_.data(), state_.data(), blocks_, Z, coalesced_, optimizer_, lr);
  }

  void save(BinaryWriter& out) const override {
    out.str(spec_);
    out.i64(dim());
    out.floats(array_);
    out.u32(static_cast<uint32_t>(optimizer_.kind));
    out.floats(state_);
    out.u32(static_cast<uint32_t>(hashes_));
    out.u64(offset_.size());
    for (int64_t o : offset_) out.i64(o);
    out.u64(minhash_.size());
    out.raw(minhash_.data(), minhash_.size() * sizeof(uint16_t));
    out.u64(present_.size());
    out.raw(present_.data(), present_.size());
  }

  void load(BinaryReader& in) override {
    const std::string s = in.str("table spec");
    CEMBED_CHECK(s == spec_, "{}: table spec '{}' in file, '{}' expected", in.context(), s, spec_);
    const int64_t d = in.i64("table dim");
    CEMBED_CHECK(d == dim(), "{}: table dim {} in file, {} expected", in.context(), d, dim());
    in.floats_into(array_, "shared array");
    const uint32_t kind = in.u32("optimizer kind");
    CEMBED_CHECK(kind == static_cast<uint32_t>(optimizer_.kind), "{}: table optimizer in file is {}, configured {}",
                 in.context(), kind <= 2 ? optimizer_kind_name(static_cast<OptimizerKind>(kind)) : "unknown",
                 optimizer_kind_name(optimizer_.kind));
    state_.resize(optimizer_state_floats(optimizer_.kind, blocks_, c_.block));
    in.floats_into(state_, "optimizer state");
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
    CEMBED_CHECK(p == static_cast<uint64_t>(values), "{}: {} presence flags for {} values", in.context(), p, values);
    present_.resize(p);
    in.raw_into(present_.data(), p, "presence flags");
  }

  std::vector<std::span<float>> parameter_blocks() override { return {array_}; }

 private:
  void set_hashes(int hashes) {
    hashes_ = hashes;
    positions_.clear();
    for (int64_t c = 0; c < chunks_; ++c) {
      for (int j = 0; j < c_.k; ++j) positions_.push_back(static_cast<uint32_t>((c * c_.k + j) % std::max(hashes, 1)));
    }
  }
  const uint16_t* signature(int f, Id v) const {
    if (offset_.empty()) return nullptr;
    const int64_t g = offset_[f] + v;
    return present_[g] ? minhash_.data() + g * hashes_ : nullptr;
  }
  void check_ready() const {
    CEMBED_CHECK(!c_.signature || !offset_.empty(),
                 "{} table: no signatures attached (train computes them from the training data, or reads "
                 "<train>.{}.sig written by `cembed signatures`)",
                 spec_, signature_kind_name(*c_.signature));
  }
  void check_ids(int f, const BagBatch& b) const {
    const int64_t n = num_values(f);
    for (Id id : b.ids) CEMBED_CHECK(id < n, "{} table: value id {} out of range [0, {})", method_, id, n);
  }

  std::string spec_, method_;
  SharedConfig c_;
  int64_t blocks_ = 0, chunks_ = 0;
  uint64_t seed_key_ = 0;
  std::vector<float> array_, state_;
  OptimizerConfig optimizer_;
  bool optimizer_set_ = false;
  int hashes_ = 0;
  std::vector<uint32_t> positions_;
  std::vector<int64_t> offset_;
  std::vector<uint16_t> minhash_;
  std::vector<uint8_t> present_;
  // Scratch reused across batches.
  mutable std::vector<int64_t> blocks_scratch_;
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
  sized.set("size", std::to_string(budget / block_bytes * c.block));
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
