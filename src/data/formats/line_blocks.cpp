#include "data/formats/line_blocks.h"

#include <exception>
#include <utility>

#include "util/check.h"

namespace cembed {
namespace {

void clear(LineBlock& b, const std::string* path) {
  b.path = path;
  b.text.clear();
  b.starts.clear();
  b.numbers.clear();
  b.skipped.clear();
  b.error.clear();
  b.last = false;
}

}  // namespace

LineBlocks::LineBlocks(const std::vector<std::string>& files, int64_t max_line_bytes, bool skip_long_lines,
                       std::unique_ptr<LineReader> first)
    : files_(files),
      max_line_bytes_(max_line_bytes),
      skip_long_lines_(skip_long_lines),
      first_(std::move(first)),
      thread_([this] { run(); }) {}

LineBlocks::~LineBlocks() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

const LineBlock* LineBlocks::next() {
  if (front_.last) return nullptr;
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return ready_; });
  std::swap(front_, handed_);
  ready_ = false;
  lock.unlock();
  changed_.notify_all();
  return &front_;
}

// Hands back_ to the caller once it took the block before; false when stopped.
bool LineBlocks::deliver() {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return !ready_ || stop_; });
  if (stop_) return false;
  std::swap(back_, handed_);
  ready_ = true;
  lock.unlock();
  changed_.notify_all();
  return true;
}

void LineBlocks::run() {
  try {
    for (size_t f = 0; f < files_.size(); ++f) {
      clear(back_, &files_[f]);
      std::unique_ptr<LineReader> opened =
          f == 0 && first_ ? std::move(first_)
                           : std::make_unique<LineReader>(files_[f], max_line_bytes_, skip_long_lines_);
      LineReader& reader = *opened;
      for (bool file_done = false; !file_done;) {
        std::string_view line;
        while (back_.numbers.size() < kLineBlock) {
          try {
            if (!reader.next(line)) {
              file_done = true;
              break;
            }
          } catch (const LongLineError& e) {
            // Over-long lines can be skipped (the reader has read past them); a broken stream cannot.
            if (skip_long_lines_) {
              back_.skipped.push_back(e.what());
              continue;
            }
            back_.error = e.what();
            break;
          } catch (const Error& e) {
            back_.error = e.what();
            break;
          }
          back_.starts.push_back(back_.text.size());
          back_.text.append(line);
          back_.numbers.push_back(reader.line_number());
        }
        back_.starts.push_back(back_.text.size());
        const bool last = !back_.error.empty() || (file_done && f + 1 == files_.size());
        back_.last = last;
        if (!deliver() || last) return;
        clear(back_, &files_[f]);  // back_ now holds the block the caller had: reused
      }
    }
    clear(back_, nullptr);  // no files
    back_.starts.push_back(0);
    back_.last = true;
    deliver();
  } catch (const std::exception& e) {  // a file that cannot be opened, memory
    clear(back_, nullptr);
    back_.starts.push_back(0);
    back_.error = e.what();
    back_.last = true;
    deliver();
  }
}

}  // namespace cembed
