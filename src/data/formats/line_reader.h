// LineReader: lines of a plain, gzip or zstd file (told apart by their first bytes, read from
// the one stream: pipes and FIFOs work), with line numbers, a line length limit, and an error
// for a truncated compressed stream. A UTF-8 byte order mark before the first line is dropped.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "data/formats/input_stream.h"
#include "util/check.h"

namespace cembed {

// A line longer than the limit. With skip_long_lines the reader has read past it (with no
// more memory than the limit) and goes on with the next line; without, the reader stops there.
// A line with no end within kLongLineSkipBytes, or kLongLineSkipFactor times the limit when
// that is more, is not skipped: the reader stops with an Error (not a LongLineError), so
// /dev/zero ends a run even in skip mode.
inline constexpr int64_t kLongLineSkipFactor = 64;
inline constexpr int64_t kLongLineSkipBytes = int64_t{64} << 20;
class LongLineError : public Error {
 public:
  using Error::Error;
};

class LineReader {
 public:
  LineReader(std::string path, int64_t max_line_bytes, bool skip_long_lines = false);
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // Next line without its "\n" (and "\r"); false at the end of the file.
  bool next(std::string_view& line);
  // The next line, left to be returned by next() again.
  bool peek(std::string_view& line);
  int64_t line_number() const { return line_number_; }
  const std::string& path() const { return path_; }

 private:
  bool fill();
  std::string path_;
  int64_t max_line_bytes_;
  bool skip_long_lines_;
  int64_t line_number_ = 0;  // before source_: the stream reports it in its errors
  InputStream source_;
  std::string buf_;
  size_t begin_ = 0, end_ = 0;
  bool eof_ = false, failed_ = false, peeked_ = false, peeked_result_ = false;
  std::string line_;
};

}  // namespace cembed
