// DenseOptimizer: SGD or Adagrad over the dense (MLP) parameters, element-wise.
// RowwiseAdagrad is a table-only rule; dense parameters then use element-wise Adagrad.
#pragma once

#include <span>
#include <vector>

#include "cembed/optimizer.h"

namespace cembed {

class BinaryWriter;  // serialisation of models (internal: src/util/binary_io.h)
class BinaryReader;

class DenseOptimizer {
 public:
  // params[i] and grads[i] must have equal sizes; they stay owned by the caller.
  DenseOptimizer(std::vector<std::span<float>> params, std::vector<std::span<float>> grads, OptimizerConfig config);
  void step(float lr);
  int64_t state_bytes() const { return static_cast<int64_t>(state_floats_ * sizeof(float)); }
  void save(BinaryWriter& out) const;
  void load(BinaryReader& in);

 private:
  std::vector<std::span<float>> params_, grads_;
  std::vector<std::vector<float>> state_;
  OptimizerConfig config_;
  int64_t state_floats_ = 0;
};

}  // namespace cembed
