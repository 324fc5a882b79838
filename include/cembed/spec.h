// Spec strings: "name" or "name:key=value,key=value", e.g. "hash:rows=65536".
// Keys keep their order so a spec prints back exactly as parsed (round trip).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cembed {

struct Spec {
  std::string name;
  std::vector<std::pair<std::string, std::string>> params;

  // Throws cembed::Error quoting the fragment that failed and the whole spec.
  static Spec parse(std::string_view text);
  std::string str() const;

  bool has(std::string_view key) const;
  std::string get(std::string_view key, std::string_view fallback = "") const;
  int64_t get_int(std::string_view key, int64_t fallback) const;
  double get_double(std::string_view key, double fallback) const;
  // Sets (or replaces, keeping its place) a key.
  void set(std::string_view key, std::string value);
  // Throws unless every key is one of `allowed`; an allowed "prefix.*" admits every key
  // that starts with "prefix." (the keys of a nested method: hot's cold.*).
  void check_keys(const std::vector<std::string>& allowed) const;
};

}  // namespace cembed
