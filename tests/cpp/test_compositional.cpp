// Compositional embeddings (qr, cp, path) and MEmCom: complementarity of the partitions,
// unique vectors, exact bytes, budget fitting and the initial scale.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <numeric>
#include <set>

#include "cembed/factory.h"
#include "cembed/memory_plan.h"
#include "embedding/partitions.h"
#include "embedding/parts_table.h"
#include "method_cases.h"
#include "test_helpers.h"
#include "util/check.h"

namespace cembed {
namespace {

using testing::vectors_of;

TEST(Partitions, EveryValueGetsADistinctIndexTupleExhaustively) {
  for (PartitionKind kind : {PartitionKind::Qr, PartitionKind::Crt}) {
    for (int64_t n : {1, 2, 7, 100, 1000, 4099}) {
      for (int parts : {2, 3, 4}) {
        for (int64_t c : {1, 2, 3, 5, 16, 63}) {
          const Partitions p(kind, partition_moduli(kind, n, parts, c));
          ASSERT_NO_THROW(p.check_complementary(n));
          std::set<std::vector<int64_t>> seen;
          for (int64_t i = 0; i < n; ++i) {
            std::vector<int64_t> tuple;
            for (int j = 0; j < parts; ++j) {
              tuple.push_back(p.index(static_cast<uint64_t>(i), j));
              ASSERT_EQ(p.index32(static_cast<uint32_t>(i), j), tuple.back()) << p.moduli_str() << " " << i;
              ASSERT_LT(tuple.back(), p.moduli[j]);
              ASSERT_GE(tuple.back(), 0);
            }
            ASSERT_TRUE(seen.insert(tuple).second)
                << partition_kind_name(kind) << " n=" << n << " moduli " << p.moduli_str() << " value " << i;
          }
        }
      }
    }
  }
}

TEST(Partitions, LargeCardinalitiesSampled) {
  Rng rng(4);
  for (PartitionKind kind : {PartitionKind::Qr, PartitionKind::Crt}) {
    for (int64_t n : {int64_t{10'000'019}, int64_t{40'000'000}, int64_t{4'000'000'000}}) {
      for (int parts : {2, 3, 5}) {
        const Partitions p(kind, partition_moduli(kind, n, parts, 2 + static_cast<int64_t>(rng.below(200))));
        p.check_complementary(n);
        std::map<std::vector<int64_t>, uint64_t> seen;
        for (int s = 0; s < 100000; ++s) {
          const uint64_t i = rng.below(static_cast<uint64_t>(n));
          std::vector<int64_t> tuple;
          for (int j = 0; j < parts; ++j) {
            tuple.push_back(p.index(i, j));
            if (i <= UINT32_MAX) {
              ASSERT_EQ(p.index32(static_cast<uint32_t>(i), j), tuple.back()) << p.moduli_str();
            }
          }
          auto [it, inserted] = seen.emplace(tuple, i);
          ASSERT_TRUE(inserted || it->second == i) << p.moduli_str() << ": " << i << " and " << it->second;
        }
      }
    }
  }
}

TEST(Partitions, CrtModuliArePairwiseCoprimeAndNonComplementaryOnesAreRefused) {
  const auto m = partition_moduli(PartitionKind::Crt, 1000000, 4, 10);
  for (size_t a = 0; a < m.size(); ++a) {
    for (size_t b = a + 1; b < m.size(); ++b) EXPECT_EQ(std::gcd(m[a], m[b]), 1) << m[a] << " " << m[b];
  }
  EXPECT_THROW(Partitions(PartitionKind::Crt, {4, 6}).check_complementary(10), Error);  // gcd 2
  EXPECT_THROW(Partitions(PartitionKind::Qr, {3, 3}).check_complementary(10), Error);   // 9 < 10
  EXPECT_THROW(make_table("cp:moduli=3x3", {4, {10}}), Error);
  EXPECT_NO_THROW(make_table("cp:moduli=3x4", {4, {10}}));
  EXPECT_THROW(parse_moduli("3x"), Error);
  EXPECT_EQ(parse_moduli("97x101"), (std::vector<int64_t>{97, 101}));
}

TEST(Compositional, VectorsAreDistinctAtInitialisation) {
  const int64_t n = 3000, d = 8;
  std::vector<Id> all(n);
  std::iota(all.begin(), all.end(), 0u);
  for (const std::string spec :
       {"qr:collisions=4", "qr:collisions=50,op=add", "qr:collisions=50,op=concat", "cp:parts=3,collisions=12",
        "cp:kind=crt,parts=3,collisions=12,op=add", "cp:kind=crt,parts=4,collisions=5,op=concat", "path:maps=8"}) {
    auto t = make_table(spec, {d, {n}});
    t->init(9);
    const auto v = vectors_of(*t, all);
    std::set<std::vector<float>> distinct;
    for (int64_t i = 0; i < n; ++i) distinct.insert(std::vector<float>(v.begin() + i * d, v.begin() + (i + 1) * d));
    EXPECT_EQ(static_cast<int64_t>(distinct.size()), n) << spec;
  }
}

TEST(Compositional, ParameterBytesEqualTheFormula) {
  const int64_t d = 16;
  for (int64_t n : {10, 1000, 123457}) {
    for (int64_t m : {1, 3, 7, 100}) {
      const int64_t q = (n + m - 1) / m;
      const std::string c = std::to_string(m);
      EXPECT_EQ(make_table("qr:collisions=" + c, {d, {n}})->parameter_bytes(), (m + q) * d * 4);
      EXPECT_EQ(make_table("qr:collisions=" + c + ",op=add", {d, {n}})->parameter_bytes(), (m + q) * d * 4);
      EXPECT_EQ(make_table("qr:collisions=" + c + ",op=concat", {d, {n}})->parameter_bytes(), (m + q) * (d / 2) * 4);
      // 3-way generalized QR: c, c, ceil(n / c^2).
      const int64_t last = (n + m * m - 1) / (m * m);
      EXPECT_EQ(make_table("cp:parts=3,collisions=" + c, {d, {n}})->parameter_bytes(), (2 * m + last) * d * 4);
      const int64_t path_base = (n + m - 1) / m;
      if (m <= n) {
        EXPECT_EQ(make_table("path:maps=" + c, {d, {n}})->parameter_bytes(), (path_base * d + m * (d * d + d)) * 4);
      }
      EXPECT_EQ(make_table("memcom:rows=" + c, {d, {n}})->parameter_bytes(), (m * d + n) * 4);
      EXPECT_EQ(make_table("memcom:rows=" + c + ",bias=scalar", {d, {n}})->parameter_bytes(), (m * d + 2 * n) * 4);
      EXPECT_EQ(make_table("memcom:rows=" + c + ",bias=vector", {d, {n}})->parameter_bytes(), (m * d + n + n * d) * 4);
    }
  }
  // Concat splits dims that do not divide: 3 parts of 16 -> 6, 5, 5.
  EXPECT_EQ(make_table("cp:moduli=2x3x5,op=concat", {16, {30}})->parameter_bytes(), (2 * 6 + 3 * 5 + 5 * 5) * 4);
}

// Cases of the methods built from small parts whose size is a count (collisions, maps,
// rows): qr, cp, path, memcom. (The others' budget-sized tables, up to hundreds of MB, are
// planned in MemoryPlanAllMethods without being built.)
bool sized_by_a_count_of_parts(const testing::MethodCase& c) {
  const auto table = testing::make_case_table(c.spec, c.shape());
  const Spec s = Spec::parse(c.spec);
  return dynamic_cast<const PartsTable*>(table.get()) != nullptr &&
         (s.has("collisions") || s.has("moduli") || s.has("maps") || s.has("rows"));
}

TEST(Compositional, BudgetFitsNeverOverAndUsesTheSmallestCollisionCount) {
  Rng rng(3);
  for (int trial = 0; trial < 60; ++trial) {
    const auto n = static_cast<int64_t>(std::exp(rng.uniform() * std::log(1e7))) + 300;
    const int64_t d = int64_t{4} << rng.below(4);
    const TableShape shape{d, {n}};
    for (const testing::MethodCase& c : testing::method_cases(testing::kPlan)) {
      if (!sized_by_a_count_of_parts(c)) continue;
      const std::string method = testing::unsized_spec(c.spec);
      const Spec spec = Spec::parse(method);
      const int64_t min = spec_min_bytes(spec, shape);
      for (double ratio : {2.0, 4.0, 16.0, 64.0}) {
        const auto budget = static_cast<int64_t>(static_cast<double>(n * d * 4) / ratio);
        if (budget < min) {
          try {
            fit_spec_to_budget(spec, shape, budget);
            FAIL() << method << " fitted below its minimum";
          } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(std::to_string(min)), std::string::npos) << e.what();
          }
          continue;
        }
        const Spec sized = fit_spec_to_budget(spec, shape, budget);
        const int64_t bytes = spec_parameter_bytes(sized, shape);
        ASSERT_LE(bytes, budget) << sized.str();
        EXPECT_EQ(make_table(sized.str(), shape)->parameter_bytes(), bytes) << sized.str();
        // One step less compression would not fit (the fit is the tightest of its kind).
        for (const char* key : {"collisions", "maps"}) {
          if (!sized.has(key) || sized.get_int(key, 0) <= 1) continue;
          Spec looser = sized;
          looser.set(key, std::to_string(sized.get_int(key, 0) - 1));
          EXPECT_GT(spec_parameter_bytes(looser, shape), budget) << sized.str();
        }
        if (sized.has("rows") && sized.get_int("rows", 0) < n) {
          Spec looser = sized;
          looser.set("rows", std::to_string(sized.get_int("rows", 0) + 1));
          EXPECT_GT(spec_parameter_bytes(looser, shape), budget) << sized.str();
        }
      }
    }
  }
}

// The combined vector has a full table's scale: variance of U(+-sqrt(1/n)) = 1/(3n).
TEST(Compositional, InitialVarianceMatchesAFullTable) {
  const int64_t n = 20000, d = 16;
  std::vector<Id> all(n);
  std::iota(all.begin(), all.end(), 0u);
  const double full_var = 1.0 / (3.0 * n);
  for (const std::string spec :
       {"qr:collisions=20", "qr:collisions=20,op=add", "qr:collisions=20,op=concat", "cp:parts=3,collisions=10",
        "cp:kind=crt,parts=3,collisions=10,op=add", "path:maps=16"}) {
    auto t = make_table(spec, {d, {n}});
    t->init(1);
    const auto v = vectors_of(*t, all);
    double sq = 0;
    for (float x : v) sq += static_cast<double>(x) * x;
    const double var = sq / static_cast<double>(v.size());
    EXPECT_NEAR(var / full_var, 1.0, 0.1) << spec;
  }
}

TEST(Compositional, MultiHotBagsCombinePerValueThenPool) {
  // With op=mult, pooling each part first would give (a1+a2)*(b1+b2); per value a1*b1+a2*b2.
  auto t = make_table("qr:collisions=3", {4, {9}});
  t->init(2);
  const auto single = vectors_of(*t, {1, 5});
  std::vector<Id> ids = {1, 5};
  std::vector<uint32_t> offsets = {0, 2};
  std::vector<float> out(4);
  BagBatch bags{ids, offsets, {}};
  MatrixView view{out.data(), 1, 4, 4};
  t->forward(std::span(&bags, 1), Pooling::Sum, std::span(&view, 1));
  for (int j = 0; j < 4; ++j) EXPECT_FLOAT_EQ(out[j], single[j] + single[4 + j]);
}

TEST(Memcom, ValuesSharingARowSeparateAfterTraining) {
  // Two values hashed to the same row; targets of opposite sign for them.
  const int64_t n = 50;
  auto t = make_table("memcom:rows=2", {4, {n}});
  t->init(3);
  t->set_optimizer({OptimizerKind::Adagrad});
  auto* parts = dynamic_cast<PartsTable*>(t.get());
  ASSERT_NE(parts, nullptr);
  std::map<int64_t, std::vector<Id>> by_row;
  for (Id i = 0; i < n; ++i) {
    int64_t rows[2];
    parts->rows_of(i, rows);
    by_row[rows[0]].push_back(i);
  }
  const std::vector<Id>& shared = by_row.begin()->second;
  ASSERT_GE(shared.size(), 2u);
  const Id a = shared[0], b = shared[1];
  const auto before = vectors_of(*t, {a, b});
  for (int j = 0; j < 4; ++j) EXPECT_EQ(before[j], before[4 + j]);  // w = 1: the hashing trick
  std::vector<Id> ids = {a, b};
  std::vector<uint32_t> offsets = {0, 1, 2};
  BagBatch bags{ids, offsets, {}};
  for (int step = 0; step < 200; ++step) {
    // loss = sum_j (e_a[j] - 1)^2 + (e_b[j] + 1)^2 -> gradient 2 (e - target).
    const auto e = vectors_of(*t, ids);
    std::vector<float> g(8);
    for (int j = 0; j < 4; ++j) {
      g[j] = 2 * (e[j] - 1);
      g[4 + j] = 2 * (e[4 + j] + 1);
    }
    ConstMatrixView grad{g.data(), 2, 4, 4};
    t->backward(std::span(&bags, 1), Pooling::Sum, std::span(&grad, 1), 0.05f);
  }
  const auto after = vectors_of(*t, ids);
  double dot = 0;
  for (int j = 0; j < 4; ++j) dot += static_cast<double>(after[j]) * after[4 + j];
  EXPECT_LT(dot, 0) << "the shared row cannot give opposite vectors without per-value weights";
}

TEST(Compositional, PlannerSizesEveryFeatureWithinBudget) {
  const std::vector<FeatureInfo> features = {{"small", 50}, {"mid", 20000}, {"big", 300000}, {"huge", 900000}};
  // memcom's n weights alone are 1/16 of full tables at dim 16: out of reach, and said so.
  EXPECT_NE(testing::error_of([&] { plan_memory("memcom", features, 16, Budget::ratio(16)); }).find("smallest budget"),
            std::string::npos);
  for (const testing::MethodCase& c : testing::method_cases(testing::kPlan)) {
    const std::string method = testing::unsized_spec(c.spec);
    for (double ratio : {2.0, 4.0, 16.0}) {
      MemoryPlan plan;
      try {
        plan = plan_memory(method, features, 16, Budget::ratio(ratio));
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("smallest budget"), std::string::npos) << method << ": " << e.what();
        continue;
      }
      EXPECT_LE(plan.parameter_bytes(), plan.budget_bytes) << method << " " << ratio;
      EXPECT_EQ(plan.tables[plan.table_of(0)].spec, "full") << "below the threshold";
      for (const auto& t : plan.tables) {
        TableShape shape{16, {}};
        for (int f : t.features) shape.cardinalities.push_back(features[f].cardinality);
        EXPECT_EQ(make_table(t.spec, shape)->parameter_bytes(), t.parameter_bytes) << t.spec;
      }
    }
  }
}

}  // namespace
}  // namespace cembed

