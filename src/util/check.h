// CEMBED_CHECK and fail(): how cembed's own code raises cembed::Error (include/cembed/errors.h)
// with a message formatted by fmt. Internal: the public headers do not need fmt.
#pragma once

#include <fmt/format.h>

#include <string>
#include <utility>

#include "cembed/errors.h"

namespace cembed {

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) {
  throw Error(fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace cembed

// CEMBED_CHECK(cond, "format {}", args...): throws cembed::Error when cond is false.
#define CEMBED_CHECK(cond, ...)               \
  do {                                        \
    if (!(cond)) ::cembed::fail(__VA_ARGS__); \
  } while (0)
