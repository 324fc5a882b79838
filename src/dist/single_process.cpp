// SingleProcess::abort: the job of one process ends with its message.
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>

#include "cembed/communicator.h"

namespace cembed {

void SingleProcess::abort(const std::string& message) {
  fmt::print(stderr, "cembed: {}\n", message);
  std::fflush(stderr);
  std::exit(1);
}

}  // namespace cembed
