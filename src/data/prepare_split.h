// The --split rules of `cembed prepare` within the training files, one definition for every
// format: "ratio" draws each row's part from the seed and the row's place among the good
// rows; "order" puts the last test_fraction of the rows in test and the valid_fraction
// before them in valid.
#pragma once

#include <cmath>
#include <cstdint>

#include "cembed/prepare.h"
#include "util/check.h"
#include "util/random.h"

namespace cembed {

enum Part : uint8_t { kTrain, kValid, kTest };

// Checks the split and its fractions; true when the training files are split (ratio, order).
inline bool check_split(const PrepareConfig& c) {
  const bool within = c.split == "ratio" || c.split == "order";
  CEMBED_CHECK(within || c.split == "files", "prepare: split must be files, ratio or order, got '{}'", c.split);
  if (within) {
    CEMBED_CHECK(c.valid_files.empty() && c.test_files.empty(), "prepare: split '{}' takes no --valid or --test files",
                 c.split);
    CEMBED_CHECK(c.valid_fraction >= 0 && c.test_fraction > 0 && c.valid_fraction + c.test_fraction < 1,
                 "prepare: need 0 < test fraction, 0 <= valid fraction and their sum < 1 (got {} and {})",
                 c.test_fraction, c.valid_fraction);
  }
  return within;
}

// Ratio split: the part of the row-th good row (0-based) of the training files.
inline Part part_by_ratio(const PrepareConfig& c, int64_t row) {
  const double u = static_cast<double>(mix64(derive_seed(c.seed, 0x5b1, static_cast<uint64_t>(row))) >> 11) * 0x1.0p-53;
  return u < c.test_fraction ? kTest : u < c.test_fraction + c.valid_fraction ? kValid : kTrain;
}

// Order split of `rows` rows: train [0, valid_from), valid [valid_from, test_from), test [test_from, rows).
struct OrderSplit {
  int64_t valid_from, test_from;
};
inline OrderSplit order_split(const PrepareConfig& c, int64_t rows) {
  const auto test_from = rows - static_cast<int64_t>(std::llround(static_cast<double>(rows) * c.test_fraction));
  const auto valid_from = test_from - static_cast<int64_t>(std::llround(static_cast<double>(rows) * c.valid_fraction));
  return {valid_from, test_from};
}

}  // namespace cembed
