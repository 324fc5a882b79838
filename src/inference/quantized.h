// Parameter blocks of an exported model in fp32, fp16 or int8.
//
// One block (a table's parameter matrix, or a shared array), in a table's parameters
// section: u64 floats, u64 group, zero bytes up to the next multiple of kBlockAlign bytes
// of the section (sections start on 64-byte boundaries of the file, so an fp32 block's
// values lie on a cache line of the mapping and are read there in place), then
//   fp32: floats x f32
//   fp16: floats x IEEE half (round to nearest even)
//   int8: per group of `group` consecutive floats (the last may be shorter) an f32 scale and
//         an f32 minimum, then floats x u8 q:  x = minimum + q * scale,
//         q = round((x - minimum) / scale), scale = (max - min) / 255 of the group
// `group` is quantization_group(row width): whole rows, at least 16 floats, so a row of
// dim >= 16 floats is its own group and narrow rows (memcom's weights) share one.
// The worst int8 error of an element is scale / 2 = (max - min) / 510 of its group; fp16's
// is 2^-11 relative.
#pragma once

#include <cstdint>
#include <span>

#include "cembed/inference.h"
#include "kernels/weight_reader.h"
#include "util/binary_io.h"

namespace cembed {

constexpr size_t kBlockAlign = 64;

int64_t quantization_group(int64_t row_width);

// IEEE half precision bits of f (round to nearest even; |f| <= 65504), and back
// (kernels/weight_reader.h: the lookups' decode).
uint16_t half_of(float f);
using kernels::float_of_half;

// Refuses values fp16 cannot hold (beyond 65504) and non-finite ones, naming `what`.
void encode_block(BinaryWriter& out, std::span<const float> x, int64_t row_width, Precision p, const std::string& what);
// Reads one block into `out` (the size the table built from its spec has), checking the
// count, the group, the scales and that every value decoded is finite. Element by element
// the same decode as the lookups' in-place reads (kernels/weight_reader.h): the reference
// they are tested against, and InferenceModel::open's decoded mode.
void decode_block(BinaryReader& in, std::span<float> out, int64_t row_width, Precision p, const std::string& what);
// A block of `floats` values in any precision where it lies in `in` (the model's mapping:
// no copy), with the same checks as decode_block, made on the stored form: fp32 values
// finite, no fp16 inf/NaN bit pattern, every int8 group's scale finite and >= 0, its
// minimum and fma(255, scale, minimum) finite (so every value it can decode is finite).
WeightView view_block(BinaryReader& in, int64_t floats, int64_t row_width, Precision p, const std::string& what);

}  // namespace cembed
