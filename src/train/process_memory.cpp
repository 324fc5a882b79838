// Memory of this process as the kernel reports it (/proc/self/status).
#include <algorithm>

#include "cembed/trainer.h"
#include "train/machine_memory.h"
#include "train/proc_files.h"
#include "train/train_run.h"

namespace cembed {
namespace {

// A "Key: N kB" line of /proc/self/status, in bytes (0 when absent).
int64_t proc_status_bytes(const std::string& wanted) {
  return std::max<int64_t>(0, proc_kb_field("/proc/self/status", wanted));
}

}  // namespace

int64_t train_run::rss_anon_bytes() { return proc_status_bytes("RssAnon:"); }

int64_t peak_rss_bytes() { return proc_status_bytes("VmHWM:"); }

}  // namespace cembed
