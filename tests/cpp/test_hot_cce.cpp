// hot (frequency-aware hybrid) and cce (clustered compositional embeddings): their own
// invariants beyond the method grids of method_cases.h: which values get rows of their own,
// the budget split and its bytes, planning hot over every other method, k-means, and what a
// reclustering leaves.
#include <gtest/gtest.h>
#include <omp.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <map>
#include <set>

#include "cembed/factory.h"
#include "cembed/memory_plan.h"
#include "embedding/kmeans.h"
#include "embedding/parts_table.h"
#include "method_cases.h"
#include "test_helpers.h"
#include "util/binary_io.h"
#include "util/check.h"

namespace cembed {
namespace {

using testing::error_of;
using testing::vectors_of;

std::vector<Id> all_ids(int64_t n) {
  std::vector<Id> ids(n);
  for (int64_t i = 0; i < n; ++i) ids[i] = static_cast<Id>(i);
  return ids;
}

// With a cold table of one row every cold value has the same vector; ids 1..rows (prepare's
// most frequent values) each have their own; OOV (id 0) is cold.
TEST(Hot, LowestIdsHaveRowsOfTheirOwnAndTheRestShareTheColdTable) {
  const int64_t n = 30, d = 4, rows = 5;
  auto t = make_table("hot:rows=5,cold=hash,cold.rows=1", {d, {n}});
  t->init(1);
  const auto v = vectors_of(*t, all_ids(n));
  std::set<std::vector<float>> hot, cold;
  for (int64_t i = 0; i < n; ++i) {
    std::vector<float> e(v.begin() + i * d, v.begin() + (i + 1) * d);
    (i >= 1 && i <= rows ? hot : cold).insert(e);
  }
  EXPECT_EQ(hot.size(), static_cast<size_t>(rows));
  EXPECT_EQ(cold.size(), 1u);
  EXPECT_FALSE(hot.contains(*cold.begin()));
  // Hot rows start at a full table's scale for the feature: uniform +-sqrt(1/n).
  for (const auto& e : hot) {
    for (float x : e) EXPECT_LE(std::abs(x), std::sqrt(1.0f / n) * 1.0001f);
  }
}

TEST(Hot, TrainingSeparatesHotValuesThatShareTheColdRow) {
  const int64_t n = 20, d = 4;
  auto t = make_table("hot:rows=2,cold=hash,cold.rows=1", {d, {n}});
  t->init(3);
  // Values 1 and 2 are hot.
  t->set_optimizer({OptimizerKind::Adagrad});
  // Values 1 and 2 (hot) to +1 and -1; values 5 and 6 (cold, one shared row) likewise.
  std::vector<Id> ids = {1, 2, 5, 6};
  std::vector<uint32_t> offsets = {0, 1, 2, 3, 4};
  BagBatch bags{ids, offsets, {}};
  for (int step = 0; step < 300; ++step) {
    const auto e = vectors_of(*t, ids);
    std::vector<float> g(4 * d);
    for (int k = 0; k < 4; ++k) {
      const float target = k % 2 == 0 ? 1.0f : -1.0f;
      for (int j = 0; j < d; ++j) g[k * d + j] = 2 * (e[k * d + j] - target);
    }
    ConstMatrixView grad{g.data(), 4, d, d};
    t->backward(std::span(&bags, 1), Pooling::Sum, std::span(&grad, 1), 0.1f);
  }
  const auto e = vectors_of(*t, ids);
  for (int j = 0; j < d; ++j) {
    EXPECT_NEAR(e[j], 1.0f, 0.05f);
    EXPECT_NEAR(e[d + j], -1.0f, 0.05f);
    EXPECT_EQ(e[2 * d + j], e[3 * d + j]) << "cold values 5 and 6 share the cold table's one row";
  }
}

TEST(Hot, BytesAreTheSumOfTheTwoTables) {
  const int64_t n = 1000, d = 16;
  for (const std::string cold : {"hash,cold.rows=50", "qr,cold.collisions=10", "robe,cold.size=800"}) {
    const std::string spec = "hot:rows=40,cold=" + cold;
    auto t = make_table(spec, {d, {n}});
    const std::string cold_spec = Spec::parse(spec).get("cold") + ":" + cold.substr(cold.find("cold.") + 5);
    auto c = make_table(cold_spec, {d, {n}});
    EXPECT_EQ(t->parameter_bytes(), 40 * d * 4 + c->parameter_bytes()) << spec;
    EXPECT_EQ(spec_parameter_bytes(Spec::parse(spec), {d, {n}}), t->parameter_bytes()) << spec;
    for (OptimizerKind kind : {OptimizerKind::Sgd, OptimizerKind::Adagrad, OptimizerKind::RowwiseAdagrad}) {
      t->set_optimizer({kind});
      c->set_optimizer({kind});
      const int64_t hot_state = kind == OptimizerKind::Sgd ? 0 : kind == OptimizerKind::Adagrad ? 40 * d * 4 : 40 * 4;
      EXPECT_EQ(t->optimizer_bytes(), hot_state + c->optimizer_bytes()) << spec;
    }
  }
}

// The split rule (hot_table.cpp): hot rows = floor(share * B / row bytes) within [1, n - 1] and
// leaving the cold table its minimum; the cold table sized to the rest; what its steps leave
// becomes hot rows, so one more hot row would not fit (unless every value is hot).
TEST(Hot, BudgetSplitFollowsTheStatedRule) {
  Rng rng(5);
  int fitted = 0;
  for (int trial = 0; trial < 40; ++trial) {
    const auto n = static_cast<int64_t>(std::exp(rng.uniform() * std::log(1e6))) + 300;
    const int64_t d = int64_t{4} << rng.below(3), rb = d * 4;
    const TableShape shape{d, {n}};
    for (const std::string cold : {"hash", "qr", "robe", "cce", "memcom"}) {
      for (double share : {0.25, 0.5, 0.75}) {
        const Spec spec = Spec::parse("hot:share=" + fmt::format("{}", share) + ",cold=" + cold);
        const int64_t min = spec_min_bytes(spec, shape);
        EXPECT_EQ(min, rb + spec_min_bytes(Spec::parse(cold), shape)) << spec.str();
        for (double ratio : {4.0, 16.0, 64.0, 256.0, 1000.0}) {
          const auto budget = static_cast<int64_t>(static_cast<double>(n * rb) / ratio);
          if (budget < min) {
            EXPECT_NE(error_of([&] { fit_spec_to_budget(spec, shape, budget); }).find(std::to_string(min)),
                      std::string::npos);
            continue;
          }
          const Spec sized = fit_spec_to_budget(spec, shape, budget);
          const int64_t bytes = spec_parameter_bytes(sized, shape);
          ASSERT_LE(bytes, budget) << sized.str();
          const int64_t rows = sized.get_int("rows", 0);
          const int64_t wanted = std::clamp<int64_t>(static_cast<int64_t>(std::floor(share * budget)) / rb, 1, n - 1);
          EXPECT_GE(rows, std::min(wanted, (budget - spec_min_bytes(Spec::parse(cold), shape)) / rb)) << sized.str();
          if (rows < n - 1) {
            EXPECT_LT(budget - bytes, rb) << sized.str() << " leaves a hot row unused";
          }
          EXPECT_EQ(make_table(sized.str(), shape)->parameter_bytes(), bytes) << sized.str();
          ++fitted;
        }
      }
    }
  }
  EXPECT_GT(fitted, 500);
}

// hot's lookup of one-hot bags (each table looks up only its own ids) against its general path
// (both tables over every bag, the two outputs summed), which the same batch takes with an
// empty bag after it: bit for bit, into a strided output whose gaps stay untouched, with every
// case of the method table as the cold table (at the case's dim, and at 16 and 17 where its
// spec holds: the fixed-width kernels and a width past them), both ways of finding hot values
// (the sketch's case after training steps that make values hot), sum and mean pooling.
// Whether `spec` builds for `shape` (a case's spec may not hold at another dim).
bool fits(const std::string& spec, const TableShape& shape) {
  try {
    make_table(spec, shape);
    return true;
  } catch (const Error&) {
    return false;
  }
}

void expect_one_hot_matches_general_path(const EmbeddingTable& table, const std::string& spec, int64_t n,
                                         uint64_t seed) {
  const int64_t d = table.dim(), batch = 97, stride = d + 3;
  Rng rng(seed);
  const testing::OwnedBags one_hot = testing::random_bags(rng, batch, n, 1, 1, false);
  testing::OwnedBags general = one_hot;
  general.offsets.push_back(general.offsets.back());  // an empty bag after the batch
  for (const Pooling pooling : {Pooling::Sum, Pooling::Mean}) {
    std::vector<float> out(batch * stride, -7.0f), ref((batch + 1) * stride, -7.0f);
    const BagBatch a = one_hot.view(), b = general.view();
    const MatrixView out_view{out.data(), batch, d, stride}, ref_view{ref.data(), batch + 1, d, stride};
    table.forward(std::span(&a, 1), pooling, std::span(&out_view, 1));
    table.forward(std::span(&b, 1), pooling, std::span(&ref_view, 1));
    for (int64_t bag = 0; bag < batch; ++bag) {
      for (int64_t i = 0; i < stride; ++i) {
        const float o = out[bag * stride + i], r = ref[bag * stride + i];
        ASSERT_EQ(std::bit_cast<uint32_t>(o), std::bit_cast<uint32_t>(r))
            << spec << (pooling == Pooling::Sum ? " sum" : " mean") << ": bag " << bag << " (id " << one_hot.ids[bag]
            << ") element " << i << (i >= d ? " (a gap)" : "") << ": " << std::hexfloat << o << " one-hot vs " << r
            << " general (difference " << (o - r) << ")";
      }
    }
  }
}

TEST(Hot, OneHotLookupsMatchTheGeneralPathBitForBit) {
  int checked = 0;
  for (const testing::MethodCase& c : testing::method_cases()) {
    Spec spec = Spec::parse(c.spec);
    if (spec.name == "full") continue;
    if (spec.name != "hot") {
      Spec hot;
      hot.name = "hot";
      hot.params = {{"rows", "10"}, {"cold", spec.name}};
      for (const auto& [k, v] : spec.params) hot.params.emplace_back("cold." + k, v);
      spec = hot;
    }
    for (const int64_t dim : {c.dim, int64_t{16}, int64_t{17}}) {
      if (dim != c.dim && !fits(spec.str(), {dim, {c.cardinality}})) continue;
      auto table = testing::make_case_table(spec.str(), {dim, {c.cardinality}});
      table->init(3);
      table->set_optimizer({OptimizerKind::Adagrad});
      // Steps off init (find=sketch makes values hot only while training).
      Rng rng(11);
      for (int step = 0; step < 4; ++step) {
        const testing::OwnedBags bags = testing::random_bags(rng, 40, c.cardinality, 1, 3, false);
        std::vector<float> grad(40 * dim);
        for (float& g : grad) g = rng.uniform(-1.0f, 1.0f);
        const BagBatch view = bags.view();
        const ConstMatrixView g{grad.data(), 40, dim, dim};
        table->backward(std::span(&view, 1), Pooling::Sum, std::span(&g, 1), 0.1f);
      }
      expect_one_hot_matches_general_path(*table, spec.str() + " dim " + std::to_string(dim), c.cardinality, 5);
      ++checked;
    }
  }
  EXPECT_GT(checked, 60);
}

// A bag's vector of -0 comes out +0 on both paths: the general path added the other table's
// empty bag (+0) to it. Every weight is -0, and qr's add keeps it (-0 + -0 is -0).
TEST(Hot, OneHotLookupsTurnMinusZeroIntoPlusZeroAsTheGeneralPath) {
  auto table = make_table("hot:rows=5,cold=qr,cold.collisions=4,cold.op=add", {8, {40}});
  table->init(1);
  for (const auto& block : table->blocks()) std::fill(block.weights.begin(), block.weights.end(), -0.0f);
  expect_one_hot_matches_general_path(*table, "hot of -0 weights", 40, 2);
}

// Planned over every method of the planner grid as its cold table: never over the budget,
// the built tables' bytes are the plan's.
TEST(Hot, PlansOverEveryOtherMethod) {
  const std::vector<FeatureInfo> features = {{"small", 50}, {"mid", 20000}, {"big", 300000}};
  int planned = 0;
  for (const testing::MethodCase& c : testing::method_cases(testing::kPlan)) {
    const Spec cold = Spec::parse(testing::unsized_spec(c.spec));
    if (cold.name == "hot" || cold.name == "full") continue;
    Spec spec;
    spec.name = "hot";
    spec.params.emplace_back("cold", cold.name);
    for (const auto& [k, v] : cold.params) spec.params.emplace_back("cold." + k, v);
    for (double ratio : {4.0, 16.0, 64.0}) {
      MemoryPlan plan;
      try {
        plan = plan_memory(spec.str(), features, 16, Budget::ratio(ratio));
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("smallest budget"), std::string::npos) << spec.str() << ": " << e.what();
        continue;
      }
      ++planned;
      EXPECT_LE(plan.parameter_bytes(), plan.budget_bytes) << spec.str() << " " << ratio;
      for (const auto& t : plan.tables) {
        TableShape shape{16, {}};
        for (int f : t.features) shape.cardinalities.push_back(features[f].cardinality);
        auto table = make_table(t.spec, shape);
        EXPECT_EQ(table->parameter_bytes(), t.parameter_bytes) << t.spec;
        if (t.spec != "full") {
          EXPECT_EQ(table->method(), "hot") << t.spec;
        }
      }
    }
  }
  EXPECT_GT(planned, 15);
}

TEST(Hot, SpecErrorsNameTheFault) {
  EXPECT_NE(error_of([] {
              make_table("hot:rows=3,cold=qr,cold.rows=4", {8, {100}});
            }).find("no key 'rows'"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              make_table("hot:rows=3,cold=hot,cold.rows=4", {8, {100}});
            }).find("cannot itself be hot"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              make_table("hot:rows=300,cold.rows=4", {8, {100}});
            }).find("rows must be in [1, 99]"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              make_table("hot:rows=3,share=1.5,cold.rows=4", {8, {100}});
            }).find("share must be in"),
            std::string::npos);
  EXPECT_NE(error_of([] { make_table("hot:rows=3,cold=qr", {8, {100}}); }).find("has no size"), std::string::npos);
  EXPECT_NE(error_of([] {
              make_table("hot:rows=3,cold.rows=4,colder=1", {8, {100}});
            }).find("cold, cold.*"),
            std::string::npos);
}

