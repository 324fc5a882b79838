#include "util/zeroed_array.h"

#include <sys/mman.h>

#include <cstdint>
#include <cstring>
#include <new>
#include <utility>

#include "util/aligned_vector.h"

namespace cembed {
namespace {

constexpr std::align_val_t kLine{64};

std::size_t mapped_bytes(std::size_t n) {
  const std::size_t page = huge_pages::kBytes;
  return (n * sizeof(float) + page - 1) / page * page;
}

// `bytes` (a multiple of 2 MiB) of zero pages starting on a 2 MiB boundary: map 2 MiB more
// and unmap the unaligned head and the tail.
float* map_zero_pages(std::size_t bytes) {
  const std::size_t align = huge_pages::kBytes;
  void* p = ::mmap(nullptr, bytes + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  const auto start = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t aligned = (start + align - 1) / align * align;
  if (aligned > start) ::munmap(p, aligned - start);
  const std::uintptr_t end = start + bytes + align, aligned_end = aligned + bytes;
  if (end > aligned_end) ::munmap(reinterpret_cast<void*>(aligned_end), end - aligned_end);
  auto* out = reinterpret_cast<float*>(aligned);
  if (huge_pages::enabled()) huge_pages::advise(out, bytes);
  return out;
}

}  // namespace

ZeroedArray::ZeroedArray(std::size_t n) : size_(n) {
  if (n == 0) return;
  if (n * sizeof(float) >= huge_pages::kBytes) {
    data_ = map_zero_pages(mapped_bytes(n));
    mapped_ = true;
  } else {
    data_ = static_cast<float*>(::operator new(n * sizeof(float), kLine));
    std::memset(data_, 0, n * sizeof(float));
  }
}

ZeroedArray::ZeroedArray(const ZeroedArray& other) : ZeroedArray(other.size_) {
  if (size_ != 0) std::memcpy(data_, other.data_, size_ * sizeof(float));
}

void ZeroedArray::release() {
  if (data_ != nullptr) {
    if (mapped_) {
      ::munmap(data_, mapped_bytes(size_));
    } else {
      ::operator delete(data_, kLine);
    }
  }
  data_ = nullptr;
  size_ = 0;
  mapped_ = false;
}

void ZeroedArray::swap(ZeroedArray& other) noexcept {
  std::swap(data_, other.data_);
  std::swap(size_, other.size_);
  std::swap(mapped_, other.mapped_);
}

}  // namespace cembed
