// InputStream: the bytes of one input file, opened once and read once, front to back, so that
// a pipe, a FIFO, process substitution (`<(zcat x.gz)`) or a character device reads as a
// regular file does. gzip and zstd are told apart by their first bytes, which are read from
// the stream itself (kept and handed on, never re-read by reopening), and decompressed as
// they are read. A directory is refused at once ("is a directory").
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace cembed {

class InputStream {
 public:
  // `line`: the caller's count of lines read, for "after line N" in stream errors (may be null).
  explicit InputStream(std::string path, const int64_t* line = nullptr);
  ~InputStream();
  InputStream(const InputStream&) = delete;
  InputStream& operator=(const InputStream&) = delete;

  // Up to n decompressed bytes; 0 only at the end; throws on a truncated or corrupt stream.
  size_t read(char* out, size_t n);
  const std::string& path() const { return path_; }

  // Bytes of the raw (compressed) file: opened once, the first bytes read kept in front.
  class Raw;
  class Decoder;

 private:
  std::string path_;
  std::unique_ptr<Raw> raw_;
  std::unique_ptr<Decoder> decoder_;
};

// The whole (decompressed) content of `path`, read once; `max_bytes` bounds it ("larger than").
std::string read_input_text(const std::string& path, int64_t max_bytes);

}  // namespace cembed
