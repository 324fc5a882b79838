// Row parsers of the text formats: one line -> label, dense values, categorical values.
// A categorical value is a nonzero 64-bit key (0 means empty/missing); keys are exact for
// Criteo's 32-bit hex values and hashes of the text otherwise.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cembed/prepare.h"

namespace cembed {

// A malformed field: the caller adds the file and line.
struct FieldError {
  int field;  // 1-based column
  std::string name;
  std::string message;
};

struct ParsedRow {
  float label = 0;
  std::vector<float> dense;
  std::vector<uint64_t> cats;
};

class RowParser {
 public:
  virtual ~RowParser() = default;
  const std::vector<std::string>& dense_names() const { return dense_names_; }
  const std::vector<std::string>& cat_names() const { return cat_names_; }
  // Parses `line` (the `line_number`-th of its file); returns false for a header line to
  // skip. Throws FieldError for a malformed line.
  virtual bool parse(std::string_view line, int64_t line_number, ParsedRow& row) = 0;

 protected:
  std::vector<std::string> dense_names_, cat_names_;
};

// `first_line` lets libFM infer its field count.
std::unique_ptr<RowParser> make_row_parser(const PrepareConfig& config, std::string_view first_line);

}  // namespace cembed
