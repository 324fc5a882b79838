#include "cembed/memory_plan.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>

#include "cembed/factory.h"
#include "cembed/spec.h"
#include "train/water_fill.h"
#include "util/check.h"

namespace cembed {
namespace {

// `spec` sized to `budget` bytes for `shape`: the sized spec and its bytes, which fit when
// they do not exceed the budget.
struct FittedTable {
  Spec spec;
  int64_t bytes = 0;
  bool fits = false;
};

FittedTable fit_table(const Spec& spec, const TableShape& shape, int64_t budget) {
  FittedTable t;
  t.spec = fit_spec_to_budget(spec, shape, budget);
  t.bytes = spec_parameter_bytes(t.spec, shape);
  t.fits = t.bytes <= budget;
  return t;
}

// The frequency rule's weight of a feature: sqrt(label information x effective values),
// effective values within [1, cardinality] (the cardinality when unmeasured), label
// information 1 when unmeasured (every feature alike).
double effective_values(const FeatureInfo& f) {
  const auto n = static_cast<double>(f.cardinality);
  return f.effective_values > 0 ? std::clamp(f.effective_values, 1.0, std::max(n, 1.0)) : std::max(n, 1.0);
}
double label_information(const FeatureInfo& f) { return f.label_information > 0 ? f.label_information : 1.0; }
double demand_weight(const FeatureInfo& f) { return std::sqrt(label_information(f) * effective_values(f)); }
// "sqrt(information 0.0123 x effective values 812)", as the reasons print the weight.
std::string weight_text(const FeatureInfo& f) {
  if (f.label_information <= 0) return fmt::format("sqrt(effective values {:.0f})", effective_values(f));
  return fmt::format("sqrt(information {:.3g} x effective values {:.0f})", f.label_information, effective_values(f));
}

}  // namespace

std::string allocation_name(Allocation a) { return a == Allocation::Frequency ? "frequency" : "uniform"; }

Allocation parse_allocation(const std::string& name) {
  if (name == "frequency") return Allocation::Frequency;
  if (name == "uniform") return Allocation::Uniform;
  fail("unknown allocation '{}' (frequency, uniform)", name);
}

bool spec_takes_budget(const Spec& spec) { return spec.name == "full" || !spec_is_sized(spec); }

Budget Budget::parse_bytes(const std::string& text) {
  double value = 0;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(begin, end, value);
  CEMBED_CHECK(ec == std::errc() && value > 0, "bad memory budget '{}': expected a positive size like 64MiB", text);
  const std::string unit(ptr, end);
  static const std::pair<const char*, double> units[] = {
      {"", 1},     {"B", 1},        {"KB", 1e3},        {"MB", 1e6},
      {"GB", 1e9}, {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0},
      {"k", 1e3},  {"M", 1e6},      {"G", 1e9}};
  for (const auto& [name, factor] : units) {
    if (unit == name) return Budget::bytes(std::floor(value * factor));
  }
  fail("bad memory budget '{}': unknown unit '{}' (B, KB, MB, GB, KiB, MiB, GiB)", text, unit);
}

std::string Budget::str() const {
  switch (kind) {
    case Kind::None:
      return "none";
    case Kind::Bytes:
      return fmt::format("{:.0f} bytes", value);
    case Kind::Ratio:
      return fmt::format("{:g}x less than full", value);
  }
  return "?";
}

std::string Budget::kind_name() const { return kind == Kind::None ? "none" : kind == Kind::Bytes ? "bytes" : "ratio"; }

Budget::Kind Budget::parse_kind(const std::string& name) {
  if (name == "none") return Kind::None;
  if (name == "bytes") return Kind::Bytes;
  if (name == "ratio") return Kind::Ratio;
  fail("unknown budget kind '{}' (none, bytes, ratio)", name);
}

int64_t MemoryPlan::full_bytes() const {
  int64_t total = 0;
  for (const auto& f : features) total += f.cardinality * dim * static_cast<int64_t>(sizeof(float));
  return total;
}

int64_t MemoryPlan::parameter_bytes() const {
  int64_t total = 0;
  for (const auto& t : tables) total += t.parameter_bytes;
  return total;
}

int MemoryPlan::table_of(int feature) const {
  for (size_t t = 0; t < tables.size(); ++t) {
    for (int f : tables[t].features) {
      if (f == feature) return static_cast<int>(t);
    }
  }
  fail("memory plan: feature {} has no table", feature);
}

std::string MemoryPlan::describe() const {
  std::string out = fmt::format("memory plan: method {}, dim {}, budget {}, allocation {}\n", method, dim, budget.str(),
                                allocation_name(allocation));
  out += fmt::format("  {:<12} {:>12} {:<28} {:>14}\n", "feature", "values", "table", "param bytes");
  for (const auto& t : tables) {
    for (size_t i = 0; i < t.features.size(); ++i) {
      const auto& f = features[t.features[i]];
      out += fmt::format("  {:<12} {:>12} {:<28} {:>14}\n", f.name, f.cardinality, i == 0 ? t.spec : "  (shared)",
                         i == 0 ? std::to_string(t.parameter_bytes) : "");
    }
  }
  const int64_t total = parameter_bytes();
  out += fmt::format(
      "  total {} bytes = {:.2f} MiB, {:.2f}x less than full ({} bytes)", total, static_cast<double>(total) / 1048576.0,
      static_cast<double>(full_bytes()) / static_cast<double>(std::max<int64_t>(total, 1)), full_bytes());
  if (budget_bytes >= 0) out += fmt::format(", budget {} bytes", budget_bytes);
  out += "\n";
  if (std::any_of(reasons.begin(), reasons.end(), [](const std::string& r) { return !r.empty(); })) {
    out += "  why:\n";
    for (size_t f = 0; f < features.size() && f < reasons.size(); ++f) {
      out += fmt::format("  {:<12} {}\n", features[f].name, reasons[f]);
    }
  }
  return out;
}

nlohmann::json MemoryPlan::to_json() const {
  nlohmann::json j;
  j["method"] = method;
  j["dim"] = dim;
  j["budget_kind"] = budget.kind_name();
  j["budget_value"] = budget.value;
  j["budget_bytes"] = budget_bytes;
  j["small_threshold"] = small_threshold;
  j["allocation"] = allocation_name(allocation);
  j["full_bytes"] = full_bytes();
  j["parameter_bytes"] = parameter_bytes();
  for (size_t f = 0; f < features.size(); ++f) {
    nlohmann::json fj = {{"name", features[f].name}, {"cardinality", features[f].cardinality}};
    if (features[f].effective_values > 0) fj["effective_values"] = features[f].effective_values;
    if (features[f].label_information > 0) fj["label_information"] = features[f].label_information;
    if (f < reasons.size() && !reasons[f].empty()) fj["reason"] = reasons[f];
    j["features"].push_back(fj);
  }
  for (const auto& t : tables) {
    j["tables"].push_back({{"spec", t.spec}, {"features", t.features}, {"parameter_bytes", t.parameter_bytes}});
  }
  return j;
}

MemoryPlan MemoryPlan::from_json(const nlohmann::json& j) {
  MemoryPlan p;
  p.method = j.at("method");
  p.dim = j.at("dim");
  p.budget.kind = Budget::parse_kind(j.at("budget_kind"));
  p.budget.value = j.at("budget_value");
  p.budget_bytes = j.at("budget_bytes");
  p.small_threshold = j.at("small_threshold");
  // Plans saved before these keys existed: uniform, unmeasured, no reasons.
  p.allocation = parse_allocation(j.value("allocation", std::string("uniform")));
  for (const auto& f : j.at("features")) {
    p.features.push_back(
        {f.at("name"), f.at("cardinality"), f.value("effective_values", 0.0), f.value("label_information", 0.0)});
    p.reasons.push_back(f.value("reason", std::string()));
  }
  for (const auto& t : j.at("tables")) {
    p.tables.push_back({t.at("spec"), t.at("features").get<std::vector<int>>(), t.at("parameter_bytes")});
  }
  return p;
}

MemoryPlan plan_memory(const std::string& method_spec, const std::vector<FeatureInfo>& features, int64_t dim,
                       Budget budget, int64_t small_threshold, Allocation allocation) {
  CEMBED_CHECK(!features.empty(), "memory plan: no categorical features");
  CEMBED_CHECK(dim > 0, "memory plan: embedding dimension must be positive, got {}", dim);
  MemoryPlan plan;
  plan.method = method_spec;
  plan.dim = dim;
  plan.budget = budget;
  plan.small_threshold = small_threshold;
  plan.allocation = allocation;
  plan.features = features;
  plan.reasons.assign(features.size(), "");

  const Spec spec = Spec::parse(method_spec);
  const MethodInfo& info = method_info(spec.name);
  // A size given in the spec and a budget would each size the tables: refuse rather than
  // let one silently replace the other ("full" has no size keys; a budget only checks it).
  CEMBED_CHECK(budget.kind == Budget::Kind::None || spec_takes_budget(spec),
               "memory plan: '{}' gives its size and a memory budget ({}) is given too: give one or the other "
               "(drop the size keys to size it from the budget)",
               method_spec, budget.str());
  const int64_t fb = static_cast<int64_t>(sizeof(float)) * dim;
  auto shape_of = [&](const std::vector<int>& fs) {
    TableShape s{dim, {}};
    for (int f : fs) s.cardinalities.push_back(features[f].cardinality);
    return s;
  };
  auto add_full = [&](int f, std::string reason) {
    plan.tables.push_back({"full", {f}, features[f].cardinality * fb});
    plan.reasons[f] = std::move(reason);
  };

  // Small features keep full tables; a "full" method makes every feature small.
  std::vector<int> small, large;
  for (int f = 0; f < static_cast<int>(features.size()); ++f) {
    const bool is_small = spec.name == "full" || features[f].cardinality < small_threshold;
    (is_small ? small : large).push_back(f);
  }
  int64_t small_bytes = 0;
  for (int f : small) small_bytes += features[f].cardinality * fb;

  if (budget.kind == Budget::Kind::Bytes) plan.budget_bytes = static_cast<int64_t>(budget.value);
  if (budget.kind == Budget::Kind::Ratio) {
    CEMBED_CHECK(budget.value > 0, "memory plan: compression ratio must be positive, got {}", budget.value);
    plan.budget_bytes = static_cast<int64_t>(std::floor(static_cast<double>(plan.full_bytes()) / budget.value));
  }

  for (int f : small) {
    add_full(f, spec.name == "full" ? "full: the method is full tables"
                                    : fmt::format("full: {} values, below the small threshold {}",
                                                  features[f].cardinality, small_threshold));
  }
  if (large.empty()) {
    CEMBED_CHECK(plan.budget_bytes < 0 || small_bytes <= plan.budget_bytes,
                 "memory plan: budget {} bytes is below the {} bytes of full tables; the smallest budget {} can meet "
                 "is {} bytes",
                 plan.budget_bytes, small_bytes, method_spec, small_bytes);
    return plan;
  }

  if (plan.budget_bytes < 0) {
    CEMBED_CHECK(spec_is_sized(spec), "memory plan: '{}' has no size; give its size keys or a memory budget",
                 method_spec);
    std::vector<std::vector<int>> groups;
    if (info.shared_across_features) {
      groups.push_back(large);
    } else {
      for (int f : large) groups.push_back({f});
    }
    for (auto& g : groups) {
      plan.tables.push_back({spec.str(), g, spec_parameter_bytes(spec, shape_of(g))});
      for (int f : g) plan.reasons[f] = "sized by the spec (no budget)";
    }
    return plan;
  }

  int64_t min_total = small_bytes;
  if (info.shared_across_features) {
    min_total += spec_min_bytes(spec, shape_of(large));
  } else {
    for (int f : large) min_total += spec_min_bytes(spec, shape_of({f}));
  }
  CEMBED_CHECK(min_total <= plan.budget_bytes,
               "memory plan: budget {} bytes is too small for '{}' on these features; the smallest budget it can meet "
               "is {} bytes",
               plan.budget_bytes, method_spec, min_total);

  // The frequency rule first decides which large features keep full tables (water-filling);
  // the uniform rule keeps none.
  std::vector<int> compressed = large;
  double level = 0;
  int64_t for_compressed = plan.budget_bytes - small_bytes;
  if (allocation == Allocation::Frequency) {
    std::vector<FeatureDemand> demand;
    for (int f : large) {
      const int64_t full = features[f].cardinality * fb;
      // One array for all: a feature alone has no minimum (the array's is checked below).
      const int64_t least = info.shared_across_features ? 0 : spec_min_bytes(spec, shape_of({f}));
      demand.push_back({full, std::min(least, full), demand_weight(features[f])});
    }
    const WaterFill fill = water_fill(demand, for_compressed);
    level = fill.level;
    std::vector<size_t> full_ones;
    for (size_t i = 0; i < large.size(); ++i) {
      if (fill.full[i]) full_ones.push_back(i);
    }
    // A shared array must keep its minimum: give back the largest full tables until it does.
    auto rest_of = [&](const std::vector<size_t>& fulls) {
      std::vector<int> rest;
      for (size_t i = 0; i < large.size(); ++i) {
        if (std::find(fulls.begin(), fulls.end(), i) == fulls.end()) rest.push_back(large[i]);
      }
      return rest;
    };
    auto bytes_of = [&](const std::vector<size_t>& fulls) {
      int64_t b = 0;
      for (size_t i : fulls) b += demand[i].full_bytes;
      return b;
    };
    while (info.shared_across_features && !full_ones.empty()) {
      const std::vector<int> rest = rest_of(full_ones);
      if (rest.empty() || spec_min_bytes(spec, shape_of(rest)) <= for_compressed - bytes_of(full_ones)) break;
      full_ones.erase(std::max_element(full_ones.begin(), full_ones.end(), [&](size_t a, size_t b) {
        return demand[a].full_bytes < demand[b].full_bytes;
      }));
    }
    for (size_t i : full_ones) {
      const int f = large[i];
      add_full(f, fmt::format("full: its full table ({} bytes) fits its share {} x level {:.4g} = {:.0f} bytes",
                              demand[i].full_bytes, weight_text(features[f]), level, demand[i].weight * level));
    }
    for_compressed -= bytes_of(full_ones);
    compressed = rest_of(full_ones);
    if (compressed.empty()) {
      std::stable_sort(plan.tables.begin(), plan.tables.end(),
                       [](const PlannedTable& a, const PlannedTable& b) { return a.features[0] < b.features[0]; });
      return plan;
    }
  }

  // Groups of compressed features that get one table each.
  std::vector<std::vector<int>> groups;
  if (info.shared_across_features) {
    groups.push_back(compressed);
  } else {
    for (int f : compressed) groups.push_back({f});
  }

  // Shares in proportion to each group's weight (uniform: its full-table bytes, or the
  // method's own rule; frequency: sqrt of its effective values, unless the method has its
  // own rule); smallest weights first, so what a group cannot use (rounding, caps) passes on.
  const bool own_rule = spec_has_share_rule(spec);
  const bool by_frequency = allocation == Allocation::Frequency && !own_rule && !info.shared_across_features;
  std::vector<double> weight(groups.size());
  for (size_t g = 0; g < groups.size(); ++g) {
    weight[g] = by_frequency ? demand_weight(features[groups[g][0]]) : spec_share_weight(spec, shape_of(groups[g]));
  }
  std::vector<size_t> order(groups.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return weight[a] < weight[b]; });
  int64_t remaining = for_compressed;
  double remaining_weight = 0;
  for (double w : weight) remaining_weight += w;
  int64_t remaining_min = 0;
  for (auto& g : groups) remaining_min += spec_min_bytes(spec, shape_of(g));
  std::vector<int64_t> share_of(groups.size());
  for (size_t g : order) {
    const TableShape shape = shape_of(groups[g]);
    const int64_t own_min = spec_min_bytes(spec, shape);
    remaining_min -= own_min;
    // Proportional share, kept large enough for this group's minimum and small enough
    // to leave every later group its minimum.
    auto share = static_cast<int64_t>(static_cast<double>(remaining) * weight[g] / remaining_weight);
    share = std::clamp(share, own_min, remaining - remaining_min);
    share_of[g] = share;
    const FittedTable sized = fit_table(spec, shape, share);
    CEMBED_CHECK(sized.fits, "memory plan: '{}' took {} bytes for a share of {}", sized.spec.str(), sized.bytes, share);
    plan.tables.push_back({sized.spec.str(), groups[g], sized.bytes});
    remaining -= sized.bytes;
    remaining_weight -= weight[g];
  }
  // Top-up: methods that size in coarse steps (a collision count, a map count) leave part
  // of their share unused; offer what is left to each table again, largest weight first
  // (not for methods with their own sharing rule: md keeps d_i ~ n_i^-alpha).
  // (Tables were added in `order`, after the full tables.)
  const size_t first_planned = plan.tables.size() - groups.size();
  for (size_t i = groups.size(); i-- > 0 && remaining > 0 && !own_rule;) {
    PlannedTable& t = plan.tables[first_planned + i];
    const TableShape shape = shape_of(groups[order[i]]);
    const FittedTable grown = fit_table(spec, shape, t.parameter_bytes + remaining);
    if (grown.fits && grown.bytes > t.parameter_bytes) {
      remaining -= grown.bytes - t.parameter_bytes;
      t = {grown.spec.str(), t.features, grown.bytes};
    }
  }
  for (size_t i = 0; i < groups.size(); ++i) {
    const PlannedTable& t = plan.tables[first_planned + i];
    const size_t g = order[i];
    for (int f : groups[g]) {
      const int64_t full = features[f].cardinality * fb;
      std::string why;
      if (info.shared_across_features) {
        why = fmt::format("in the one {} array of {} features ({} bytes: the budget less the full tables)", spec.name,
                          groups[g].size(), t.parameter_bytes);
        if (allocation == Allocation::Frequency) {
          why += fmt::format("; its full table ({} bytes) exceeds its share {} x level {:.4g}", full,
                             weight_text(features[f]), level);
        }
      } else if (own_rule) {
        why = fmt::format("{} bytes by {}'s own rule among the compressed features ({:.1f}x less than its full table)",
                          t.parameter_bytes, spec.name,
                          static_cast<double>(full) / static_cast<double>(t.parameter_bytes));
      } else if (by_frequency) {
        why = fmt::format(
            "share {} x level {:.4g} = {} bytes (its full table: {} bytes); {} takes {} bytes, {:.1f}x less than full",
            weight_text(features[f]), level, share_of[g], full, spec.name, t.parameter_bytes,
            static_cast<double>(full) / static_cast<double>(t.parameter_bytes));
      } else {
        why = fmt::format(
            "uniform: a share in proportion to its full table ({} of {} bytes); {} takes {} bytes, "
            "{:.1f}x less than full",
            share_of[g], full, spec.name, t.parameter_bytes,
            static_cast<double>(full) / static_cast<double>(t.parameter_bytes));
      }
      if (share_of[g] == spec_min_bytes(spec, shape_of(groups[g]))) why += " (the method's minimum)";
      plan.reasons[f] = why;
    }
  }
  // Keep the table order by first feature so the plan reads in feature order.
  std::stable_sort(plan.tables.begin(), plan.tables.end(),
                   [](const PlannedTable& a, const PlannedTable& b) { return a.features[0] < b.features[0]; });
  return plan;
}

}  // namespace cembed
