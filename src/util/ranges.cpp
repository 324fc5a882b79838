#include "cembed/ranges.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <thread>

#include "util/check.h"

namespace cembed {

bool Range::contains(double v) const {
  if (special && v == *special) return true;
  if (std::isnan(v)) return false;
  return (min_open ? v > min : v >= min) && (max_open ? v < max : v <= max);
}

std::string Range::describe() const {
  std::string out;
  if (max == kNoLimit) {
    out = fmt::format("{} {}", min_open ? "above" : "at least", min);
  } else {
    out = fmt::format("{} {}, {} {}", min_open ? "above" : "at least", min, max_open ? "below" : "at most", max);
    if (!min_open && !max_open) out = fmt::format("{} to {}", min, max);
  }
  if (special) out += fmt::format(", or {} ({})", *special, special_means);
  return out;
}

std::string Range::complaint(double value) const { return fmt::format("must be {}, got {}", describe(), value); }

void check_range(std::string_view name, double value, const Range& range) {
  if (!range.contains(value)) fail("{} {}", name, range.complaint(value));
}

int max_threads() { return std::max(64, static_cast<int>(std::thread::hardware_concurrency())); }

}  // namespace cembed
