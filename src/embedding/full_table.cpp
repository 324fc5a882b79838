// full: one row per value (the uncompressed baseline). Memory n * dim floats.
#include "embedding/registry.h"
#include "embedding/row_table.h"
#include "util/check.h"

namespace cembed {
namespace {

class FullTable final : public RowTable {
 public:
  explicit FullTable(const TableShape& shape) : RowTable(shape, shape.cardinalities.at(0)) {}
  std::string spec() const override { return "full"; }
  std::string method() const override { return "full"; }

 protected:
  void map_ids(std::span<const Id> ids, int64_t* rows) const override {
    for (size_t k = 0; k < ids.size(); ++k) rows[k] = ids[k];
  }
};

int64_t full_bytes(const Spec&, const TableShape& shape) {
  int64_t total = 0;
  for (int64_t n : shape.cardinalities) total += n * shape.dim * static_cast<int64_t>(sizeof(float));
  return total;
}

}  // namespace

MethodEntry full_method() {
  return {
      {"full", "one row per value (no compression)", {}, false},
      [](const Spec&, const TableShape& shape) -> EmbeddingTablePtr { return std::make_unique<FullTable>(shape); },
      full_bytes,
      [](const Spec& spec, const TableShape& shape, int64_t budget) {
        const int64_t need = full_bytes(spec, shape);
        CEMBED_CHECK(need <= budget, "full table needs {} bytes, budget is {}: the smallest budget full can meet is {}",
                     need, budget, need);
        return spec;
      },
      [](const Spec&) { return true; },
      full_bytes,
  };
}

}  // namespace cembed
