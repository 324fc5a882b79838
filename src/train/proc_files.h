// Figures the kernel reports in "Key: N kB" lines (/proc/meminfo, /proc/self/status).
#pragma once

#include <cstdint>
#include <fstream>
#include <string>

namespace cembed {

// The "Key: N kB" line `key` (with its colon) of `path`, in bytes; -1 when absent.
inline int64_t proc_kb_field(const char* path, const std::string& key) {
  std::ifstream in(path);
  std::string word;
  while (in >> word) {
    if (word == key) {
      int64_t kb = 0;
      in >> kb;
      return kb * 1024;
    }
    in.ignore(1 << 20, '\n');
  }
  return -1;
}

}  // namespace cembed
