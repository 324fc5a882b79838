// The largest of a span of integers read as unsigned: the branch-free first pass of the id
// and row checks (a negative int64 reads above every bound).
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

namespace cembed {

// A max over the values as their unsigned type, kept in 16 running maxima (four AVX2
// vectors of 64-bit lanes, two of 32-bit) so that the vector compares do not wait on each
// other: in the row check, one running max took 7 % of a cached Adagrad update at dim 16
// (docs/benchmarks.md, "Session 19"). 0 for no values.
template <std::integral T>
uint64_t largest_as_unsigned(std::span<const T> values) {
  using U = std::make_unsigned_t<T>;
  constexpr size_t kLanes = 16;
  U lane_top[kLanes] = {};
  const size_t n = values.size(), body = n - n % kLanes;
  for (size_t i = 0; i < body; i += kLanes) {
    for (size_t l = 0; l < kLanes; ++l) lane_top[l] = std::max(lane_top[l], static_cast<U>(values[i + l]));
  }
  U top = 0;
  for (size_t i = body; i < n; ++i) top = std::max(top, static_cast<U>(values[i]));
  for (const U t : lane_top) top = std::max(top, t);
  return top;
}

}  // namespace cembed
