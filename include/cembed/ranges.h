// The documented range of a numeric setting. Each setting declares its range once (next to
// the setting: TrainConfig's in trainer.h, a command's own in its CLI file); the library's
// checks, the CLI's checks and its --help text all read that one declaration.
#pragma once

#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace cembed {

struct Range {
  static constexpr double kNoLimit = std::numeric_limits<double>::infinity();

  // Range{min, max, min_open, special, special_means, max_open}, trailing ones optional.
  constexpr Range(double lo = 0, double hi = kNoLimit, bool lo_open = false, std::optional<double> extra = std::nullopt,
                  std::string_view extra_means = {}, bool hi_open = false)
      : min(lo), max(hi), min_open(lo_open), special(extra), special_means(extra_means), max_open(hi_open) {}

  double min = 0;
  double max = kNoLimit;
  bool min_open = false;           // true: min itself is refused, (min, max]
  std::optional<double> special;   // one more accepted value outside [min, max], e.g. -1
  std::string_view special_means;  // what it does, e.g. "all epochs"
  bool max_open = false;           // true: max itself is refused, [min, max)

  bool contains(double v) const;
  // "1 to 16777216", "at least 0", "above 0, at most 100", "0 to below 1",
  // "at least 1, or -1 (all epochs)".
  std::string describe() const;
  // "must be <describe()>, got <value>".
  std::string complaint(double value) const;
};

// Throws cembed::Error "<name> must be <range>, got <value>" when value lies outside.
void check_range(std::string_view name, double value, const Range& range);

// The most threads any setting accepts: max(64, this machine's hardware threads).
int max_threads();

}  // namespace cembed