namespace cembed {
namespace {

TEST(MixedDimension, DimensionsFollowCardinalityToTheMinusAlpha) {
  const std::vector<FeatureInfo> features = {{"a", 1000}, {"b", 10000}, {"c", 100000}, {"d", 1000000}};
  const MemoryPlan plan =
      plan_memory("md", features, 64, Budget::ratio(8), 200, Allocation::Uniform);  // md's own rule over every feature
  ASSERT_LE(plan.parameter_bytes(), plan.budget_bytes);
  std::vector<double> dims;
  for (int f = 0; f < 4; ++f) dims.push_back(Spec::parse(plan.tables[plan.table_of(f)].spec).get_int("dim", 0));
  // Ten times the values: dimension about 10^-0.3 = 0.50 times (rounding down to integers).
  for (int f = 0; f + 1 < 4; ++f) {
    EXPECT_NEAR(dims[f + 1] / dims[f], std::pow(10.0, -0.3), 0.12) << plan.describe();
  }
  // alpha = 0 gives every feature the same dimension.
  const MemoryPlan flat = plan_memory("md:alpha=0", features, 64, Budget::ratio(8), 200, Allocation::Uniform);
  const auto d0 = Spec::parse(flat.tables[0].spec).get_int("dim", 0);
  for (const auto& t : flat.tables) EXPECT_NEAR(Spec::parse(t.spec).get_int("dim", 0), d0, 1) << flat.describe();
}

// Every method over many feature-size profiles: never over the budget, clear errors below
// a method's floor, and how much of the budget is used.
TEST(MemoryPlanAllMethods, NeverOverBudgetAndErrorsNameTheSmallestBudget) {
  Rng rng(17);
  for (const testing::MethodCase& c : testing::method_cases(testing::kPlan)) {
    const std::string method = testing::unsized_spec(c.spec);
    double worst_use = 1.0;
    int feasible = 0;
    for (int trial = 0; trial < 25; ++trial) {
      std::vector<FeatureInfo> features;
      const int count = 1 + static_cast<int>(rng.below(30));
      for (int f = 0; f < count; ++f) {
        features.push_back(
            {"f" + std::to_string(f), static_cast<int64_t>(std::exp(rng.uniform() * std::log(3e6))) + 1});
      }
      const int64_t dim = int64_t{8} << rng.below(3);
      for (double ratio : {2.0, 4.0, 16.0, 64.0, 256.0}) {
        MemoryPlan plan;
        try {
          plan = plan_memory(method, features, dim, Budget::ratio(ratio));
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("smallest budget"), std::string::npos) << method << ": " << e.what();
          continue;
        }
        ++feasible;
        ASSERT_LE(plan.parameter_bytes(), plan.budget_bytes) << method << " ratio " << ratio << "\n" << plan.describe();
        // Plans where a table is capped at one row per value cannot use more; budgets of a
        // few blocks or rows per table are met to one block or row per table.
        bool capped = false;
        for (const auto& t : plan.tables) {
          capped = capped || (t.spec.find("rows=") != std::string::npos &&
                              Spec::parse(t.spec).get_int("rows", 0) == features[t.features[0]].cardinality);
        }
        if (capped) continue;
        const double step =
            static_cast<double>(plan.tables.size()) * 4 * static_cast<double>(std::max<int64_t>(dim, 32));
        const double slack = std::max(step, 0.005 * static_cast<double>(plan.budget_bytes));
        const double use =
            std::min(1.0, (static_cast<double>(plan.parameter_bytes()) + slack - 0.005 * plan.budget_bytes) /
                              static_cast<double>(plan.budget_bytes));
        worst_use = std::min(worst_use, use);
      }
    }
    EXPECT_GT(feasible, 20) << method;
    // (worst_use counts one block or row per table beyond 0.5% as used: tiny budgets.)
    // Methods sized in rows or floats use the budget to 0.5%; the compositional ones move
    // in coarser steps (a collision count or a map count per feature), md in steps of
    // (n + dim) floats.
    const std::string name = Spec::parse(method).name;
    const bool fine =
        name == "hash" || name == "memcom" || name == "robe" || name == "lma" || name == "hot" || name == "cce";
    std::printf("%-22s worst budget use %.4f over %d feasible plans\n", method.c_str(), worst_use, feasible);
    if (fine) {
      EXPECT_GT(worst_use, 0.995) << method;
    }
  }
}

}  // namespace
}  // namespace cembed
