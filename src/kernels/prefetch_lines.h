// Software prefetch of every cache line in a byte range, for the gathers (embedding_kernels.cpp)
// and the row updates (row_update_paths.h).
#pragma once

#include <cstdint>

namespace cembed::kernels {

inline constexpr uintptr_t kCacheLine = 64;

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
