// How many threads a training run uses while other processes keep some of its cores busy.
//
// OpenMP threads meet at the end of every parallel region (dozens per step). When another
// process holds one of the cores, a thread that shares that core stalls the others at each
// meeting, and their waiting spins take still more of the core: on 2 cores with one busy
// process, 2 threads trained at a quarter of their speed, 1 thread at two thirds
// (docs/benchmarks.md, "Training on a busy machine"). So the training loop measures, over
// windows of about half a second, how much of the cores it may run on (the CPUs of its
// affinity mask) other processes used, and runs on the cores left: at most --threads, at
// least 1. Results do not depend on the thread count (docs/reliability.md), so neither the
// model nor its scores change; --fixed-threads turns it off.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string_view>
#include <vector>

namespace cembed {

// Busy and total time of each CPU, in clock ticks, from the text of /proc/stat ("cpuN"
// lines; the "cpu" total line is skipped). Busy is user + nice + system + irq + softirq +
// steal; total adds idle and iowait. A line that does not parse is skipped.
struct CpuTicks {
  uint64_t busy = 0, total = 0;
};
std::map<int, CpuTicks> parse_proc_stat(std::string_view text);

// Threads for the cores left: round(cores - others_busy), within [1, max_threads].
// `cores` is the number of CPUs the process may run on; `others_busy` how many of them other
// processes kept busy, in cores (1.0: one core all the time).
int threads_for_free_cores(double cores, double others_busy, int max_threads);

class ThreadGovernor {
 public:
  // `enabled` false (or max_threads 1) leaves the thread count alone.
  ThreadGovernor(int max_threads, bool enabled);
  // Called between training steps: cheap (a clock read) except once a window, when it reads
  // /proc/stat and this process's CPU time and may set the thread count.
  void between_steps();
  int threads() const { return threads_; }
  // Steps trained with 1, 2, ... threads (index: threads - 1), counted by step_done().
  void step_done() { ++steps_by_threads_[threads_ - 1]; }
  const std::vector<int64_t>& steps_by_threads() const { return steps_by_threads_; }

 private:
  using Clock = std::chrono::steady_clock;
  bool sample(double& busy_cores, double& own_cores);  // since the last sample; false before the first
  int max_threads_, threads_;
  bool enabled_;
  std::vector<int> cpus_;  // the affinity mask's CPUs
  Clock::time_point window_start_;
  uint64_t last_busy_ = 0, last_total_ = 0;
  double last_own_seconds_ = 0;
  bool have_sample_ = false;
  std::vector<int64_t> steps_by_threads_;
};

}  // namespace cembed
