#include "data/formats/line_reader.h"

#include <algorithm>
#include <cstring>

namespace cembed {

LineReader::LineReader(std::string path, int64_t max_line_bytes, bool skip_long_lines)
    : path_(std::move(path)),
      max_line_bytes_(max_line_bytes),
      skip_long_lines_(skip_long_lines),
      source_(path_, &line_number_),
      buf_(1 << 20, '\0') {}

bool LineReader::fill() {
  if (eof_) return false;
  const size_t n = source_.read(buf_.data(), buf_.size());
  if (n == 0) {
    eof_ = true;
    return false;
  }
  begin_ = 0;
  end_ = n;
  return true;
}

bool LineReader::peek(std::string_view& out) {
  if (!peeked_) {
    peeked_result_ = next(out);
    peeked_ = true;
  }
  out = line_;
  return peeked_result_;
}

bool LineReader::next(std::string_view& out) {
  if (peeked_) {
    peeked_ = false;
    out = line_;
    return peeked_result_;
  }
  CEMBED_CHECK(!failed_, "{}: read after an over-long line", path_);
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
      const int64_t number = ++line_number_;
      line_.clear();
      if (!skip_long_lines_) {
        // Stop here: the rest of the line may never end (/dev/zero).
        failed_ = true;
        throw LongLineError(fmt::format("{}:{}: line longer than {} bytes", path_, number, max_line_bytes_));
      }
      // Skipped: read past the rest of the line, a buffer at a time, but not forever (see
      // kLongLineSkipBytes: /dev/zero never has an end).
      begin_ += take;
      int64_t skipped = static_cast<int64_t>(take);
      while (!nl && (begin_ < end_ || fill())) {
        const char* rest = buf_.data() + begin_;
        nl = std::memchr(rest, '\n', end_ - begin_);
        const size_t next = nl ? static_cast<size_t>(static_cast<const char*>(nl) - buf_.data()) : end_;
        skipped += static_cast<int64_t>(next - begin_);
        begin_ = next;
        if (!nl && skipped > std::max(kLongLineSkipBytes, kLongLineSkipFactor * max_line_bytes_)) {
          failed_ = true;
          throw Error(
              fmt::format("{}:{}: no end of line in {} bytes (not a file of text lines?)", path_, number, skipped));
        }
      }
      if (nl) ++begin_;
      throw LongLineError(fmt::format("{}:{}: line longer than {} bytes", path_, number, max_line_bytes_));
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
  if (line_number_ == 1 && line_.compare(0, 3, "\xEF\xBB\xBF") == 0) line_.erase(0, 3);  // UTF-8 byte order mark
  out = line_;
  return true;
}

}  // namespace cembed
