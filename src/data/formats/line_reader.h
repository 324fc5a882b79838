// LineReader: lines of a plain, gzip or zstd file (told apart by their first bytes), with
// line numbers, a line length limit, and an error for a truncated compressed stream.
#pragma once

#include <cstdint>
#include <memory>
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
  // Decompressed bytes of the file: read() returns 0 at the end, throws on a broken stream.
  class Source {
   public:
    virtual ~Source() = default;
    virtual size_t read(char* out, size_t n) = 0;
  };
  class GzipSource;
  class ZstdSource;

  bool fill();
  std::string path_;
  int64_t max_line_bytes_;
  std::unique_ptr<Source> source_;
  std::vector<char> buf_;
  size_t begin_ = 0, end_ = 0;
  bool eof_ = false;
  std::string line_;
  int64_t line_number_ = 0;
};

}  // namespace cembed
