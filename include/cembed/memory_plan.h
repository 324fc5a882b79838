// MemoryPlan: turns one method spec and a budget into the tables of every feature.
//
// The budget counts trainable embedding parameters (bytes), given directly or as a ratio
// of the full tables' bytes (sum of n_f * dim * 4). Optimizer state is reported apart.
// Rules: features with fewer values than `small_threshold` keep full tables; the rest of
// the budget is split among the other features by the allocation rule (Allocation), each
// sized by its method; the total never exceeds the budget. A method that serves every
// feature with one array (shared_across_features) gets one table for all its features.
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
  // How many equally frequent values would collide as often as the training data's values
  // do: 1 / sum_v p_v^2 of the values' frequencies p_v (measure_value_frequencies in
  // dataset.h). 0: not measured; the planner then takes the cardinality. Not part of the
  // dataset's schema; plans save it.
  double effective_values = 0;
  // Mutual information (nats) between the feature's value and the label in the training
  // data, each value's click rate shrunk toward the mean by 20 pseudo-lookups (so rare
  // values add little). 0: not measured (the planner then weighs features alike).
  double label_information = 0;
};

// How a whole-model budget is split among the features that do not keep full tables for
// being below the small threshold.
//   Frequency (the default): water-filling. Feature f may spend up to w_f * L bytes, with
//     w_f = sqrt(label information x effective values) (FeatureInfo; unmeasured: 1 and the
//     cardinality) and the level L the largest the budget allows; a feature whose full
//     table fits within w_f * L keeps it (so, all else equal, small features stay full while
//     they fit), the others get w_f * L bytes sized by the method (at least its minimum).
//     Why: with r_f rows for e_f equally frequent values about e_f / r_f values share a row;
//     if a collision costs in proportion to what the feature tells about the label (I_f),
//     minimising sum_f I_f e_f / r_f under sum_f r_f = R gives r_f ~ sqrt(I_f e_f).
//     A method with one array for all features gets one array for the features that are not
//     full; md keeps its own rule among them.
//   Uniform: every compressed feature by the same ratio (shares in proportion to full size).
enum class Allocation { Frequency, Uniform };
std::string allocation_name(Allocation a);             // "frequency" or "uniform"
Allocation parse_allocation(const std::string& name);  // throws cembed::Error naming the valid ones

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
  Allocation allocation = Allocation::Uniform;  // plans saved before the setting existed were uniform
  std::vector<FeatureInfo> features;
  std::vector<PlannedTable> tables;
  std::vector<std::string> reasons;  // per feature: why it got its table (empty in older plans)

  int64_t full_bytes() const;
  int64_t parameter_bytes() const;
  // Table index serving feature f.
  int table_of(int feature) const;
  // A text table: feature, values, spec, bytes; then totals; then why each feature got
  // what it got.
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
                       Budget budget, int64_t small_threshold = 200, Allocation allocation = Allocation::Frequency);

}  // namespace cembed
