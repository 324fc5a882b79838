// Arrays from Python, checked and viewed without copies where the dtype allows.
//
// Float inputs and outputs (per-value weights, gradients, outputs) must be float32 and
// C-contiguous: they are used in place, never converted. Ids are viewed in place when
// uint32, checked (0 <= id < 2^32) and narrowed into a scratch buffer when int32 or int64
// (PyTorch's index dtypes; the copy is B x F integers, small beside the lookups). Offsets are
// always copied into a uint32 scratch of B + 1 entries and checked: they start at 0, never
// decrease and end at the number of ids. A wrong dtype raises TypeError, a wrong layout or
// shape ValueError, each naming the argument.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <span>
#include <vector>

#include "cembed/bags.h"

namespace cembed::python {

namespace py = pybind11;

// Ids of `name` (1-D); uint32 viewed, int32/int64 checked into `scratch`.
std::span<const Id> ids_of(const py::array& a, const char* name, std::vector<Id>& scratch);

// Offsets of `name` (1-D) for `count` ids: B + 1 entries when include_last, else B bag
// starts (the end is appended), as torch.nn.EmbeddingBag takes them.
std::span<const uint32_t> offsets_of(const py::array& a, const char* name, size_t count, bool include_last,
                                     std::vector<uint32_t>& scratch);

// Per-value weights: None (every id weighs 1) or float32, one per id.
std::span<const float> weights_of(const py::object& w, const char* name, size_t count);

// A float32 C-contiguous array of `name` with exactly `shape`, viewed.
float* float_data(const py::array& a, const char* name, std::vector<int64_t> shape);

// A 2-D float32 view of `data` (rows x cols) kept alive by `owner`.
py::array_t<float> float_view(float* data, int64_t rows, int64_t cols, const py::object& owner);

}  // namespace cembed::python
