// Water-filling of a byte budget among features (the memory planner's frequency rule).
#pragma once

#include <cstdint>
#include <vector>

namespace cembed {

struct FeatureDemand {
  int64_t full_bytes = 0;  // its full table: it never needs more
  int64_t min_bytes = 0;   // the least its method can take (<= full_bytes)
  double weight = 1;       // > 0
};

struct WaterFill {
  double level = 0;        // L: feature i may spend clamp(weight_i * L, min_bytes_i, full_bytes_i)
  std::vector<bool> full;  // weight_i * L >= full_bytes_i: it keeps its full table
};

// The largest level L whose spending, sum_i clamp(weight_i * L, min_i, full_i), is within
// `budget` (every feature full when their full tables fit). The caller checks that
// sum_i min_i <= budget. Monotone: a larger budget never lowers L, so never un-fills one.
WaterFill water_fill(const std::vector<FeatureDemand>& demand, int64_t budget);

}  // namespace cembed
