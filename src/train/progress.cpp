#include "train/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace cembed {

Progress::Progress(int64_t total_steps, bool enabled)
    : total_(total_steps),
      enabled_(enabled),
      tty_(::isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()) {}

void Progress::update(int64_t step, double sps, double loss) {
  if (!enabled_ || total_ <= 0) return;
  const auto now = std::chrono::steady_clock::now();
  const double frac = static_cast<double>(step) / static_cast<double>(total_);
  const int64_t decile = step * 10 / total_;
  if (tty_) {
    if (now - last_draw_ < std::chrono::milliseconds(200) && step < total_) return;
  } else if (decile == last_decile_) {
    return;
  }
  last_draw_ = now;
  last_decile_ = decile;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const auto eta =
      static_cast<int64_t>(step > 0 ? elapsed * static_cast<double>(total_ - step) / static_cast<double>(step) : 0);
  const int width = 30;
  const int filled = static_cast<int>(frac * width);
  std::string bar(static_cast<size_t>(filled), '=');
  if (filled < width) bar += '>' + std::string(static_cast<size_t>(width - filled - 1), ' ');
  const std::string line = fmt::format("[{}] {}/{} steps  {:.0f} samples/s  loss {:.5f}  ETA {}:{:02d}", bar, step,
                                       total_, sps, loss, eta / 60, eta % 60);
  std::fprintf(stderr, tty_ ? "\r%s  " : "%s\n", line.c_str());
  std::fflush(stderr);
}

void Progress::finish() {
  if (enabled_ && tty_) std::fprintf(stderr, "\n");
}

}  // namespace cembed
