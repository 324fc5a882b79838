#include "inference/quantized.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <vector>

#include "util/check.h"

namespace cembed {

// IEEE half precision, by bits (portable: no _Float16, which clang 14 lacks on x86-64).
// float -> half rounds to nearest even; values beyond half's range are refused before.
uint16_t half_of(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const auto sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t a = x & 0x7fffffff;
  if (a >= 0x477ff000) return sign | 0x7c00;  // >= 65520: infinity (not written: refused)
  if (a < 0x38800000) {                       // below 2^-14: subnormal half (or zero)
    float v;
    std::memcpy(&v, &a, 4);
    return sign | static_cast<uint16_t>(std::nearbyint(v * 16777216.0f));  // v * 2^24 is exact
  }
  uint32_t h = (((a >> 23) - 112) << 10) | ((a & 0x7fffff) >> 13);
  const uint32_t rest = a & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) ++h;  // a carry into the exponent is right
  return sign | static_cast<uint16_t>(h);
}

float float_of_half(uint16_t h) {
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

int64_t quantization_group(int64_t row_width) {
  CEMBED_CHECK(row_width >= 1, "quantization: row width {} must be positive", row_width);
  return (16 + row_width - 1) / row_width * row_width;
}

void encode_block(BinaryWriter& out, std::span<const float> x, int64_t row_width, Precision p,
                  const std::string& what) {
  const auto n = static_cast<int64_t>(x.size());
  const int64_t group = quantization_group(row_width);
  CEMBED_CHECK(n % row_width == 0, "{}: {} floats are not whole rows of {}", what, n, row_width);
  for (int64_t i = 0; i < n; ++i) {
    CEMBED_CHECK(std::isfinite(x[i]), "{}: parameter {} is {}: the model cannot be exported", what, i, x[i]);
  }
  out.u64(static_cast<uint64_t>(n));
  out.u64(static_cast<uint64_t>(group));
  const std::string zeros((kBlockAlign - out.bytes().size() % kBlockAlign) % kBlockAlign, '\0');
  out.raw(zeros.data(), zeros.size());
  switch (p) {
    case Precision::Fp32:
      out.raw(x.data(), x.size_bytes());
      break;
    case Precision::Fp16: {
      std::vector<uint16_t> h(n);
      for (int64_t i = 0; i < n; ++i) {
        CEMBED_CHECK(std::abs(x[i]) <= 65504.0f, "{}: parameter {} = {} is beyond fp16's range (export fp32)", what, i,
                     x[i]);
        h[i] = half_of(x[i]);
      }
      out.raw(h.data(), h.size() * sizeof(uint16_t));
      break;
    }
    case Precision::Int8: {
      std::vector<uint8_t> q(n);
      for (int64_t g = 0; g < n; g += group) {
        const int64_t end = std::min(n, g + group);
        const auto [lo, hi] = std::minmax_element(x.begin() + g, x.begin() + end);
        const float minimum = *lo, scale = (*hi - *lo) / 255.0f;
        out.f32(scale);
        out.f32(minimum);
        for (int64_t i = g; i < end; ++i) {
          const float r = scale > 0 ? std::nearbyint((x[i] - minimum) / scale) : 0.0f;
          q[i] = static_cast<uint8_t>(std::clamp(r, 0.0f, 255.0f));
        }
      }
      out.raw(q.data(), q.size());
      break;
    }
  }
}

namespace {

// The block's header, checked against the size the spec implies, and the padding after it;
// returns the group.
int64_t read_block_header(BinaryReader& in, int64_t n, int64_t row_width, const std::string& what) {
  const uint64_t count = in.u64("block size");
  CEMBED_CHECK(count == static_cast<uint64_t>(n), "{}: {}: {} parameters in the file, the spec implies {}",
               in.context(), what, count, n);
  const uint64_t group = in.u64("quantization group");
  CEMBED_CHECK(group == static_cast<uint64_t>(quantization_group(row_width)),
               "{}: {}: quantization group {}, expected {} (rows of {})", in.context(), what, group,
               quantization_group(row_width), row_width);
  const size_t pad = (kBlockAlign - in.position() % kBlockAlign) % kBlockAlign;
  const char* zeros = in.view(pad, "block padding");
  for (size_t i = 0; i < pad; ++i) CEMBED_CHECK(zeros[i] == 0, "{}: {}: nonzero padding", in.context(), what);
  return static_cast<int64_t>(group);
}

void check_finite(std::span<const float> x, const BinaryReader& in, const std::string& what) {
  // Branch-free pass first (it vectorizes: an exponent of all ones is inf or NaN); the loop
  // that names the parameter only on failure.
  uint32_t bad = 0;
  for (const float v : x) bad |= static_cast<uint32_t>((std::bit_cast<uint32_t>(v) & 0x7f800000u) == 0x7f800000u);
  if (bad == 0) return;
  for (size_t i = 0; i < x.size(); ++i) {
    CEMBED_CHECK(std::isfinite(x[i]), "{}: {}: parameter {} is {}", in.context(), what, i, x[i]);
  }
}

}  // namespace

std::span<const float> view_fp32_block(BinaryReader& in, int64_t floats, int64_t row_width, const std::string& what) {
  read_block_header(in, floats, row_width, what);
  const char* p = in.view(static_cast<size_t>(floats) * sizeof(float), "fp32 parameters");
  CEMBED_CHECK(reinterpret_cast<uintptr_t>(p) % alignof(float) == 0, "{}: {}: fp32 parameters not aligned",
               in.context(), what);
  const std::span<const float> x(reinterpret_cast<const float*>(p), static_cast<size_t>(floats));
  check_finite(x, in, what);
  return x;
}

void decode_block(BinaryReader& in, std::span<float> out, int64_t row_width, Precision p, const std::string& what) {
  const auto n = static_cast<int64_t>(out.size());
  const int64_t group = read_block_header(in, n, row_width, what);
  switch (p) {
    case Precision::Fp32:
      in.raw_into(out.data(), out.size_bytes(), "fp32 parameters");
      break;
    case Precision::Fp16: {
      std::vector<uint16_t> h(n);
      in.raw_into(h.data(), h.size() * sizeof(uint16_t), "fp16 parameters");
      for (int64_t i = 0; i < n; ++i) out[i] = float_of_half(h[i]);
      break;
    }
    case Precision::Int8: {
      const int64_t groups = (n + group - 1) / group;
      std::vector<float> params(2 * groups);
      in.raw_into(params.data(), params.size() * sizeof(float), "int8 scales");
      std::vector<uint8_t> q(n);
      in.raw_into(q.data(), q.size(), "int8 parameters");
      for (int64_t g = 0; g < groups; ++g) {
        const float scale = params[2 * g], minimum = params[2 * g + 1];
        CEMBED_CHECK(std::isfinite(scale) && scale >= 0 && std::isfinite(minimum),
                     "{}: {}: group {} has scale {} and minimum {}", in.context(), what, g, scale, minimum);
        const int64_t begin = g * group, end = std::min(n, begin + group);
        for (int64_t i = begin; i < end; ++i) out[i] = minimum + static_cast<float>(q[i]) * scale;
      }
      break;
    }
  }
  check_finite(out, in, what);
}

}  // namespace cembed
