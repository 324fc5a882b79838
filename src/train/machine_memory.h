// The memory a training run needs against the machine's, and this process's memory
// (internal to training: train_checks.cpp, process_memory.cpp).
#pragma once

#include <cstdint>

#include "cembed/memory_plan.h"
#include "cembed/train_config.h"

namespace cembed {

// Memory a training run needs, roughly: embedding parameters and their optimizer state,
// dense layers (parameters, gradients, optimizer state) and the batch buffers of training and
// evaluation. The datasets are mapped from their files and not counted.
struct MemoryNeed {
  int64_t embedding_parameters = 0, embedding_optimizer = 0, dense = 0, buffers = 0;
  int64_t total() const { return embedding_parameters + embedding_optimizer + dense + buffers; }
};
MemoryNeed estimate_training_memory(const TrainConfig& config, const MemoryPlan& plan, int64_t num_dense,
                                    int64_t train_rows, int64_t eval_rows);
// Memory this process can still take: /proc/meminfo's MemAvailable, lowered to what a cgroup
// (v2 memory.max) leaves; sysconf's available pages where /proc is missing.
int64_t available_memory_bytes();
// Throws cembed::Error saying how much is needed (by part) and how much is available.
void check_memory_fits(const MemoryNeed& need, int64_t available);

// Peak resident memory of this process so far (VmHWM), in bytes.
int64_t peak_rss_bytes();

}  // namespace cembed
