// LineBlocks: the lines of several files in blocks, read ahead on a background thread
// (LineReader beneath) while the caller parses the block before.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "data/formats/line_reader.h"

namespace cembed {

inline constexpr size_t kLineBlock = 1 << 14;  // lines read, then parsed on all threads, at a time

// Up to kLineBlock lines of one file. A block ends at the end of its file.
struct LineBlock {
  const std::string* path = nullptr;
  std::string text;
  std::vector<size_t> starts;        // one per line, and the end
  std::vector<int64_t> numbers;      // line numbers
  std::vector<std::string> skipped;  // errors of the over-long lines skipped, in order
  std::string error;                 // raised after these lines
  bool last = false;
};

// Blocks of the lines of `files`, in order. A broken stream (or an over-long line, unless
// those are skipped) ends the lines: its error comes with the block of the lines before
// it, and that block is the last.
class LineBlocks {
 public:
  // `first`: the first file's reader when the caller opened it already (each input is
  // opened and read once: a pipe cannot be read twice).
  LineBlocks(const std::vector<std::string>& files, int64_t max_line_bytes, bool skip_long_lines,
             std::unique_ptr<LineReader> first);
  ~LineBlocks();
  LineBlocks(const LineBlocks&) = delete;
  LineBlocks& operator=(const LineBlocks&) = delete;

  // The next block, valid until the next call; nullptr after the last.
  const LineBlock* next();

 private:
  bool deliver();
  void run();

  const std::vector<std::string>& files_;
  int64_t max_line_bytes_;
  bool skip_long_lines_;
  std::unique_ptr<LineReader> first_;
  LineBlock front_, handed_, back_;  // the caller's, handed over, being read
  std::mutex mutex_;
  std::condition_variable changed_;
  bool ready_ = false, stop_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace cembed
