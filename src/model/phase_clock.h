// PhaseClock: the seconds since its last lap (or its construction), added to a phase's total
// (Dlrm::StepPhases). steady_clock: two reads per phase, nothing next to a step.
#pragma once

#include <chrono>

namespace cembed {

class PhaseClock {
 public:
  void lap(double& total) {
    const auto now = std::chrono::steady_clock::now();
    total += std::chrono::duration<double>(now - last_).count();
    last_ = now;
  }

 private:
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

}  // namespace cembed
