// Checks of a training run before it starts: settings in range, memory to hold the model.
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <type_traits>

#include "cembed/optimizer.h"
#include "cembed/trainer.h"
#include "train/machine_memory.h"
#include "train/proc_files.h"
#include "util/check.h"

namespace cembed {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

// A cgroup v2 file holding one number ("max": no limit); -1 when absent or unlimited.
int64_t cgroup_value(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text) || text == "max") return -1;
  try {
    return std::stoll(text);
  } catch (const std::exception&) {
    return -1;
  }
}

}  // namespace

void TrainConfig::validate() const {
  visit_train_settings(*this, [](const Setting& s, const auto& value) {
    using T = std::decay_t<decltype(value)>;
    if (!s.range) return;
    const std::string name = s.option.empty() ? std::string(s.key) : std::string(s.option);
    if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
      for (int64_t v : value) check_range(name + " (each layer)", static_cast<double>(v), *s.range);
    } else if constexpr (std::is_arithmetic_v<T>) {
      check_range(name, static_cast<double>(value), *s.range);
    }
  });
  CEMBED_CHECK(!train_path.empty(), "train: no training data given");
  CEMBED_CHECK(epochs > 0 || max_steps > 0, "epochs is 0: give max-steps (the steps to run) or epochs > 0");
  CEMBED_CHECK(budget.kind == Budget::Kind::None || (budget.value > 0 && budget.value < Range::kNoLimit),
               "the embedding budget must be positive, got {}", budget.value);
  parse_allocation(allocation);
  parse_optimizer_kind(optimizer);
  if (!table_optimizer.empty()) parse_optimizer_kind(table_optimizer);
  parse_dense_precision(dense_precision, "--dense-precision");
}

MemoryNeed estimate_training_memory(const TrainConfig& c, const MemoryPlan& plan, int64_t num_dense, int64_t train_rows,
                                    int64_t eval_rows) {
  constexpr int64_t kFloat = sizeof(float);
  MemoryNeed need;
  need.embedding_parameters = plan.parameter_bytes();
  const OptimizerKind table_kind = parse_optimizer_kind(c.table_optimizer.empty() ? c.optimizer : c.table_optimizer);
  if (table_kind == OptimizerKind::Adagrad) need.embedding_optimizer = need.embedding_parameters;
  if (table_kind == OptimizerKind::RowwiseAdagrad) need.embedding_optimizer = need.embedding_parameters / plan.dim;

  // Dense layers: bottom num_dense -> hidden... -> dim; top (dim + pairs) -> hidden... -> 1.
  const int64_t features = static_cast<int64_t>(plan.features.size()) + 1;
  const int64_t interaction = plan.dim + features * (features - 1) / 2;
  // Per layer (in -> out): its parameters and output width; and, for bf16 GEMMs, the largest
  // left and right operands and product of its three GEMMs (forward B x in by in x out,
  // weight gradient out x B by B x in, input gradient B x out by out x in).
  const int64_t b = c.batch_size;
  int64_t params = 0, widths = 0, lhs = 0, rhs = 0, product = 0;
  auto layers = [&](int64_t in, const std::vector<int64_t>& hidden, int64_t last) {
    std::vector<int64_t> outs = hidden;
    outs.push_back(last);
    for (int64_t out : outs) {
      params += in * out + out;
      widths += out;
      lhs = std::max({lhs, b * in, out * b});
      rhs = std::max({rhs, in * out, b * in});
      product = std::max({product, b * out, out * in, b * in});
      in = out;
    }
  };
  layers(num_dense, c.model.bottom_hidden, plan.dim);
  layers(interaction, c.model.top_hidden, 1);
  const bool dense_adagrad = parse_optimizer_kind(c.optimizer) != OptimizerKind::Sgd;
  need.dense = params * kFloat * (dense_adagrad ? 3 : 2);

  // Per row of a batch: every layer's output, the pooled embeddings and the interaction;
  // training keeps them and their gradients (x2), evaluation only the forward pass.
  const int64_t per_row = (widths + features * plan.dim + interaction + num_dense) * kFloat;
  need.buffers = 2 * c.batch_size * per_row + std::min(c.eval_batch_size, std::max<int64_t>(eval_rows, 1)) * per_row +
                 train_rows * static_cast<int64_t>(sizeof(int64_t)) + eval_rows * kFloat;
  // bf16 GEMMs keep their rounded inputs and the product (kernels/gemm_bf16.cpp), each as
  // large as its largest over the layers (4 bytes an element: the rounded path's).
  if (parse_dense_precision(c.dense_precision) == DensePrecision::Bf16) need.buffers += (lhs + rhs + product) * kFloat;
  return need;
}

int64_t available_memory_bytes() {
  // MemAvailable counts reclaimable page cache as available; so does the cgroup figure
  // below (its usage less the inactive file pages). Unknown (-1) when neither can be read,
  // and then nothing is refused.
  int64_t avail = proc_kb_field("/proc/meminfo", "MemAvailable:");
  if (avail < 0) {
    const long pages = ::sysconf(_SC_AVPHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    avail = pages > 0 && page > 0 ? static_cast<int64_t>(pages) * page : -1;
  }
  const int64_t limit = cgroup_value("/sys/fs/cgroup/memory.max");
  if (limit > 0) {
    int64_t used = std::max<int64_t>(0, cgroup_value("/sys/fs/cgroup/memory.current"));
    std::ifstream stat("/sys/fs/cgroup/memory.stat");
    std::string key;
    int64_t value = 0;
    while (stat >> key >> value) {
      if (key == "inactive_file") used = std::max<int64_t>(0, used - value);
    }
    const int64_t room = std::max<int64_t>(0, limit - used);
    avail = avail < 0 ? room : std::min(avail, room);
  }
  return avail;
}

void check_memory_fits(const MemoryNeed& need, int64_t available) {
  if (available < 0 || need.total() <= available) return;  // unknown: not refused
  auto gib = [](int64_t b) { return static_cast<double>(b) / kGiB; };
  fail(
      "train: this run needs about {:.2f} GiB of memory (embedding parameters {:.2f}, their optimizer state {:.2f}, "
      "dense layers {:.2f}, batch buffers {:.2f} GiB), the machine has {:.2f} GiB available; lower --dim, the "
      "embedding size (--compression, --embedding-budget) or the batch sizes",
      gib(need.total()), gib(need.embedding_parameters), gib(need.embedding_optimizer), gib(need.dense),
      gib(need.buffers), gib(available));
}

}  // namespace cembed