// Well separated blobs are recovered exactly, the same for 1 and 3 threads.
TEST(KMeans, RecoversSeparatedBlobsWhateverTheThreadCount) {
  const int64_t k = 6, per = 50, w = 3, n = k * per;
  std::vector<float> points(n * w);
  Rng rng(2);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t blob = (i * 7) % k;  // interleaved
    for (int64_t j = 0; j < w; ++j) points[i * w + j] = static_cast<float>(10 * blob * (j + 1)) + rng.uniform(-1, 1);
  }
  KMeansResult r[2];
  for (int t = 0; t < 2; ++t) {
    omp_set_num_threads(t == 0 ? 1 : 3);
    r[t] = kmeans(points, n, w, k, 9, 20, 0);
  }
  omp_set_num_threads(1);
  EXPECT_EQ(r[0].assignment, r[1].assignment);
  EXPECT_EQ(r[0].centroids, r[1].centroids);
  std::map<int64_t, std::set<uint32_t>> clusters_of_blob;
  for (int64_t i = 0; i < n; ++i) clusters_of_blob[(i * 7) % k].insert(r[0].assignment[i]);
  std::set<uint32_t> used;
  for (const auto& [blob, clusters] : clusters_of_blob) {
    EXPECT_EQ(clusters.size(), 1u) << "blob " << blob;
    used.insert(*clusters.begin());
  }
  EXPECT_EQ(used.size(), static_cast<size_t>(k));
  // k >= points: each its own cluster.
  const KMeansResult own = kmeans(std::span(points).first(4 * w), 4, w, 5, 1);
  EXPECT_EQ(own.assignment, (std::vector<uint32_t>{0, 1, 2, 3}));
}

