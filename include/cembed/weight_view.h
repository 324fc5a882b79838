// WeightView: one parameter block of a table (a matrix of EmbeddingTable::blocks(), or a
// shared array) as an exported model stores it, read in place from the file's mapping
// (docs/inference.md, src/inference/quantized.h):
//   fp32: `size` floats;  fp16: `size` IEEE halves;
//   int8: `size` u8 codes q, and per group of `group` consecutive floats (the last may be
//         shorter) an f32 scale and minimum in `params` (scale, minimum, scale, ...):
//         x = fma(q, scale, minimum).
// The lookups decode each row they read with the same expression the decoder uses
// (kernels/weight_reader.h), so a table read in place scores exactly as one decoded at load.
#pragma once

#include <cstdint>

namespace cembed {

enum class Precision { Fp32, Fp16, Int8 };

struct WeightView {
  Precision precision = Precision::Fp32;
  const void* values = nullptr;   // floats, halves or codes
  const float* params = nullptr;  // int8: scale and minimum per group
  int64_t size = 0;               // floats the block holds
  int64_t group = 0;              // int8: floats per group
};

}  // namespace cembed
