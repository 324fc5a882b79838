#include "train/water_fill.h"

#include <algorithm>

namespace cembed {

WaterFill water_fill(const std::vector<FeatureDemand>& demand, int64_t budget) {
  auto spend = [&](double level) {
    double total = 0;
    for (const auto& d : demand) {
      total += std::clamp(d.weight * level, static_cast<double>(d.min_bytes), static_cast<double>(d.full_bytes));
    }
    return total;
  };
  double top = 0;  // the level at which every feature is full
  for (const auto& d : demand) top = std::max(top, static_cast<double>(d.full_bytes) / d.weight);
  WaterFill out;
  if (spend(top) <= static_cast<double>(budget)) {
    out.level = top;
  } else {
    double lo = 0, hi = top;  // spend(lo) <= budget < spend(hi)
    for (int it = 0; it < 200 && hi - lo > 1e-9 * hi; ++it) {
      const double mid = 0.5 * (lo + hi);
      (spend(mid) <= static_cast<double>(budget) ? lo : hi) = mid;
    }
    out.level = lo;
  }
  for (const auto& d : demand) out.full.push_back(d.weight * out.level >= static_cast<double>(d.full_bytes));
  return out;
}

}  // namespace cembed
