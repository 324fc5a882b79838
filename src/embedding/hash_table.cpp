// hash: the hashing trick. Value v of a feature with n values uses row h(v) mod rows of a
// table of `rows` rows (rows <= n); h is a seeded 64-bit mixer. Memory rows * dim floats.
#include <algorithm>

#include "embedding/registry.h"
#include "embedding/row_table.h"
#include "util/check.h"
#include "util/fast_mod.h"
#include "util/random.h"

namespace cembed {
namespace {

constexpr uint64_t kDefaultHashSeed = 0x5eed;

class HashTable final : public RowTable {
 public:
  HashTable(const TableShape& shape, int64_t rows, uint64_t seed)
      : RowTable(shape, rows), seed_(seed), key_(mix64(seed)), mod_rows_(static_cast<uint64_t>(rows)) {}
  std::string spec() const override {
    std::string s = "hash:rows=" + std::to_string(rows());
    if (seed_ != kDefaultHashSeed) s += ",seed=" + std::to_string(seed_);
    return s;
  }
  std::string method() const override { return "hash"; }

 protected:
  void map_ids(std::span<const Id> ids, int64_t* rows) const override {
    for (size_t k = 0; k < ids.size(); ++k) rows[k] = static_cast<int64_t>(mod_rows_(mix64(ids[k] ^ key_)));
  }

 private:
  uint64_t seed_;
  uint64_t key_;        // mix64(seed_), what each id is xored with
  FastMod64 mod_rows_;  // h mod rows without a 64-bit division per id
};

int64_t hash_bytes(const Spec& spec, const TableShape& shape) {
  return spec.get_int("rows", 0) * shape.dim * static_cast<int64_t>(sizeof(float));
}

}  // namespace

MethodEntry hash_method() {
  return {
      {"hash", "hashing trick: row = h(v) mod rows", {"rows", "seed"}, false},
      [](const Spec& spec, const TableShape& shape) -> EmbeddingTablePtr {
        const int64_t rows = spec.get_int("rows", 0);
        CEMBED_CHECK(rows > 0, "bad spec '{}': rows must be positive", spec.str());
        const auto seed = static_cast<uint64_t>(spec.get_int("seed", kDefaultHashSeed));
        return std::make_unique<HashTable>(shape, rows, seed);
      },
      hash_bytes,
      [](const Spec& spec, const TableShape& shape, int64_t budget) {
        const int64_t row_bytes = shape.dim * static_cast<int64_t>(sizeof(float));
        CEMBED_CHECK(budget >= row_bytes, "hash needs at least one row ({} bytes), budget is {}", row_bytes, budget);
        Spec sized = spec;
        sized.set("rows", std::to_string(std::min(budget / row_bytes, shape.cardinalities.at(0))));
        return sized;
      },
      [](const Spec& spec) { return spec.has("rows"); },
      [](const Spec&, const TableShape& shape) { return shape.dim * static_cast<int64_t>(sizeof(float)); },
  };
}

}  // namespace cembed
