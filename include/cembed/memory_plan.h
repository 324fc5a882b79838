// MemoryPlan: turns one method spec and a budget into the tables of every feature.
//
// The budget counts trainable embedding parameters (bytes), given directly or as a ratio
// of the full tables' bytes (sum of n_f * dim * 4). Optimizer state is reported apart.
// Rules: features with fewer values than `small_threshold` keep full tables; the rest of
// the budget is shared among the other features in proportion to their full size, each
// sized by its method; the total never exceeds the budget. A method that serves every
// feature with one array (shared_across_features) gets one table for all large features.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace cembed {

struct Spec;  // spec.h

struct Budget {
  enum class Kind { None, Bytes, Ratio };
  Kind kind = Kind::None;
  double value = 0;  // bytes, or the compression ratio (full bytes / budget)

  static Budget none() { return {}; }
  static Budget bytes(double b) { return {Kind::Bytes, b}; }
  static Budget ratio(double r) { return {Kind::Ratio, r}; }
  // "64MiB", "1.5GB", "1000000" (bytes); throws on anything else.
  static Budget parse_bytes(const std::string& text);
  std::string str() const;
  // "none", "bytes" or "ratio" (as saved in plans, reports and checkpoints), and back.
  std::string kind_name() const;
  static Kind parse_kind(const std::string& name);
};

struct FeatureInfo {
  std::string name;
  int64_t cardinality = 0;
};

struct PlannedTable {
  std::string spec;           // sized spec, e.g. "hash:rows=1234"
  std::vector<int> features;  // indices into MemoryPlan::features
  int64_t parameter_bytes = 0;
};

struct MemoryPlan {
  std::string method;  // the spec asked for
  int64_t dim = 0;
  Budget budget;
  int64_t budget_bytes = -1;  // resolved budget, -1 when none
  int64_t small_threshold = 200;
  std::vector<FeatureInfo> features;
  std::vector<PlannedTable> tables;

  int64_t full_bytes() const;
  int64_t parameter_bytes() const;
  // Table index serving feature f.
  int table_of(int feature) const;
  // A text table: feature, values, spec, bytes; then totals.
  std::string describe() const;
  nlohmann::json to_json() const;
  static MemoryPlan from_json(const nlohmann::json& j);
};

// The size-plus-budget rule, one declaration for every caller that sizes methods from a
// budget (plan_memory, run_sweep): a budget sizes a method's tables by setting its size
// keys (fit_spec_to_budget; the sized tables fit when their bytes do not exceed it), so a
// spec that gives its own size keys cannot also take a budget: each would size the tables.
// "full" has no size keys: a budget only checks that its tables fit.
bool spec_takes_budget(const Spec& spec);

MemoryPlan plan_memory(const std::string& method_spec, const std::vector<FeatureInfo>& features, int64_t dim,
                       Budget budget, int64_t small_threshold = 200);

}  // namespace cembed
