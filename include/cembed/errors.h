// The one error type of cembed. Every failure the user can cause (bad spec, bad file,
// out-of-range id or setting) is reported as cembed::Error with a message that names what
// failed and where (the file, line and field for inputs); programming errors use the same
// type, so nothing crashes silently.
#pragma once

#include <stdexcept>
#include <string>

namespace cembed {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace cembed
