#include "train/thread_governor.h"

#include <sched.h>
#include <time.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>

#include "kernels/dense_kernels.h"

namespace cembed {
namespace {

constexpr double kWindowSeconds = 0.5;

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

std::vector<int> affinity_cpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  return cpus;
}

}  // namespace

std::map<int, CpuTicks> parse_proc_stat(std::string_view text) {
  std::map<int, CpuTicks> cpus;
  while (!text.empty()) {
    const size_t end = std::min(text.find('\n'), text.size());
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(std::min(end + 1, text.size()));
    if (line.size() < 4 || line.substr(0, 3) != "cpu" || line[3] < '0' || line[3] > '9') continue;
    int cpu = -1;
    const auto [rest, ec] = std::from_chars(line.data() + 3, line.data() + line.size(), cpu);
    if (ec != std::errc()) continue;
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    std::istringstream fields{std::string(rest, line.data() + line.size())};
    uint64_t v[8] = {};
    int n = 0;
    while (n < 8 && fields >> v[n]) ++n;
    if (n < 4) continue;
    CpuTicks t;
    t.busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    t.total = t.busy + v[3] + v[4];
    cpus[cpu] = t;
  }
  return cpus;
}

int threads_for_free_cores(double cores, double others_busy, int max_threads) {
  const double free_cores = cores - std::max(0.0, others_busy);
  const int threads = static_cast<int>(std::lround(free_cores));
  return std::clamp(threads, 1, std::max(1, max_threads));
}

ThreadGovernor::ThreadGovernor(int max_threads, bool enabled)
    : max_threads_(std::max(1, max_threads)),
      threads_(max_threads_),
      enabled_(enabled && max_threads_ > 1),
      steps_by_threads_(static_cast<size_t>(max_threads_), 0) {
  if (enabled_) {
    cpus_ = affinity_cpus();
    enabled_ = cpus_.size() > 1;
  }
  if (enabled_) {
    double busy = 0, own = 0;
    sample(busy, own);
  }
}

bool ThreadGovernor::sample(double& busy_cores, double& own_cores) {
  std::ifstream in("/proc/stat");
  std::stringstream text;
  text << in.rdbuf();
  const std::map<int, CpuTicks> all = parse_proc_stat(text.str());
  uint64_t busy = 0, total = 0;
  for (int c : cpus_) {
    const auto it = all.find(c);
    if (it == all.end()) continue;
    busy += it->second.busy;
    total += it->second.total;
  }
  const auto now = Clock::now();
  const double own_seconds = process_cpu_seconds();
  bool measured = false;
  if (have_sample_ && total > last_total_) {
    const double wall = std::chrono::duration<double>(now - window_start_).count();
    const double ticks = static_cast<double>(total - last_total_);
    busy_cores = static_cast<double>(busy - last_busy_) / ticks * static_cast<double>(cpus_.size());
    own_cores = wall > 0 ? (own_seconds - last_own_seconds_) / wall : 0;
    measured = true;
  }
  have_sample_ = total > 0;  // no /proc/stat: never decides
  window_start_ = now;
  last_busy_ = busy;
  last_total_ = total;
  last_own_seconds_ = own_seconds;
  return measured;
}

void ThreadGovernor::between_steps() {
  if (!enabled_ || !have_sample_) return;
  if (std::chrono::duration<double>(Clock::now() - window_start_).count() < kWindowSeconds) return;
  double busy = 0, own = 0;
  if (!sample(busy, own)) return;
  const int want = threads_for_free_cores(static_cast<double>(cpus_.size()), busy - own, max_threads_);
  if (want != threads_) {
    threads_ = want;
    kernels::set_num_threads(threads_);
  }
}

}  // namespace cembed
