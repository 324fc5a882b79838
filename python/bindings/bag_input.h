// The bags of one call from Python (ids, offsets, optional weights per feature), checked
// and converted once into the engine's BagBatch (arrays.h says what is viewed, what copied).
#pragma once

#include <vector>

#include "arrays.h"
#include "cembed/bags.h"

namespace cembed::python {

class BagInput {
 public:
  // One feature: ids, offsets and weights are arrays (weights may be None).
  void add(const py::array& ids, const py::array& offsets, const py::object& weights, bool include_last);
  // Every feature of a KeyedJaggedTensor-like input: `values` of all features one after the
  // other, `offsets` with num_features * B (+ 1 when include_last) entries, weights None or
  // one per value.
  void add_keyed(const py::array& values, const py::array& offsets, const py::object& weights, int num_features,
                 bool include_last);

  std::vector<BagBatch>& bags() { return bags_; }
  int64_t batch_size() const;  // the same for every feature (checked)

 private:
  struct Feature {
    std::vector<Id> ids;
    std::vector<uint32_t> offsets;
  };
  std::vector<Feature> scratch_;
  std::vector<BagBatch> bags_;
};

}  // namespace cembed::python
