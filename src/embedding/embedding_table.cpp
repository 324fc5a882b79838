// EmbeddingTable's optional members: methods without one flat parameter array offer no
// dense gradient (embedding_table.h).
#include "cembed/embedding_table.h"

#include "util/check.h"

namespace cembed {

void EmbeddingTable::add_gradient(std::span<const BagBatch>, Pooling, std::span<const ConstMatrixView>,
                                  std::span<float>) {
  fail("{} tables offer no dense gradient (dense_gradient_size() is 0)", method());
}

void EmbeddingTable::apply_gradient(std::span<const float>, float) {
  fail("{} tables offer no dense gradient (dense_gradient_size() is 0)", method());
}

}  // namespace cembed
