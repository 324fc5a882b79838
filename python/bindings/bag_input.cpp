#include "bag_input.h"

#include <string>

namespace cembed::python {

void BagInput::add(const py::array& ids, const py::array& offsets, const py::object& weights, bool include_last) {
  const std::string at = bags_.empty() ? "" : " (feature " + std::to_string(bags_.size()) + ")";
  Feature& f = scratch_.emplace_back();  // its buffers stay put when scratch_ grows (moved)
  BagBatch b;
  b.ids = ids_of(ids, ("ids" + at).c_str(), f.ids);
  b.offsets = offsets_of(offsets, ("offsets" + at).c_str(), b.ids.size(), include_last, f.offsets);
  b.weights = weights_of(weights, ("per_sample_weights" + at).c_str(), b.ids.size());
  bags_.push_back(b);
}

void BagInput::add_keyed(const py::array& values, const py::array& offsets, const py::object& weights, int num_features,
                         bool include_last) {
  Feature all;
  const auto ids = ids_of(values, "values", all.ids);
  const auto off = offsets_of(offsets, "offsets", ids.size(), include_last, all.offsets);
  const auto w = weights_of(weights, "per_sample_weights", ids.size());
  const size_t starts = off.size() - 1;
  if (num_features <= 0 || starts % num_features != 0) {
    throw py::value_error("offsets: " + std::to_string(starts) + " bags is not a multiple of the " +
                          std::to_string(num_features) + " features");
  }
  const size_t batch = starts / num_features;
  scratch_.reserve(num_features);
  for (int f = 0; f < num_features; ++f) {
    Feature& feat = scratch_.emplace_back();
    const uint32_t begin = off[f * batch], end = off[(f + 1) * batch];
    feat.offsets.resize(batch + 1);
    for (size_t b = 0; b <= batch; ++b) feat.offsets[b] = off[f * batch + b] - begin;
    if (ids.data() == all.ids.data()) {
      feat.ids.assign(ids.begin() + begin, ids.begin() + end);  // narrowed copy: keep it
    }
    BagBatch bag;
    bag.ids = ids.data() == all.ids.data() ? std::span<const Id>(feat.ids) : ids.subspan(begin, end - begin);
    bag.offsets = feat.offsets;
    bag.weights = w.empty() ? w : w.subspan(begin, end - begin);
    bags_.push_back(bag);
  }
}

int64_t BagInput::batch_size() const {
  const int64_t b = bags_.empty() ? 0 : bags_[0].batch_size();
  for (size_t f = 1; f < bags_.size(); ++f) {
    if (bags_[f].batch_size() != b) {
      throw py::value_error("offsets: feature " + std::to_string(f) + " has " + std::to_string(bags_[f].batch_size()) +
                            " bags, feature 0 has " + std::to_string(b));
    }
  }
  return b;
}

}  // namespace cembed::python
