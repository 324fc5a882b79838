// Test inputs for the prepare tests: text files in a per-process folder, and a pipe or a FIFO
// fed by a thread (what `<(zcat x.gz)` and `mkfifo` give a program).
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "cembed/prepare.h"
#include "util/check.h"

namespace cembed::testing {

// The error message prepare_dataset(c) ends with; "no error" when it succeeds.
inline std::string prepare_error(const PrepareConfig& c) {
  try {
    prepare_dataset(c);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

inline std::string test_dir(const std::string& name) {
  const auto p = std::filesystem::temp_directory_path() / (name + "_" + std::to_string(::getpid()));
  std::filesystem::create_directories(p);
  return p.string();
}

inline std::string write_file(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// Writes `text` into a pipe from a thread; path() is "/dev/fd/N", as bash's process
// substitution gives it. Reading the path twice would lose what the first reader took.
// written() counts the bytes the reader took (a reader that stops early makes the writer stop).
class PipeInput {
 public:
  explicit PipeInput(std::string text, int64_t repeat = 1) {
    std::signal(SIGPIPE, SIG_IGN);
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe");
    read_ = fds[0];
    writer_ = std::thread([this, w = fds[1], text = std::move(text), repeat] {
      for (int64_t r = 0; r < repeat && !stop_; ++r) {
        size_t done = 0;
        while (done < text.size()) {
          const ssize_t n = ::write(w, text.data() + done, text.size() - done);
          if (n <= 0) {
            ::close(w);
            return;
          }
          done += static_cast<size_t>(n);
          written_ += n;
        }
      }
      ::close(w);
    });
  }
  ~PipeInput() { close_reader(); }
  std::string path() const { return "/dev/fd/" + std::to_string(read_); }
  // Closes the test's own read end: a writer still writing then gets EPIPE and ends.
  void close_reader() {
    stop_ = true;
    if (read_ >= 0) ::close(read_);
    read_ = -1;
    if (writer_.joinable()) writer_.join();
  }
  int64_t written() {
    close_reader();
    return written_;
  }

 private:
  int read_ = -1;
  std::atomic<bool> stop_ = false;
  std::atomic<int64_t> written_ = 0;
  std::thread writer_;
};

// A FIFO (mkfifo) that a thread opens once and writes `text` into. A reader that opens the
// FIFO again would wait for a second writer forever: after `patience` the thread opens and
// closes the FIFO again and again, so that such a reader sees an empty file instead of
// hanging (and the test fails rather than hangs).
class FifoInput {
 public:
  FifoInput(const std::string& path, std::string text, std::chrono::seconds patience = std::chrono::seconds(10))
      : path_(path) {
    std::signal(SIGPIPE, SIG_IGN);
    std::filesystem::remove(path);
    if (::mkfifo(path.c_str(), 0600) != 0) throw std::runtime_error("mkfifo");
    writer_ = std::thread([this, text = std::move(text), patience] {
      // Opened without blocking (a blocking open could wait forever for a reader that came
      // and went), retried until a reader is there, then written to blocking.
      int w = -1;
      while (!finished_ && (w = ::open(path_.c_str(), O_WRONLY | O_NONBLOCK)) < 0 && errno == ENXIO) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      if (w >= 0) ::fcntl(w, F_SETFL, ::fcntl(w, F_GETFL) & ~O_NONBLOCK);
      size_t done = 0;
      while (w >= 0 && done < text.size()) {
        const ssize_t n = ::write(w, text.data() + done, text.size() - done);
        if (n <= 0) break;
        done += static_cast<size_t>(n);
      }
      if (w >= 0) ::close(w);
      const auto until = std::chrono::steady_clock::now() + patience;
      while (!finished_ && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      while (!finished_) {  // a reader waiting for a writer: let it see the end
        const int fd = ::open(path_.c_str(), O_WRONLY | O_NONBLOCK);
        if (fd >= 0) ::close(fd);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
  }
  ~FifoInput() {
    finished_ = true;
    writer_.join();
    std::filesystem::remove(path_);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::atomic<bool> finished_ = false;
  std::thread writer_;
};

}  // namespace cembed::testing
