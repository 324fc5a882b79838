#include <gtest/gtest.h>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cembed/factory.h"
#include "cembed/memory_plan.h"
#include "cembed/spec.h"
#include "cembed/sweep.h"
#include "util/check.h"
#include "util/random.h"

namespace cembed {
namespace {

std::vector<FeatureInfo> random_profile(Rng& rng, int features) {
  std::vector<FeatureInfo> out;
  for (int f = 0; f < features; ++f) {
    // Log-uniform cardinalities from 2 to ~10M, like real click logs.
    const auto n = static_cast<int64_t>(std::exp(rng.uniform() * std::log(1e7))) + 1;
    out.push_back({"f" + std::to_string(f), n});
  }
  return out;
}

TEST(Budget, ParsesUnits) {
  EXPECT_EQ(Budget::parse_bytes("64MiB").value, 64.0 * 1048576);
  EXPECT_EQ(Budget::parse_bytes("1.5GB").value, 1.5e9);
  EXPECT_EQ(Budget::parse_bytes("1000").value, 1000);
  EXPECT_THROW(Budget::parse_bytes("64 parsecs"), Error);
  EXPECT_THROW(Budget::parse_bytes("-3MB"), Error);
}

TEST(MemoryPlan, HashMeetsRatioBudgetsWithinHalfPercent) {
  Rng rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    const auto features = random_profile(rng, 1 + static_cast<int>(rng.below(40)));
    const int64_t dim = int64_t{4} << rng.below(5);
    for (double ratio : {1.0, 2.0, 4.0, 16.0, 64.0, 1000.0}) {
      MemoryPlan plan;
      try {
        plan = plan_memory("hash", features, dim, Budget::ratio(ratio));
      } catch (const Error& e) {
        // Only when the small features alone do not fit (or one row per feature).
        EXPECT_NE(std::string(e.what()).find("smallest budget"), std::string::npos) << e.what();
        continue;
      }
      const int64_t total = plan.parameter_bytes();
      ASSERT_LE(total, plan.budget_bytes) << "trial " << trial << " ratio " << ratio;
      // Budget met: within 0.5% (or one row, for budgets of a few rows), unless every
      // table is already at its cap (rows = n).
      bool all_capped = true;
      for (const auto& t : plan.tables) {
        int64_t full = 0;
        for (int f : t.features) full += features[f].cardinality * dim * 4;
        all_capped = all_capped && t.parameter_bytes == full;
      }
      if (!all_capped) {
        const double slack = std::max(0.005 * static_cast<double>(plan.budget_bytes), static_cast<double>(dim * 4));
        EXPECT_GE(static_cast<double>(total), static_cast<double>(plan.budget_bytes) - slack)
            << "trial " << trial << " ratio " << ratio << "\n"
            << plan.describe();
      }
      // Byte accounting is exact: each table's bytes equal the built table's.
      for (const auto& t : plan.tables) {
        TableShape shape{dim, {}};
        for (int f : t.features) shape.cardinalities.push_back(features[f].cardinality);
        EXPECT_EQ(spec_parameter_bytes(Spec::parse(t.spec), shape), t.parameter_bytes);
      }
    }
  }
}

TEST(MemoryPlan, SmallFeaturesStayFull) {
  const std::vector<FeatureInfo> f = {{"a", 10}, {"b", 199}, {"c", 200}, {"d", 100000}};
  const MemoryPlan plan = plan_memory("hash", f, 16, Budget::ratio(8), 200, Allocation::Uniform);
  for (int i = 0; i < 2; ++i) EXPECT_EQ(plan.tables[plan.table_of(i)].spec, "full");
  for (int i = 2; i < 4; ++i) EXPECT_EQ(plan.tables[plan.table_of(i)].spec.rfind("hash:rows=", 0), 0u);
}

TEST(MemoryPlan, ImpossibleBudgetSaysTheSmallest) {
  const std::vector<FeatureInfo> f = {{"a", 100}, {"b", 1000000}};
  try {
    plan_memory("hash", f, 16, Budget::bytes(100 * 64));
    FAIL() << "no error";
  } catch (const Error& e) {
    // 100 rows of the small feature + one row of the hashed one.
    EXPECT_NE(std::string(e.what()).find("smallest budget it can meet is 6464 bytes"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(plan_memory("hash", f, 16, Budget::bytes(6464)));
  EXPECT_THROW(plan_memory("full", f, 16, Budget::ratio(2)), Error);
}

TEST(MemoryPlan, ExplicitSizeWithoutBudget) {
  const std::vector<FeatureInfo> f = {{"a", 100}, {"b", 1000000}};
  const MemoryPlan plan = plan_memory("hash:rows=5000", f, 8, Budget::none());
  EXPECT_EQ(plan.parameter_bytes(), (100 + 5000) * 8 * 4);
  EXPECT_THROW(plan_memory("hash", f, 8, Budget::none()), Error);
}

// The size-plus-budget rule is declared once (spec_takes_budget) and both the planner and
// the sweep refuse a sized spec through it, each in its own words.
TEST(MemoryPlan, SizedSpecTakesNoBudgetInThePlannerOrTheSweep) {
  EXPECT_TRUE(spec_takes_budget(Spec::parse("hash")));
  EXPECT_FALSE(spec_takes_budget(Spec::parse("hash:rows=5000")));
  EXPECT_TRUE(spec_takes_budget(Spec::parse("full")));
  const std::vector<FeatureInfo> f = {{"a", 100}, {"b", 1000000}};
  auto error_of = [](auto run) {
    try {
      run();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string planned = error_of([&] { plan_memory("hash:rows=5000", f, 8, Budget::ratio(4)); });
  EXPECT_NE(planned.find("'hash:rows=5000' gives its size and a memory budget"), std::string::npos) << planned;
  EXPECT_NO_THROW(plan_memory("full", f, 8, Budget::ratio(1)));
  SweepConfig sweep;
  sweep.methods = {"full", "hash:rows=5000"};
  sweep.ratios = {4};
  sweep.out_dir = "/nonexistent/cembed_sweep_never_written";
  const std::string swept = error_of([&] { run_sweep(sweep); });
  EXPECT_NE(swept.find("sweep: 'hash:rows=5000' gives its size"), std::string::npos) << swept;
}

TEST(MemoryPlan, JsonRoundTrip) {
  const std::vector<FeatureInfo> f = {{"a", 100}, {"b", 1000000}, {"c", 5000}};
  const MemoryPlan plan = plan_memory("hash", f, 8, Budget::bytes(1e6));
  const MemoryPlan back = MemoryPlan::from_json(plan.to_json());
  EXPECT_EQ(back.to_json(), plan.to_json());
  EXPECT_EQ(back.parameter_bytes(), plan.parameter_bytes());
}

// ---- the frequency rule (Allocation::Frequency, the default)

bool is_full(const MemoryPlan& p, int f) { return p.tables[p.table_of(f)].spec == "full"; }

// The click log: one feature of 31k values and five of 25 to 162, hashing at 64x,
// no small threshold; the small features tell more about the label (as hour of day and
// device do there) and the large one's values are skewed. Uniform gives every feature the
// same ratio (hour of day: 1 row); the frequency rule keeps the five small ones full and
// gives the large one the rest, to the byte.
TEST(FrequencyRule, SmallFeaturesStayFullWhileTheyFit) {
  const std::vector<FeatureInfo> f = {{"site", 31000, 1000, 0.002}, {"hour", 25, 25, 0.05},   {"banner", 40, 40, 0.05},
                                      {"device", 60, 60, 0.05},     {"conn", 100, 100, 0.05}, {"c1", 162, 162, 0.05}};
  const int64_t dim = 16, fb = dim * 4;
  const MemoryPlan uniform = plan_memory("hash", f, dim, Budget::ratio(64), 0, Allocation::Uniform);
  EXPECT_EQ(uniform.tables[uniform.table_of(1)].spec, "hash:rows=1");  // hour of day: one row
  const MemoryPlan plan = plan_memory("hash", f, dim, Budget::ratio(64), 0);
  const int64_t budget = (31000 + 25 + 40 + 60 + 100 + 162) * fb / 64;
  EXPECT_EQ(plan.budget_bytes, budget);
  for (int i = 1; i < 6; ++i) EXPECT_TRUE(is_full(plan, i)) << plan.describe();
  const int64_t small = (25 + 40 + 60 + 100 + 162) * fb;
  EXPECT_EQ(plan.tables[plan.table_of(0)].spec, fmt::format("hash:rows={}", (budget - small) / fb));
  EXPECT_LE(plan.parameter_bytes(), budget);
  EXPECT_GT(plan.parameter_bytes(), budget - fb);
}

// Invariants over random profiles and methods: within budget to the byte; with unmeasured
// frequencies the full features are exactly the smallest ones (a prefix by size), each no
// larger than the level allows; growing the budget never un-fills a feature nor lowers the
// total.
TEST(FrequencyRule, WithinBudgetSmallestFullFirstMonotoneInBudget) {
  Rng rng(11);
  for (int trial = 0; trial < 60; ++trial) {
    auto features = random_profile(rng, 2 + static_cast<int>(rng.below(20)));
    for (auto& f : features) f.cardinality = std::min<int64_t>(f.cardinality, 2000000);
    for (const char* method : {"hash", "qr", "robe", "lma"}) {
      std::vector<bool> was_full(features.size(), false);
      int64_t last_total = 0;
      for (double ratio : {1000.0, 256.0, 64.0, 16.0, 4.0, 2.0, 1.0}) {
        MemoryPlan plan;
        try {
          plan = plan_memory(method, features, 8, Budget::ratio(ratio), 0);
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("smallest budget"), std::string::npos) << e.what();
          continue;
        }
        ASSERT_LE(plan.parameter_bytes(), plan.budget_bytes) << method << " " << ratio;
        EXPECT_GE(plan.parameter_bytes(), last_total) << method << " " << ratio;
        last_total = plan.parameter_bytes();
        int64_t largest_full = 0, smallest_compressed = INT64_MAX;
        for (size_t f = 0; f < features.size(); ++f) {
          const bool full = is_full(plan, static_cast<int>(f));
          EXPECT_TRUE(full || !was_full[f]) << method << " " << ratio << ": feature " << f << " un-filled";
          was_full[f] = full;
          (full ? largest_full : smallest_compressed) = full ? std::max(largest_full, features[f].cardinality)
                                                             : std::min(smallest_compressed, features[f].cardinality);
          EXPECT_FALSE(plan.reasons[f].empty());
        }
        // Robe and lma may give back full tables to keep their array's minimum: still a prefix.
        EXPECT_LE(largest_full, smallest_compressed) << method << " " << ratio << "\n" << plan.describe();
        for (const auto& t : plan.tables) {
          TableShape shape{8, {}};
          for (int f : t.features) shape.cardinalities.push_back(features[f].cardinality);
          EXPECT_EQ(spec_parameter_bytes(Spec::parse(t.spec), shape), t.parameter_bytes);
        }
      }
      if (std::string(method) == "hash") {
        // At 1x every table fits: all full.
        for (size_t f = 0; f < features.size(); ++f) EXPECT_TRUE(was_full[f]);
      }
    }
  }
}

// Shares follow sqrt(effective values): of two features of equal cardinality, the one
// whose values are skewed (few effective values) gets fewer rows; measured sizes equal to
// the cardinality change nothing against unmeasured ones.
TEST(FrequencyRule, SharesFollowSqrtOfEffectiveValues) {
  const int64_t dim = 8, fb = dim * 4;
  const std::vector<FeatureInfo> f = {{"flat", 100000, 90000}, {"skewed", 100000, 900}};
  const MemoryPlan plan = plan_memory("hash", f, dim, Budget::ratio(32), 0);
  auto rows = [&](int i) { return plan.tables[plan.table_of(i)].parameter_bytes / fb; };
  // Budget 2 * 100000 / 32 = 6250 rows, split 300 : 30 (sqrt 90000 : sqrt 900).
  EXPECT_NEAR(static_cast<double>(rows(0)), 6250.0 * 300 / 330, 2.0) << plan.describe();
  EXPECT_NEAR(static_cast<double>(rows(1)), 6250.0 * 30 / 330, 2.0) << plan.describe();
  // Label information weighs in the same way: 4x the information, 2x the share.
  const std::vector<FeatureInfo> g = {{"dull", 100000, 10000, 0.01}, {"telling", 100000, 10000, 0.04}};
  const MemoryPlan by_info = plan_memory("hash", g, dim, Budget::ratio(32), 0);
  EXPECT_NEAR(static_cast<double>(by_info.tables[by_info.table_of(1)].parameter_bytes / fb),
              2.0 * static_cast<double>(by_info.tables[by_info.table_of(0)].parameter_bytes / fb), 3.0)
      << by_info.describe();
  std::vector<FeatureInfo> unmeasured = {{"a", 5000}, {"b", 70000}};
  std::vector<FeatureInfo> measured = {{"a", 5000, 5000}, {"b", 70000, 70000}};
  EXPECT_EQ(plan_memory("qr", unmeasured, 8, Budget::ratio(16), 0).to_json()["tables"],
            plan_memory("qr", measured, 8, Budget::ratio(16), 0).to_json()["tables"]);
}

// What `cembed plan` prints for each feature: the threshold, the level, the share, the
// shared array, the uniform ratio.
TEST(FrequencyRule, ReasonsSayWhyEachFeatureGotItsTable) {
  const std::vector<FeatureInfo> f = {{"tiny", 10}, {"hour", 24, 20}, {"site", 31000, 4000, 0.02}};
  const MemoryPlan plan = plan_memory("hash", f, 16, Budget::ratio(16), 20);
  EXPECT_EQ(plan.reasons[0], "full: 10 values, below the small threshold 20");
  EXPECT_NE(plan.reasons[1].find("full: its full table (1536 bytes) fits its share sqrt(effective values 20) x level"),
            std::string::npos)
      << plan.reasons[1];
  EXPECT_NE(plan.reasons[2].find("share sqrt(information 0.02 x effective values 4000) x level"), std::string::npos)
      << plan.reasons[2];
  EXPECT_NE(plan.reasons[2].find("hash takes"), std::string::npos) << plan.reasons[2];
  const std::string text = plan.describe();
  EXPECT_NE(text.find("allocation frequency"), std::string::npos) << text;
  EXPECT_NE(text.find("  why:\n  tiny         full: 10 values"), std::string::npos) << text;
  const MemoryPlan shared = plan_memory("lma", f, 16, Budget::ratio(16), 20);
  EXPECT_NE(shared.reasons[2].find("in the one lma array of 1 features"), std::string::npos) << shared.reasons[2];
  const MemoryPlan uniform = plan_memory("hash", f, 16, Budget::ratio(16), 20, Allocation::Uniform);
  EXPECT_NE(uniform.reasons[1].find("uniform: a share in proportion to its full table"), std::string::npos)
      << uniform.reasons[1];
  EXPECT_EQ(parse_allocation("uniform"), Allocation::Uniform);
  EXPECT_THROW(parse_allocation("greedy"), Error);
}

TEST(FrequencyRule, JsonKeepsRuleMeasuresAndReasonsAndOldPlansReadAsUniform) {
  const std::vector<FeatureInfo> f = {{"a", 100, 50.5}, {"b", 1000000, 1234.5, 0.125}, {"c", 5000}};
  const MemoryPlan plan = plan_memory("qr", f, 8, Budget::ratio(16), 0);
  const MemoryPlan back = MemoryPlan::from_json(plan.to_json());
  EXPECT_EQ(back.to_json(), plan.to_json());
  EXPECT_EQ(back.allocation, Allocation::Frequency);
  EXPECT_EQ(back.features[1].effective_values, 1234.5);
  EXPECT_EQ(back.features[1].label_information, 0.125);
  EXPECT_EQ(back.reasons, plan.reasons);
  nlohmann::json old = plan.to_json();
  old.erase("allocation");
  for (auto& fj : old["features"]) {
    fj.erase("effective_values");
    fj.erase("label_information");
    fj.erase("reason");
  }
  const MemoryPlan older = MemoryPlan::from_json(old);
  EXPECT_EQ(older.allocation, Allocation::Uniform);
  EXPECT_EQ(older.features[1].effective_values, 0.0);
  EXPECT_EQ(older.describe().find("why:"), std::string::npos);
}

}  // namespace
}  // namespace cembed
