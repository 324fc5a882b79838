// LineReader: lines of a plain or gzip file (zlib reads both), with line numbers, a line
// length limit, and an error for a truncated gzip stream.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cembed {

class LineReader {
 public:
  LineReader(std::string path, int64_t max_line_bytes);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // Next line without its "\n" (and "\r"); false at the end of the file.
  bool next(std::string_view& line);
  int64_t line_number() const { return line_number_; }
  const std::string& path() const { return path_; }

 private:
  bool fill();
  std::string path_;
  int64_t max_line_bytes_;
  gzFile file_ = nullptr;
  std::vector<char> buf_;
  size_t begin_ = 0, end_ = 0;
  bool eof_ = false;
  std::string line_;
  int64_t line_number_ = 0;
};

}  // namespace cembed
