// Error type and checks used across cembed. Every failure the user can cause (bad spec,
// bad file, out-of-range id) is reported as cembed::Error with a message that names what
// failed and where; programming errors use the same type so nothing crashes silently.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace cembed {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) {
  throw Error(fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace cembed

// CEMBED_CHECK(cond, "format {}", args...): throws cembed::Error when cond is false.
#define CEMBED_CHECK(cond, ...)          \
  do {                                   \
    if (!(cond)) ::cembed::fail(__VA_ARGS__); \
  } while (0)
