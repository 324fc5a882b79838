// What the tests read of the process's own memory: RssAnon (anonymous resident bytes), and
// whether AddressSanitizer runs (its quarantine keeps freed memory resident, so bounds on
// RssAnon do not hold there).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <string>

namespace cembed::testing {

// The process's anonymous resident memory (RssAnon of /proc/self/status), in bytes.
inline int64_t anonymous_resident_bytes() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("RssAnon:", 0) == 0) return std::stoll(line.substr(8)) * 1024;  // "RssAnon:  123 kB"
  }
  ADD_FAILURE() << "no RssAnon in /proc/self/status";
  return 0;
}

#if defined(__SANITIZE_ADDRESS__)
#define CEMBED_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CEMBED_TEST_ASAN 1
#endif
#endif
#ifdef CEMBED_TEST_ASAN
inline constexpr bool kAddressSanitizer = true;
#else
inline constexpr bool kAddressSanitizer = false;
#endif

}  // namespace cembed::testing
