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

WeightView view_block(BinaryReader& in, int64_t floats, int64_t row_width, Precision p, const std::string& what) {
  const int64_t group = read_block_header(in, floats, row_width, what);
  const auto n = static_cast<size_t>(floats);
  WeightView v{p, nullptr, nullptr, floats, group};
  switch (p) {
    case Precision::Fp32: {
      const char* x = in.view(n * sizeof(float), "fp32 parameters");
      CEMBED_CHECK(reinterpret_cast<uintptr_t>(x) % alignof(float) == 0, "{}: {}: fp32 parameters not aligned",
                   in.context(), what);
      check_finite({reinterpret_cast<const float*>(x), n}, in, what);
      v.values = x;
      break;
    }
    case Precision::Fp16: {
      const char* x = in.view(n * sizeof(uint16_t), "fp16 parameters");
      CEMBED_CHECK(reinterpret_cast<uintptr_t>(x) % alignof(uint16_t) == 0, "{}: {}: fp16 parameters not aligned",
                   in.context(), what);
      const auto* h = reinterpret_cast<const uint16_t*>(x);
      // An exponent of all ones is inf or NaN: a branch-free pass (it vectorizes), the loop
      // naming the parameter only on failure.
      uint32_t bad = 0;
      for (size_t i = 0; i < n; ++i) bad |= static_cast<uint32_t>((h[i] & 0x7c00u) == 0x7c00u);
      for (size_t i = 0; bad != 0 && i < n; ++i) {
        CEMBED_CHECK((h[i] & 0x7c00u) != 0x7c00u, "{}: {}: parameter {} is {}", in.context(), what, i,
                     kernels::float_of_half(h[i]));
      }
      v.values = x;
      break;
    }
    case Precision::Int8: {
      const int64_t groups = (floats + group - 1) / group;
      const char* params = in.view(static_cast<size_t>(2 * groups) * sizeof(float), "int8 scales");
      CEMBED_CHECK(reinterpret_cast<uintptr_t>(params) % alignof(float) == 0, "{}: {}: int8 scales not aligned",
                   in.context(), what);
      v.params = reinterpret_cast<const float*>(params);
      // Every value of a group lies in [minimum, fma(255, scale, minimum)] (scale >= 0, the
      // decode is monotone in q): those finite, every decoded value is finite.
      for (int64_t g = 0; g < groups; ++g) {
        const float scale = v.params[2 * g], minimum = v.params[2 * g + 1];
        CEMBED_CHECK(std::isfinite(scale) && scale >= 0 && std::isfinite(minimum) &&
                         std::isfinite(kernels::dequantize_int8(255, scale, minimum)),
                     "{}: {}: group {} has scale {} and minimum {}", in.context(), what, g, scale, minimum);
      }
      v.values = in.view(n, "int8 parameters");
      break;
    }
  }
  return v;
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
        for (int64_t i = begin; i < end; ++i) out[i] = kernels::dequantize_int8(q[i], scale, minimum);
      }
      break;
    }
  }
  check_finite(out, in, what);
}

}  // namespace cembed
