#include "openblas_core.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace cembed::cli {

void pin_openblas_core(char** argv) {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return;
  if (setenv("OPENBLAS_CORETYPE", kPinnedOpenblasCore, 1) != 0) return;
  execv("/proc/self/exe", argv);
  std::fprintf(stderr,
               "cembed: warning: could not restart with OPENBLAS_CORETYPE=%s (%s); OpenBLAS keeps the kernel it chose "
               "for this CPU, so dense-layer results may differ from other machines' in the last bits\n",
               kPinnedOpenblasCore, std::strerror(errno));
}

}  // namespace cembed::cli
