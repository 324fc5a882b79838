// Reading a WeightView's elements as floats (cembed/weight_view.h): fp32 in place, fp16 and
// int8 decoded into the caller's scratch. The decode of one element is written here once
// and used both by the decoder of inference/quantized.cpp (decode_block, which fills a
// table's own memory: the reference) and by the lookups that read a mapped block in place,
// so the two give the same bits. int8 is fma(q, scale, minimum), spelt out: a build that
// would or would not contract min + q * scale by itself cannot make them differ.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#ifdef __F16C__
#include <immintrin.h>
#endif

#include "cembed/weight_view.h"

namespace cembed::kernels {

// IEEE half precision bits to float (portable: no _Float16).
inline float float_of_half(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e == 0) {
    const float v = static_cast<float>(m) * (1.0f / 16777216.0f);
    return sign ? -v : v;
  }
  const uint32_t bits = sign | (e == 31 ? 0x7f800000 | (m << 13) : ((e + 112) << 23) | (m << 13));
  float v;
  std::memcpy(&v, &bits, 4);
  return v;
}

inline float dequantize_int8(uint8_t q, float scale, float minimum) {
  return std::fma(static_cast<float>(q), scale, minimum);
}

// Elements [start, start + n) of an int8 block decoded into out (groups of `group` floats,
// params = scale, minimum per group).
inline void decode_int8(const uint8_t* q, const float* params, int64_t group, int64_t start, int64_t n, float* out) {
  int64_t i = 0;
  while (i < n) {
    const int64_t g = (start + i) / group;
    const int64_t stop = std::min(n, (g + 1) * group - start);  // the run inside group g
    const float scale = params[2 * g], minimum = params[2 * g + 1];
    for (; i < stop; ++i) out[i] = dequantize_int8(q[start + i], scale, minimum);
  }
}

// The three readers the gather kernels are instantiated with: read(start, n, scratch) gives
// the n floats from element start (in place for fp32, else decoded into scratch), at(start)
// the address to prefetch; kElementBytes the bytes an element takes.
struct Fp32Reader {
  static constexpr bool kInPlace = true;
  static constexpr int64_t kElementBytes = 4;
  const float* p;
  const float* read(int64_t start, int64_t, float*) const { return p + start; }
  const void* at(int64_t start) const { return p + start; }
};

struct Fp16Reader {
  static constexpr bool kInPlace = false;
  static constexpr int64_t kElementBytes = 2;
  const uint16_t* p;
  const float* read(int64_t start, int64_t n, float* out) const {
    int64_t i = 0;
#ifdef __F16C__
    // x86-64-v3 has F16C: 8 halves to floats in one instruction, exact as float_of_half is
    // (every half is a float; tested over every finite half).
    for (; i + 8 <= n; i += 8) {
      const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + start + i));
      _mm256_storeu_ps(out + i, _mm256_cvtph_ps(h));
    }
#endif
    for (; i < n; ++i) out[i] = float_of_half(p[start + i]);
    return out;
  }
  const void* at(int64_t start) const { return p + start; }
};

struct Int8Reader {
  static constexpr bool kInPlace = false;
  static constexpr int64_t kElementBytes = 1;
  const uint8_t* q;
  const float* params;
  int64_t group;
  const float* read(int64_t start, int64_t n, float* out) const {
    decode_int8(q, params, group, start, n, out);
    return out;
  }
  const void* at(int64_t start) const { return q + start; }
};

// Calls f(reader) with the reader of v's precision (one instantiation per precision).
template <typename F>
decltype(auto) with_reader(const WeightView& v, F&& f) {
  switch (v.precision) {
    case Precision::Fp16:
      return f(Fp16Reader{static_cast<const uint16_t*>(v.values)});
    case Precision::Int8:
      return f(Int8Reader{static_cast<const uint8_t*>(v.values), v.params, v.group});
    case Precision::Fp32:
      break;
  }
  return f(Fp32Reader{static_cast<const float*>(v.values)});
}

// One run of n elements from `start` (a row of a parts table): fp32 in place, else decoded
// into out. Branches on the precision per call: for loops over few rows of several blocks.
inline const float* read_weights(const WeightView& v, int64_t start, int64_t n, float* out) {
  switch (v.precision) {
    case Precision::Fp16:
      return Fp16Reader{static_cast<const uint16_t*>(v.values)}.read(start, n, out);
    case Precision::Int8:
      return Int8Reader{static_cast<const uint8_t*>(v.values), v.params, v.group}.read(start, n, out);
    case Precision::Fp32:
      break;
  }
  return static_cast<const float*>(v.values) + start;
}

inline const void* weight_address(const WeightView& v, int64_t start) {
  const int64_t bytes = v.precision == Precision::Fp32 ? 4 : v.precision == Precision::Fp16 ? 2 : 1;
  return static_cast<const char*>(v.values) + start * bytes;
}

inline WeightView fp32_view(const float* p, int64_t size) { return {Precision::Fp32, p, nullptr, size, 0}; }

}  // namespace cembed::kernels
