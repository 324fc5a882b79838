#include "cembed/spec.h"

#include <charconv>

#include "util/check.h"

namespace cembed {
namespace {

bool valid_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) return false;
  }
  return true;
}

std::string join_params(const Spec& spec) {
  std::string out;
  for (const auto& [k, v] : spec.params) {
    if (!out.empty()) out += ',';
    out += k + "=" + v;
  }
  return out;
}

}  // namespace

Spec Spec::parse(std::string_view text) {
  Spec spec;
  const auto colon = text.find(':');
  spec.name = std::string(text.substr(0, colon));
  CEMBED_CHECK(valid_token(spec.name), "bad spec '{}': method name '{}' must be letters, digits or _-.", text,
               spec.name);
  if (colon == std::string_view::npos) return spec;
  std::string_view rest = text.substr(colon + 1);
  CEMBED_CHECK(!rest.empty(), "bad spec '{}': nothing after ':'", text);
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string_view frag = rest.substr(0, comma);
    const auto eq = frag.find('=');
    CEMBED_CHECK(eq != std::string_view::npos, "bad spec '{}': '{}' is not key=value", text, frag);
    const std::string_view key = frag.substr(0, eq), value = frag.substr(eq + 1);
    CEMBED_CHECK(valid_token(key) && valid_token(value), "bad spec '{}': '{}' is not key=value", text, frag);
    CEMBED_CHECK(!spec.has(key), "bad spec '{}': key '{}' given twice", text, key);
    spec.params.emplace_back(std::string(key), std::string(value));
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
    CEMBED_CHECK(!rest.empty(), "bad spec '{}': trailing ','", text);
  }
  return spec;
}

std::string Spec::str() const { return params.empty() ? name : name + ":" + join_params(*this); }

bool Spec::has(std::string_view key) const {
  for (const auto& [k, v] : params) {
    if (k == key) return true;
  }
  return false;
}

std::string Spec::get(std::string_view key, std::string_view fallback) const {
  for (const auto& [k, v] : params) {
    if (k == key) return v;
  }
  return std::string(fallback);
}

int64_t Spec::get_int(std::string_view key, int64_t fallback) const {
  if (!has(key)) return fallback;
  const std::string v = get(key);
  int64_t out = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  CEMBED_CHECK(ec == std::errc() && ptr == v.data() + v.size(), "bad spec '{}': '{}={}' is not an integer", str(), key,
               v);
  return out;
}

double Spec::get_double(std::string_view key, double fallback) const {
  if (!has(key)) return fallback;
  const std::string v = get(key);
  double out = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  CEMBED_CHECK(ec == std::errc() && ptr == v.data() + v.size(), "bad spec '{}': '{}={}' is not a number", str(), key,
               v);
  return out;
}

void Spec::set(std::string_view key, std::string value) {
  for (auto& [k, v] : params) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  params.emplace_back(std::string(key), std::move(value));
}

void Spec::check_keys(const std::vector<std::string>& allowed) const {
  for (const auto& [k, v] : params) {
    bool ok = false;
    for (const auto& a : allowed) {
      // "cold.*" allows every key that starts with "cold." (keys passed to a nested method).
      const bool prefix = a.size() > 2 && a.ends_with(".*");
      ok = ok || a == k || (prefix && k.size() > a.size() - 1 && k.starts_with(a.substr(0, a.size() - 1)));
    }
    if (!ok) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      fail("bad spec '{}': method '{}' has no key '{}' (valid keys: {})", str(), name, k, list.empty() ? "none" : list);
    }
  }
}

}  // namespace cembed
