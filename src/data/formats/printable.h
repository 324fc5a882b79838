// printable(): a value from an input file as error messages quote it: at most `max_bytes`
// of it ("..." after), control bytes escaped (\0, \t, \r, \n, \xNN), so that a NUL byte or a
// terminal escape in the data cannot cut short or garble the message.
#pragma once

#include <string>
#include <string_view>

namespace cembed {

inline std::string printable(std::string_view s, size_t max_bytes = 32) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  const size_t n = std::min(s.size(), max_bytes);
  for (size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == 0) {
      out += "\\0";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20 || c == 0x7F) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > max_bytes) out += "...";
  return out;
}

}  // namespace cembed
