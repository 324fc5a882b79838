// lma: LMA (SCMA paper; Desai et al.). One array of `size` floats for every feature the
// table serves, in blocks of Z; chunk c of value v lies in the block a hash of K of the
// minhashes of v's signature gives (MinhashPlacement, block_placement.h; the array
// machinery is shared_array.h):
//
//   lma:size=M[,block=Z][,k=K][,signature=rows|context][,seed=S]   Z = 1, K = 2 by default
//
// Chunk c reads the minhashes at positions (c*K + i) mod L, i < K, of the value's L; values
// with no signature (never seen in the rows the signatures were built from) are placed as
// by robe. So two values share a chunk's block with probability about J^K for the Jaccard
// similarity J of their sets (cembed/signatures.h), whatever their features. With L
// minhashes and K per chunk, chunks c and c + L/K draw on the same minhashes (different
// blocks, same sharing decision).
//
// Memory: M floats, and per value what places it (auxiliary bytes, saved with the model),
// whichever is smaller: the minhashes its chunks read, min(L, chunks * K) of its L, and a
// presence flag (2 bytes per minhash + 1), or the block of each chunk, computed once when
// the signatures are attached (4 bytes per chunk; StoredPlacement: lookups then hash
// nothing). With K = 2 and chunks * K <= L, the blocks.
#include <algorithm>

#include "cembed/signatures.h"
#include "embedding/registry.h"
#include "embedding/shared_array.h"
#include "util/check.h"

namespace cembed {
namespace {

constexpr int64_t kLmaBlock = 1;

struct LmaConfig {
  SharedArrayConfig array;
  int k = 2;
  SignatureKind signature = SignatureKind::Rows;
};

LmaConfig lma_config(const Spec& spec) {
  LmaConfig c;
  c.array = SharedArrayConfig::parse(spec, kLmaBlock);
  c.k = static_cast<int>(spec.get_int("k", 2));
  CEMBED_CHECK(c.k >= 1 && c.k <= 8, "bad spec '{}': k must be in [1, 8], got {}", spec.str(), c.k);
  c.signature = parse_signature_kind(spec.get("signature", "rows"));
  return c;
}

class LmaTable final : public SharedArrayTable {
 public:
  LmaTable(const TableShape& shape, const Spec& spec, const LmaConfig& config)
      : SharedArrayTable(shape, spec, config.array), k_(config.k), signature_(config.signature) {}

  std::optional<SignatureKind> signature_kind() const override { return signature_; }

  void attach_signatures(const ValueSignatures& sigs, std::span<const int> features) override {
    CEMBED_CHECK(static_cast<int>(features.size()) == num_features(), "{}: signatures for {} features, table serves {}",
                 spec(), features.size(), num_features());
    CEMBED_CHECK(sigs.config.kind == signature_, "{}: needs {} signatures, got {}", spec(),
                 signature_kind_name(signature_), signature_kind_name(sigs.config.kind));
    // Chunk c reads minhashes (c * K + i) mod L, i < K: only the first min(L, chunks * K)
    // of each value are kept (the same positions, mod the kept count).
    const int L = sigs.config.num_hashes;
    const auto kept = static_cast<int>(std::min<int64_t>(L, grid().chunks * k_));
    std::vector<int64_t> offset(1, 0), cardinalities;
    PlacementArrays arrays;
    for (int i = 0; i < num_features(); ++i) {
      const int f = features[i];
      CEMBED_CHECK(f >= 0 && f < sigs.num_features(), "{}: no signatures for feature {}", spec(), f);
      const int64_t n = sigs.offset[f + 1] - sigs.offset[f];
      CEMBED_CHECK(n == num_values(i), "{}: signatures cover {} values of feature {}, the table {}", spec(), n, f,
                   num_values(i));
      for (int64_t v = sigs.offset[f]; v < sigs.offset[f + 1]; ++v) {
        arrays.minhash.insert(arrays.minhash.end(), sigs.minhash.begin() + v * L, sigs.minhash.begin() + v * L + kept);
      }
      arrays.present.insert(arrays.present.end(), sigs.present.begin() + sigs.offset[f],
                            sigs.present.begin() + sigs.offset[f + 1]);
      offset.push_back(offset.back() + n);
      cardinalities.push_back(n);
    }
    PlacementData data = PlacementData::owning(kept, std::move(offset), std::move(arrays));
    auto by_minhash = std::make_unique<MinhashPlacement>(grid(), k_, std::move(data));
    // Where a value's blocks (4 bytes per chunk) take no more room than its minhashes and
    // presence flag, keep the blocks instead: lookups then read them and hash nothing.
    if (4 * grid().chunks <= 2 * kept + 1) {
      set_placement(std::make_unique<StoredPlacement>(StoredPlacement::of(*by_minhash, grid(), cardinalities)));
    } else {
      set_placement(std::move(by_minhash));
    }
  }

 protected:
  std::unique_ptr<BlockPlacement> placement_from(PlacementData data, BinaryReader&) const override {
    if (data.empty()) return nullptr;  // saved before its signatures were attached
    if (!data.blocks.empty()) return std::make_unique<StoredPlacement>(grid(), std::move(data));
    return std::make_unique<MinhashPlacement>(grid(), k_, std::move(data));
  }

  [[noreturn]] void not_ready() const override {
    fail(
        "{} table: no signatures attached (train computes them from the training data, or reads "
        "<train>.{}.sig written by `cembed signatures`)",
        spec(), signature_kind_name(signature_));
  }

 private:
  int k_;
  SignatureKind signature_;
};

}  // namespace

MethodEntry lma_method() {
  return {{"lma",
           "LMA: one array of size floats for all features, blocks placed by K minhashes of each value's "
           "signature (signature=rows|context)",
           {"size", "block", "k", "signature", "seed"},
           true},
          [](const Spec& spec, const TableShape& shape) -> EmbeddingTablePtr {
            return std::make_unique<LmaTable>(shape, spec, lma_config(spec));
          },
          shared_array_bytes,
          [](const Spec& spec, const TableShape&, int64_t budget) {
            return fit_shared_array(spec, lma_config(spec).array, budget);
          },
          shared_array_is_sized,
          [](const Spec& spec, const TableShape&) {
            return lma_config(spec).array.block * static_cast<int64_t>(sizeof(float));
          }};
}

}  // namespace cembed
