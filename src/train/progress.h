// A progress line on stderr: steps, samples/s, running loss, ETA. Redrawn in place on a
// terminal; a plain line every 10% otherwise (logs, CI).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace cembed {

class Progress {
 public:
  Progress(int64_t total_steps, bool enabled);
  void update(int64_t step, double samples_per_second, double running_loss);
  void finish();

 private:
  int64_t total_;
  bool enabled_, tty_;
  int64_t last_decile_ = -1;
  std::chrono::steady_clock::time_point start_, last_draw_{};
};

}  // namespace cembed
