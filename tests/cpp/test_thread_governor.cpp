// The thread governor (src/train/thread_governor.h): /proc/stat parsing, the rule, and a
// busy process on one of two cores bringing a governed run down to one thread.
#include "train/thread_governor.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "kernels/dense_kernels.h"

namespace cembed {
namespace {

TEST(ThreadGovernor, ParsesEachCpuLineOfProcStat) {
  const auto cpus = parse_proc_stat(
      "cpu  10 0 5 100 1 0 0 0 0 0\n"
      "cpu0 4 1 2 50 1 1 1 1 0 0\n"
      "cpu1 6 0 3 50 0 0 0 0\n"
      "cpu2 1 2 3 4\n"
      "cpu3 x 1 2 3\n"
      "intr 123 4\n"
      "cpufreq 1 2 3 4\n");
  ASSERT_EQ(cpus.size(), 3u);
  EXPECT_EQ(cpus.at(0).busy, 4u + 1 + 2 + 1 + 1 + 1);  // user nice system irq softirq steal
  EXPECT_EQ(cpus.at(0).total, 10u + 50 + 1);           // + idle iowait
  EXPECT_EQ(cpus.at(1).busy, 9u);
  EXPECT_EQ(cpus.at(1).total, 59u);
  EXPECT_EQ(cpus.at(2).busy, 6u);  // an old kernel's four fields
  EXPECT_EQ(cpus.at(2).total, 10u);
}

TEST(ThreadGovernor, RunsOnTheCoresOthersLeaveWithinOneAndTheMaximum) {
  struct Case {
    double cores, others;
    int max, want;
  };
  for (const Case c : {Case{2, 0, 2, 2}, Case{2, 0.4, 2, 2}, Case{2, 0.6, 2, 1}, Case{2, 1.0, 2, 1}, Case{2, 2.5, 2, 1},
                       Case{2, -0.2, 2, 2}, Case{8, 0, 2, 2}, Case{8, 3.2, 8, 5}, Case{8, 3.2, 1, 1}}) {
    EXPECT_EQ(threads_for_free_cores(c.cores, c.others, c.max), c.want)
        << c.cores << " cores, others busy " << c.others << ", max " << c.max;
  }
}

// Sets this process's affinity for the test's duration.
class AffinityScope {
 public:
  explicit AffinityScope(const cpu_set_t& set) {
    sched_getaffinity(0, sizeof(saved_), &saved_);
    sched_setaffinity(0, sizeof(set), &set);
  }
  ~AffinityScope() { sched_setaffinity(0, sizeof(saved_), &saved_); }

 private:
  cpu_set_t saved_{};
};

TEST(ThreadGovernor, ABusyProcessOnOneOfTwoCoresLeavesOneThread) {
  cpu_set_t mine;
  CPU_ZERO(&mine);
  ASSERT_EQ(sched_getaffinity(0, sizeof(mine), &mine), 0);
  int two[2] = {-1, -1}, found = 0;
  for (int c = 0; c < CPU_SETSIZE && found < 2; ++c)
    if (CPU_ISSET(c, &mine)) two[found++] = c;
  if (found < 2) GTEST_SKIP() << "needs two CPUs";
  cpu_set_t pair, first;
  CPU_ZERO(&pair);
  CPU_SET(two[0], &pair);
  CPU_SET(two[1], &pair);
  CPU_ZERO(&first);
  CPU_SET(two[0], &first);
  const int threads_before = kernels::num_threads();
  AffinityScope scope(pair);

  const pid_t busy = fork();
  ASSERT_GE(busy, 0);
  if (busy == 0) {  // the other process: spins on the first CPU until killed
    sched_setaffinity(0, sizeof(first), &first);
    for (volatile uint64_t i = 0;; i = i + 1) {
    }
  }
  ThreadGovernor governed(2, true), fixed(2, false);
  const auto start = std::chrono::steady_clock::now();
  while (governed.threads() != 1 && std::chrono::steady_clock::now() - start < std::chrono::seconds(10)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    governed.between_steps();
    governed.step_done();
    fixed.between_steps();
    fixed.step_done();
  }
  kill(busy, SIGKILL);
  waitpid(busy, nullptr, 0);
  kernels::set_num_threads(threads_before);
  EXPECT_EQ(governed.threads(), 1) << "a process kept one of the two cores busy";
  EXPECT_EQ(governed.steps_by_threads().size(), 2u);
  EXPECT_EQ(fixed.threads(), 2);
  EXPECT_EQ(fixed.steps_by_threads()[0], 0);  // --fixed-threads: every step on 2
}

}  // namespace
}  // namespace cembed
