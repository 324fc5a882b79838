// std::vector whose storage starts on a 64-byte cache line, for arrays read in blocks
// (a block of 8 or 16 floats at a multiple of its size then never straddles two lines).
// Arrays of 2 MiB and more (embedding tables, their optimizer state) start on a 2 MiB
// boundary and are advised to the kernel as huge-page memory (madvise MADV_HUGEPAGE: the
// machines run transparent huge pages in madvise mode): random row reads then miss the TLB
// far less often (docs/benchmarks.md). CEMBED_HUGE_PAGES=0 in the environment turns the
// advice off (for A/B runs); contents and results are the same either way.
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace cembed {

namespace huge_pages {
inline constexpr std::size_t kBytes = std::size_t{2} << 20;  // x86-64's 2 MiB pages
// False when CEMBED_HUGE_PAGES=0 (read once).
bool enabled();
// madvise(MADV_HUGEPAGE) over [p, p + bytes); false when the kernel refuses it.
bool advise(void* p, std::size_t bytes);
}  // namespace huge_pages

template <class T>
struct CacheLineAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlign{64};
  static constexpr std::align_val_t kHugeAlign{huge_pages::kBytes};

  CacheLineAllocator() = default;
  template <class U>
  CacheLineAllocator(const CacheLineAllocator<U>&) {}

  T* allocate(std::size_t n) {
    const std::size_t bytes = n * sizeof(T);
    if (bytes < huge_pages::kBytes) return static_cast<T*>(::operator new(bytes, kAlign));
    void* p = ::operator new(bytes, kHugeAlign);
    if (huge_pages::enabled()) huge_pages::advise(p, bytes);
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t n) {
    if (n * sizeof(T) < huge_pages::kBytes) {
      ::operator delete(p, kAlign);
    } else {
      ::operator delete(p, kHugeAlign);
    }
  }
  friend bool operator==(const CacheLineAllocator&, const CacheLineAllocator&) { return true; }
};

template <class T>
using AlignedVector = std::vector<T, CacheLineAllocator<T>>;

}  // namespace cembed
