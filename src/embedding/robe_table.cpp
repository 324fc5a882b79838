// robe: ROBE-Z (Desai et al., MLSys 2022). One array of `size` floats for every feature
// the table serves, in blocks of Z; chunk c of value v of feature f lies in block
// h(f, v, c) mod (M / Z) (HashedPlacement, block_placement.h; the array machinery is
// shared_array.h):
//
//   robe:size=M[,block=Z][,seed=S]      Z = min(32, dim) by default
//
// Memory: M floats (nothing per value). Blocks are aligned (block i holds floats [iZ, iZ+Z)),
// so a block wider than the vector would leave Z - dim floats of every block unread: the
// default is clamped to dim, and a larger Z is refused (shared_array.cpp).
#include <algorithm>

#include "embedding/registry.h"
#include "embedding/shared_array.h"
#include "util/check.h"

namespace cembed {
namespace {

constexpr int64_t kRobeBlock = 32;

SharedArrayConfig robe_config(const Spec& spec, const TableShape& shape) {
  return SharedArrayConfig::parse(spec, std::min(kRobeBlock, shape.dim));
}

class RobeTable final : public SharedArrayTable {
 public:
  RobeTable(const TableShape& shape, const Spec& spec) : SharedArrayTable(shape, spec, robe_config(spec, shape)) {
    set_placement(std::make_unique<HashedPlacement>(grid()));
  }

 protected:
  std::unique_ptr<BlockPlacement> placement_from(PlacementData data, BinaryReader& in) const override {
    CEMBED_CHECK(data.empty(), "{}: {} table with per-value placement data", in.context(), spec());
    return std::make_unique<HashedPlacement>(grid());
  }
};

}  // namespace

MethodEntry robe_method() {
  return {{"robe",
           "ROBE-Z: one array of size floats for all features, blocks of Z placed by a hash of the id",
           {"size", "block", "seed"},
           true},
          [](const Spec& spec, const TableShape& shape) -> EmbeddingTablePtr {
            return std::make_unique<RobeTable>(shape, spec);
          },
          shared_array_bytes,
          [](const Spec& spec, const TableShape& shape, int64_t budget) {
            return fit_shared_array(spec, robe_config(spec, shape), budget);
          },
          shared_array_is_sized,
          [](const Spec& spec, const TableShape& shape) {
            return robe_config(spec, shape).block * static_cast<int64_t>(sizeof(float));
          }};
}

}  // namespace cembed