double sse(const std::vector<float>& v, const std::vector<int64_t>& group, int64_t n, int64_t d) {
  std::map<int64_t, std::vector<double>> sum;
  std::map<int64_t, int64_t> size;
  for (int64_t i = 0; i < n; ++i) {
    auto& s = sum[group[i]];
    s.resize(d);
    for (int64_t j = 0; j < d; ++j) s[j] += v[i * d + j];
    ++size[group[i]];
  }
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < d; ++j) {
      const double m = sum[group[i]][j] / static_cast<double>(size[group[i]]);
      total += (v[i * d + j] - m) * (v[i * d + j] - m);
    }
  }
  return total;
}

// A reclustering (after the every-th step; lr 0 so the step itself changes nothing) makes
// each value's vector the mean of the vectors of the values clustered with it (B is zeroed),
// with at most `rows` distinct vectors, and groups values more tightly than the assignment
// it replaces.
TEST(Cce, ReclusteringMakesEachVectorItsClustersMean) {
  const int64_t n = 400, d = 4, rows = 8;
  auto t = make_table("cce:rows=8,cols=1,every=3,times=1", {d, {n}});
  t->init(4);
  t->set_optimizer({OptimizerKind::Adagrad});
  EXPECT_EQ(t->auxiliary_bytes(), n * 4 + 16);
  Rng rng(8);
  const auto bags = testing::random_bags(rng, 16, n, 1, 3, false);
  const BagBatch view = bags.view();
  const auto g = testing::random_vector(rng, 16 * d);
  ConstMatrixView grad{g.data(), 16, d, d};
  for (int step = 0; step < 2; ++step) t->backward(std::span(&view, 1), Pooling::Sum, std::span(&grad, 1), 0.5f);
  const auto before = vectors_of(*t, all_ids(n));
  t->backward(std::span(&view, 1), Pooling::Sum, std::span(&grad, 1), 0.0f);  // step 3: reclusters
  const auto after = vectors_of(*t, all_ids(n));
  std::map<std::vector<float>, int64_t> group_of;
  std::vector<int64_t> group(n);
  for (int64_t i = 0; i < n; ++i) {
    std::vector<float> e(after.begin() + i * d, after.begin() + (i + 1) * d);
    group[i] = group_of.emplace(e, static_cast<int64_t>(group_of.size())).first->second;
  }
  EXPECT_LE(group_of.size(), static_cast<size_t>(rows));
  EXPECT_GT(group_of.size(), 1u);
  for (const auto& [centroid, g_id] : group_of) {
    std::vector<double> mean(d, 0.0);
    int64_t count = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (group[i] != g_id) continue;
      ++count;
      for (int64_t j = 0; j < d; ++j) mean[j] += before[i * d + j];
    }
    for (int64_t j = 0; j < d; ++j) EXPECT_NEAR(centroid[j], mean[j] / count, 1e-6);
  }
  // Tighter than grouping by the replaced assignment (approximated by the hashed A row: the
  // values that shared A's row before).
  auto fresh = make_table("cce:rows=8,cols=1,every=3,times=1", {d, {n}});
  auto* parts = dynamic_cast<PartsTable*>(fresh.get());
  ASSERT_NE(parts, nullptr);
  std::vector<int64_t> old_group(n);
  for (int64_t i = 0; i < n; ++i) {
    int64_t r[2];
    parts->rows_of(static_cast<Id>(i), r);
    old_group[i] = r[0];
  }
  EXPECT_LT(sse(before, group, n, d), sse(before, old_group, n, d));
  // Then no more: times=1.
  const auto c = vectors_of(*t, all_ids(n));
  for (int step = 0; step < 6; ++step) t->backward(std::span(&view, 1), Pooling::Sum, std::span(&grad, 1), 0.0f);
  EXPECT_EQ(vectors_of(*t, all_ids(n)), c);
}

