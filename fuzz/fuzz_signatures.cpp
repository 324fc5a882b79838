// The input as a signature sidecar file (framed, checksummed): refused with a
// cembed::Error unless it is whole and consistent.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "cembed/signatures.h"
#include "util/check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/cembed_fuzz_sig_" + std::to_string(::getpid()) + ".sig";
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  try {
    const cembed::ValueSignatures s = cembed::load_signatures(path);
    for (int fe = 0; fe < s.num_features(); ++fe) {
      const int64_t n = s.offset[fe + 1] - s.offset[fe];
      if (n > 0) (void)s.of(fe, static_cast<cembed::Id>(n - 1));
    }
  } catch (const cembed::Error&) {
  }
  return 0;
}
