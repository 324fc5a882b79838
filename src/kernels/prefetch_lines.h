// Software prefetch of every cache line in a byte range, and how many rows ahead a loop over
// rows at random places prefetches (rows_ahead), for the gathers (embedding_kernels.cpp) and
// the row updates (row_update_paths.h).
#pragma once

#include <algorithm>
#include <cstdint>

namespace cembed::kernels {

inline constexpr uintptr_t kCacheLine = 64;

// Cache lines that hold `bytes` bytes from a line's start.
constexpr int64_t lines_of(int64_t bytes) {
  return (bytes + static_cast<int64_t>(kCacheLine) - 1) / static_cast<int64_t>(kCacheLine);
}

// How far ahead a loop over rows at random places prefetches them: the rows whose lines make
// about kLinesInFlight lines on their way at once, `lines_per_row` lines a row (every array
// the loop touches, whether or not it prefetches each line). On rows that miss the caches
// (Zen 5), reading one line a row ran 1.7x as fast 64 rows ahead as 16 ahead, and Adagrad's
// update at dim 16 (2 lines a row) 1.3x as fast 32 rows ahead as 8 ahead; at dim 64 the
// gathers were fastest 16 rows ahead and Adagrad 8 (docs/benchmarks.md, "Session 20").
inline constexpr int64_t kLinesInFlight = 64;
constexpr int64_t rows_ahead(int64_t lines_per_row) {
  return std::max<int64_t>(1, kLinesInFlight / std::max<int64_t>(1, lines_per_row));
}

// Prefetches every cache line that holds a byte of [first, last] (last inclusive), with
// __builtin_prefetch's read/write hint and locality. Always inlined: the Highway files call it
// from code built for other targets, into which g++ 12 does not inline a plain inline
// function, and then drops the call as free of effects (row_updates_simd.cpp's loops ran
// without any prefetch: docs/benchmarks.md, "Session 15").
template <int ReadWrite, int Locality>
__attribute__((always_inline)) inline void prefetch_lines(const void* first, const void* last) {
  const auto end = reinterpret_cast<uintptr_t>(last);
  for (uintptr_t line = reinterpret_cast<uintptr_t>(first) & ~(kCacheLine - 1); line <= end; line += kCacheLine) {
    __builtin_prefetch(reinterpret_cast<const void*>(line), ReadWrite, Locality);
  }
}

}  // namespace cembed::kernels