TEST(Cce, BytesAndSpecErrors) {
  EXPECT_EQ(make_table("cce:rows=10", {16, {1000}})->parameter_bytes(), 2 * 10 * 16 * 4);
  EXPECT_EQ(make_table("cce:rows=10,cols=3", {16, {1000}})->parameter_bytes(), 2 * 10 * 16 * 4);
  EXPECT_EQ(make_table("cce:rows=10,cols=3", {16, {1000}})->auxiliary_bytes(), 3 * 1000 * 4 + 16);
  EXPECT_NE(error_of([] {
              make_table("cce:rows=10,cols=5", {16, {100}});
            }).find("cols must be in [1, 4]"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              make_table("cce:rows=10,every=0", {16, {100}});
            }).find("every must be at least 1"),
            std::string::npos);
  EXPECT_NE(error_of([] { make_table("cce:rows=0", {16, {100}}); }).find("rows must be positive"), std::string::npos);
}

// A file whose assignment points past the table's rows is refused, naming the file.
TEST(Cce, DamagedAssignmentIsRefused) {
  auto a = make_table("cce:rows=4,cols=1", {4, {10}});
  a->set_optimizer({OptimizerKind::Sgd});
  BinaryWriter w;
  a->save(w);
  std::string bytes = w.bytes();
  const uint32_t bad = 9;
  std::memcpy(bytes.data() + bytes.size() - 4, &bad, 4);  // the last value's row
  auto b = make_table("cce:rows=4,cols=1", {4, {10}});
  b->set_optimizer({OptimizerKind::Sgd});
  BinaryReader r(bytes.data(), bytes.size(), "model.ckpt");
  const std::string e = error_of([&] { b->load(r); });
  EXPECT_NE(e.find("model.ckpt"), std::string::npos) << e;
  EXPECT_NE(e.find("assignment 9 of value 9 is not below rows 4"), std::string::npos) << e;
}

}  // namespace
}  // namespace cembed
