// Huge-page advice for large arrays (util/aligned_vector.h).
#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "util/aligned_vector.h"

namespace cembed::huge_pages {

bool enabled() {
  static const bool on = [] {
    const char* v = std::getenv("CEMBED_HUGE_PAGES");
    return v == nullptr || std::strcmp(v, "0") != 0;
  }();
  return on;
}

bool advise(void* p, std::size_t bytes) {
#ifdef MADV_HUGEPAGE
  // madvise wants a page-aligned start; the allocator gives a 2 MiB-aligned one.
  const auto start = reinterpret_cast<std::uintptr_t>(p);
  if (start % kBytes != 0) return false;
  return ::madvise(p, bytes, MADV_HUGEPAGE) == 0;
#else
  (void)p;
  (void)bytes;
  return false;
#endif
}

}  // namespace cembed::huge_pages
