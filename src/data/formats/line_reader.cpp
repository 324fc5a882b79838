#include "data/formats/line_reader.h"

#include <zlib.h>
#include <zstd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "cembed/errors.h"

namespace cembed {

// Plain and gzip files: zlib reads both.
class LineReader::GzipSource final : public LineReader::Source {
 public:
  GzipSource(const std::string& path, const int64_t& line) : path_(path), line_(line) {
    file_ = gzopen(path.c_str(), "rb");
    CEMBED_CHECK(file_ != nullptr, "cannot open {}: {}", path, std::strerror(errno));
    gzbuffer(file_, 1 << 18);
  }
  ~GzipSource() override { gzclose(file_); }
  size_t read(char* out, size_t n) override {
    const int got = gzread(file_, out, static_cast<unsigned>(n));
    int err = 0;
    const char* msg = gzerror(file_, &err);
    if (got < 0 || (got == 0 && err != Z_OK && err != Z_STREAM_END)) {
      fail("{}: truncated or corrupt gzip stream after line {}: {}", path_, line_, msg);
    }
    return static_cast<size_t>(got);
  }

 private:
  std::string path_;
  const int64_t& line_;
  gzFile file_ = nullptr;
};

class LineReader::ZstdSource final : public LineReader::Source {
 public:
  ZstdSource(const std::string& path, const int64_t& line) : path_(path), line_(line), in_(ZSTD_DStreamInSize()) {
    file_ = std::fopen(path.c_str(), "rb");
    CEMBED_CHECK(file_ != nullptr, "cannot open {}: {}", path, std::strerror(errno));
    ctx_ = ZSTD_createDCtx();
    input_ = {in_.data(), 0, 0};
  }
  ~ZstdSource() override {
    ZSTD_freeDCtx(ctx_);
    std::fclose(file_);
  }
  size_t read(char* out, size_t n) override {
    ZSTD_outBuffer o{out, n, 0};
    while (true) {
      // Without new input, the decoder has more to give only when it filled the output.
      if (input_.pos < input_.size || output_was_full_) {
        last_ = ZSTD_decompressStream(ctx_, &o, &input_);
        CEMBED_CHECK(!ZSTD_isError(last_), "{}: corrupt zstd stream after line {}: {}", path_, line_,
                     ZSTD_getErrorName(last_));
        output_was_full_ = o.pos == o.size;
        if (o.pos > 0) return o.pos;
      }
      const size_t got = std::fread(in_.data(), 1, in_.size(), file_);
      if (got == 0) {
        // End of the file: the last frame must be complete.
        CEMBED_CHECK(last_ == 0, "{}: truncated or corrupt zstd stream after line {}", path_, line_);
        return 0;
      }
      input_ = {in_.data(), got, 0};
    }
  }

 private:
  std::string path_;
  const int64_t& line_;
  FILE* file_ = nullptr;
  ZSTD_DCtx* ctx_ = nullptr;
  std::vector<char> in_;
  ZSTD_inBuffer input_{nullptr, 0, 0};
  size_t last_ = 0;  // 0 when the last frame is complete
  bool output_was_full_ = false;
};

LineReader::LineReader(std::string path, int64_t max_line_bytes)
    : path_(std::move(path)), max_line_bytes_(max_line_bytes), buf_(1 << 20) {
  unsigned char magic[4] = {};
  FILE* f = std::fopen(path_.c_str(), "rb");
  CEMBED_CHECK(f != nullptr, "cannot open {}: {}", path_, std::strerror(errno));
  const size_t got = std::fread(magic, 1, 4, f);
  std::fclose(f);
  const bool zstd = got == 4 && magic[0] == 0x28 && magic[1] == 0xB5 && magic[2] == 0x2F && magic[3] == 0xFD;
  if (zstd) {
    source_ = std::make_unique<ZstdSource>(path_, line_number_);
  } else {
    source_ = std::make_unique<GzipSource>(path_, line_number_);
  }
}

LineReader::~LineReader() = default;

bool LineReader::fill() {
  if (eof_) return false;
  const size_t n = source_->read(buf_.data(), buf_.size());
  if (n == 0) {
    eof_ = true;
    return false;
  }
  begin_ = 0;
  end_ = n;
  return true;
}

bool LineReader::next(std::string_view& out) {
  line_.clear();
  while (true) {
    if (begin_ == end_ && !fill()) {
      if (line_.empty()) return false;
      break;  // last line without "\n"
    }
    const char* start = buf_.data() + begin_;
    const void* nl = std::memchr(start, '\n', end_ - begin_);
    const size_t take = nl ? static_cast<size_t>(static_cast<const char*>(nl) - start) : end_ - begin_;
    if (static_cast<int64_t>(line_.size() + take) > max_line_bytes_) {
      // Consume the rest of the line first, so that a caller skipping bad lines goes on
      // with the next one.
      const int64_t number = ++line_number_;
      begin_ += take;
      while (!nl && (begin_ < end_ || fill())) {
        const char* rest = buf_.data() + begin_;
        nl = std::memchr(rest, '\n', end_ - begin_);
        begin_ = nl ? static_cast<size_t>(static_cast<const char*>(nl) - buf_.data()) : end_;
      }
      if (nl) ++begin_;
      line_.clear();
      fail("{}:{}: line longer than {} bytes", path_, number, max_line_bytes_);
    }
    line_.append(start, take);
    begin_ += take;
    if (nl) {
      ++begin_;
      break;
    }
  }
  ++line_number_;
  if (!line_.empty() && line_.back() == '\r') line_.pop_back();
  out = line_;
  return true;
}

}  // namespace cembed
