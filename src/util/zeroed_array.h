// ZeroedArray: a fixed-size float array that starts zero, for a table's weights. Arrays of
// 2 MiB and more come straight from the kernel (an anonymous mapping, 2 MiB-aligned and
// advised as huge pages like AlignedVector's, util/aligned_vector.h): their pages read as
// zero and cost neither memory nor time until written, so a table whose weights are then
// replaced (an exported fp32 model read in place from its file) never touches them.
// Smaller arrays are zero-filled on a 64-byte cache line.
#pragma once

#include <cstddef>
#include <span>

namespace cembed {

class ZeroedArray {
 public:
  ZeroedArray() = default;
  explicit ZeroedArray(std::size_t n);
  ZeroedArray(const ZeroedArray& other);
  ZeroedArray(ZeroedArray&& other) noexcept { swap(other); }
  ZeroedArray& operator=(ZeroedArray other) noexcept {
    swap(other);
    return *this;
  }
  ~ZeroedArray() { release(); }

  float* data() { return data_; }
  const float* data() const { return data_; }
  std::size_t size() const { return size_; }
  operator std::span<float>() { return {data_, size_}; }
  operator std::span<const float>() const { return {data_, size_}; }

  // Frees the storage: the array is then empty.
  void release();
  void swap(ZeroedArray& other) noexcept;

 private:
  float* data_ = nullptr;
  std::size_t size_ = 0;
  bool mapped_ = false;  // from mmap (munmap frees it), else from aligned operator new
};

}  // namespace cembed
