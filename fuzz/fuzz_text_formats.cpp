// Every line of the input through the Criteo, Avazu and libFM row parsers: a malformed
// line must be a FieldError, never a crash, an overflow or a read out of bounds.
#include <cstdint>
#include <string_view>

#include "data/formats/text_formats.h"
#include "util/check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string_view first = text.substr(0, text.find('\n'));
  for (auto format : {cembed::TextFormat::Criteo, cembed::TextFormat::Avazu, cembed::TextFormat::Libfm}) {
    cembed::PrepareConfig c;
    c.format = format;
    std::unique_ptr<cembed::RowParser> parser;
    try {
      parser = cembed::make_row_parser(c, first);
    } catch (const cembed::Error&) {
      continue;  // e.g. libFM fields not inferable from the first line
    }
    cembed::ParsedRow row;
    size_t pos = 0;
    int64_t line = 0;
    while (pos <= text.size()) {
      const size_t end = text.find('\n', pos);
      const std::string_view l = text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
      try {
        parser->parse(l, ++line, row);
      } catch (const cembed::FieldError&) {
      } catch (const cembed::Error&) {
      }
      if (end == std::string_view::npos) break;
      pos = end + 1;
    }
  }
  return 0;
}
