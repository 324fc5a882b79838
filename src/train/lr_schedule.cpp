#include "cembed/lr_schedule.h"

#include <algorithm>

namespace cembed {

float LrSchedule::at(int64_t step) const {
  if (warmup_steps > 0 && step < warmup_steps) {
    return base * static_cast<float>(step + 1) / static_cast<float>(warmup_steps);
  }
  if (decay_start >= 0 && step >= decay_start && decay_steps > 0) {
    const int64_t done = std::min(step - decay_start, decay_steps);
    const float frac = static_cast<float>(decay_steps - done) / static_cast<float>(decay_steps);
    return std::max(min_lr, base * frac * frac);
  }
  return base;
}

}  // namespace cembed
