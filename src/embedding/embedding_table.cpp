// EmbeddingTable's optional members (methods without one flat parameter array offer no
// dense gradient, embedding_table.h) and the id check its methods share.
#include "cembed/embedding_table.h"

#include "util/check.h"
#include "util/largest.h"

namespace cembed {

void EmbeddingTable::add_gradient(std::span<const BagBatch>, Pooling, std::span<const ConstMatrixView>,
                                  std::span<float>) {
  fail("{} tables offer no dense gradient (dense_gradient_size() is 0)", method());
}

void EmbeddingTable::apply_gradient(std::span<const float>, float) {
  fail("{} tables offer no dense gradient (dense_gradient_size() is 0)", method());
}

void EmbeddingTable::check_ids(int f, std::span<const Id> ids) const {
  const auto n = static_cast<uint64_t>(num_values(f));
  // A first pass without branches; the loop naming the id only on failure.
  if (largest_as_unsigned(ids) < n) return;
  for (const Id id : ids) CEMBED_CHECK(id < n, "{} table: value id {} out of range [0, {})", method(), id, n);
}

}  // namespace cembed
