// The input as a file (plain, or gzip / zstd when it starts with their magic bytes) read
// line by line, then as CSV records (RFC 4180 quoting): a broken stream, an over-long line
// or a malformed record must be a cembed::Error.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "data/formats/csv_reader.h"
#include "data/formats/line_reader.h"
#include "util/check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/cembed_fuzz_lines_" + std::to_string(::getpid());
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  try {
    cembed::LineReader reader(path, 4096);
    std::string_view line;
    while (reader.next(line)) {
    }
  } catch (const cembed::Error&) {
  }
  try {
    cembed::CsvReader records(path, ',', '"', 4096, true);
    std::vector<std::string_view> fields;
    while (true) {
      try {
        if (!records.next(fields)) break;
      } catch (const cembed::BadRecordError&) {
      } catch (const cembed::LongLineError&) {
      }
    }
  } catch (const cembed::Error&) {
  }
  return 0;
}
