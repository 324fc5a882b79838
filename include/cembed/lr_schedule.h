// Learning-rate schedule (DLRM's LRPolicyScheduler): linear warm-up from 0 over
// warmup_steps, constant, then polynomial decay (power 2) to min_lr over decay_steps
// starting at decay_start.
#pragma once

#include <cstdint>

namespace cembed {

struct LrSchedule {
  float base = 0.1f;
  int64_t warmup_steps = 0;
  int64_t decay_start = -1;  // -1: no decay
  int64_t decay_steps = 0;
  float min_lr = 0.0f;

  float at(int64_t step) const;  // step counts from 0
};

}  // namespace cembed
