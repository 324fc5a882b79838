#include "arrays.h"

#include <string>

namespace cembed::python {

namespace {

std::string dtype_name(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

void require_1d_contiguous(const py::array& a, const char* name) {
  if (a.ndim() != 1)
    throw py::value_error(std::string(name) + ": expected a 1-D array, got " + std::to_string(a.ndim()) +
                          " dimensions");
  if (!(a.flags() & py::array::c_style)) throw py::value_error(std::string(name) + ": array is not contiguous");
}

template <typename T>
void narrow_into(const T* p, size_t n, const char* name, std::vector<uint32_t>& out) {
  out.resize(n);
  bool ok = true;
  for (size_t i = 0; i < n; ++i) {
    ok &= p[i] >= 0 && static_cast<uint64_t>(p[i]) <= UINT32_MAX;
    out[i] = static_cast<uint32_t>(p[i]);
  }
  if (ok) return;
  for (size_t i = 0; i < n; ++i) {
    if (p[i] < 0 || static_cast<uint64_t>(p[i]) > UINT32_MAX) {
      throw py::value_error(std::string(name) + ": entry " + std::to_string(i) + " is " + std::to_string(p[i]) +
                            ", outside [0, 2^32)");
    }
  }
}

// Integers of `a` as uint32: viewed when uint32, else narrowed into scratch.
std::span<const uint32_t> u32_of(const py::array& a, const char* name, std::vector<uint32_t>& scratch) {
  require_1d_contiguous(a, name);
  const size_t n = static_cast<size_t>(a.size());
  if (py::isinstance<py::array_t<uint32_t>>(a)) return {static_cast<const uint32_t*>(a.data()), n};
  if (py::isinstance<py::array_t<int32_t>>(a)) {
    narrow_into(static_cast<const int32_t*>(a.data()), n, name, scratch);
  } else if (py::isinstance<py::array_t<int64_t>>(a)) {
    narrow_into(static_cast<const int64_t*>(a.data()), n, name, scratch);
  } else {
    throw py::type_error(std::string(name) + ": expected integers (uint32, int32 or int64), got " + dtype_name(a));
  }
  return scratch;
}

}  // namespace

std::span<const Id> ids_of(const py::array& a, const char* name, std::vector<Id>& scratch) {
  return u32_of(a, name, scratch);
}

std::span<const uint32_t> offsets_of(const py::array& a, const char* name, size_t count, bool include_last,
                                     std::vector<uint32_t>& scratch) {
  std::vector<uint32_t> tmp;
  const auto in = u32_of(a, name, tmp);
  if (include_last && in.empty())
    throw py::value_error(std::string(name) + ": include_last_offset needs B + 1 >= 1 entries");
  scratch.assign(in.begin(), in.end());
  if (!include_last) scratch.push_back(static_cast<uint32_t>(count));
  if (scratch[0] != 0)
    throw py::value_error(std::string(name) + ": the first offset must be 0, got " + std::to_string(scratch[0]));
  for (size_t b = 0; b < in.size(); ++b) {
    if (in[b] > count) {
      throw py::value_error(std::string(name) + ": entry " + std::to_string(b) + " is " + std::to_string(in[b]) +
                            ", past the " + std::to_string(count) + " ids");
    }
  }
  for (size_t b = 1; b < scratch.size(); ++b) {
    if (scratch[b] < scratch[b - 1]) {
      throw py::value_error(std::string(name) + ": offsets not monotone: entry " + std::to_string(b) + " (" +
                            std::to_string(scratch[b]) + ") < entry " + std::to_string(b - 1) + " (" +
                            std::to_string(scratch[b - 1]) + ")");
    }
  }
  if (scratch.back() != count) {
    throw py::value_error(std::string(name) + ": offsets end at " + std::to_string(scratch.back()) + " but there are " +
                          std::to_string(count) + " ids");
  }
  return scratch;
}

std::span<const float> weights_of(const py::object& w, const char* name, size_t count) {
  if (w.is_none()) return {};
  if (!py::isinstance<py::array>(w)) throw py::type_error(std::string(name) + ": expected a float32 array or None");
  const auto a = py::reinterpret_borrow<py::array>(w);
  const float* p = float_data(a, name, {static_cast<int64_t>(count)});
  return {p, count};
}

float* float_data(const py::array& a, const char* name, std::vector<int64_t> shape) {
  if (!py::isinstance<py::array_t<float>>(a))
    throw py::type_error(std::string(name) + ": expected float32, got " + dtype_name(a));
  if (!(a.flags() & py::array::c_style)) throw py::value_error(std::string(name) + ": array is not contiguous");
  bool same = a.ndim() == static_cast<py::ssize_t>(shape.size());
  for (size_t i = 0; same && i < shape.size(); ++i) same = a.shape(i) == shape[i];
  if (!same) {
    std::string want, got;
    for (int64_t s : shape) want += (want.empty() ? "" : " x ") + std::to_string(s);
    for (py::ssize_t i = 0; i < a.ndim(); ++i) got += (got.empty() ? "" : " x ") + std::to_string(a.shape(i));
    throw py::value_error(std::string(name) + ": shape " + (got.empty() ? "()" : got) + ", expected " + want);
  }
  return static_cast<float*>(const_cast<void*>(a.data()));
}

py::array_t<float> float_view(float* data, int64_t rows, int64_t cols, const py::object& owner) {
  return py::array_t<float>(
      {rows, cols}, {cols * static_cast<int64_t>(sizeof(float)), static_cast<int64_t>(sizeof(float))}, data, owner);
}

}  // namespace cembed::python
