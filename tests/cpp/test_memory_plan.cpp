#include <gtest/gtest.h>

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
  const MemoryPlan plan = plan_memory("hash", f, 16, Budget::ratio(8));
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

}  // namespace
}  // namespace cembed
