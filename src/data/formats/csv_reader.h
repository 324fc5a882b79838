// CsvReader: the records of a CSV/TSV file as RFC 4180 has them (what R's write.csv, pandas
// and spreadsheets write): fields split on the separator; a field that begins with the quote
// character runs to the closing quote and may hold separators, doubled quotes ("" is ") and
// line breaks, so one record can span several lines (it is named by its first line). A quote
// inside an unquoted field is an ordinary character. With no quote character (0) lines are
// split as they are. Empty lines are skipped. Lines come from LineReader (plain, gzip or
// zstd; pipes and FIFOs; a byte order mark dropped).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "data/formats/line_reader.h"

namespace cembed {

// A malformed record (a quote never closed, text after a closing quote): bad input that
// --skip-bad-lines may count and skip, unlike a broken stream.
class BadRecordError : public Error {
 public:
  using Error::Error;
};

class CsvReader {
 public:
  CsvReader(std::string path, char separator, char quote, int64_t max_record_bytes, bool skip_long_lines);

  // The next record's fields (valid until the next call); false at the end. A malformed
  // record (text after a closing quote, a quote never closed) throws BadRecordError naming
  // its line and field; the reader then goes on with the next line. A record longer than
  // the limit throws LongLineError.
  bool next(std::vector<std::string_view>& fields);
  int64_t line_number() const { return record_line_; }  // of the record's first line
  // Physical lines the last record took (after a malformed one: the lines skipped with it).
  int64_t record_lines() const { return lines_.line_number() - record_line_ + 1; }
  const std::string& path() const { return lines_.path(); }

 private:
  LineReader lines_;
  char separator_, quote_;
  int64_t max_record_bytes_;
  int64_t record_line_ = 0;
  std::string text_;            // the unquoted fields of a record with quotes, back to back
  std::vector<size_t> bounds_;  // their starts and the end
};

}  // namespace cembed
