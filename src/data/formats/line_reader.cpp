#include "data/formats/line_reader.h"

#include <cerrno>
#include <cstring>

#include "cembed/errors.h"

namespace cembed {

LineReader::LineReader(std::string path, int64_t max_line_bytes)
    : path_(std::move(path)), max_line_bytes_(max_line_bytes), buf_(1 << 20) {
  file_ = gzopen(path_.c_str(), "rb");
  CEMBED_CHECK(file_ != nullptr, "cannot open {}: {}", path_, std::strerror(errno));
  gzbuffer(file_, 1 << 18);
}

LineReader::~LineReader() {
  if (file_ != nullptr) gzclose(file_);
}

bool LineReader::fill() {
  if (eof_) return false;
  const int n = gzread(file_, buf_.data(), static_cast<unsigned>(buf_.size()));
  if (n < 0 || (n == 0 && !gzeof(file_))) {
    int err = 0;
    const char* msg = gzerror(file_, &err);
    fail("{}: read error after line {}: {}", path_, line_number_, msg);
  }
  if (n == 0) {
    eof_ = true;
    int err = 0;
    const char* msg = gzerror(file_, &err);
    CEMBED_CHECK(err == Z_OK || err == Z_STREAM_END, "{}: truncated or corrupt gzip stream after line {}: {}", path_,
                 line_number_, msg);
    return false;
  }
  begin_ = 0;
  end_ = static_cast<size_t>(n);
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
