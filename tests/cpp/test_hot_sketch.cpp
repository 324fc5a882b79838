// hot:find=sketch: the HotSketch against a brute-force reference of its rule (hot_sketch.h),
// Space-Saving's bounds, a planted heavy hitter found in a Zipf stream, promotion from the
// cold vector, gradients against finite differences once values are hot, bytes and budgets to
// the byte, save/load and its checks, and the spec's errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>

#include "cembed/factory.h"
#include "cembed/memory_plan.h"
#include "data/zipf.h"
#include "embedding/hot_sketch.h"
#include "test_helpers.h"
#include "util/binary_io.h"

namespace cembed {
namespace {

using testing::error_of;
using testing::vectors_of;

// The rule of hot_sketch.h written plainly: a bucket is a list of entries that grows to
// `slots` (an entry never leaves, it is only overwritten), hot rows in a map, free rows in a
// list whose end is given first, the lowest hot value found by a scan.
struct ReferenceSketch {
  struct Entry {
    Id value;
    float score, error;
    bool hot;
    float sure() const { return score - error; }
  };
  int slots;
  float threshold;
  std::vector<std::vector<Entry>> buckets;
  std::map<Id, int32_t> row;  // hot values' rows
  std::vector<int32_t> free;

  ReferenceSketch(int64_t num_buckets, int slots, int64_t rows, float threshold)
      : slots(slots), threshold(threshold), buckets(num_buckets) {
    for (int64_t r = rows - 1; r >= 0; --r) free.push_back(static_cast<int32_t>(r));
  }

  Entry* find(int64_t b, Id v) {
    for (Entry& e : buckets[b]) {
      if (e.value == v) return &e;
    }
    return nullptr;
  }

  void add(int64_t b, Id v, float s) {
    auto& bucket = buckets[b];
    if (Entry* e = find(b, v)) {
      e->score += s;
    } else if (static_cast<int>(bucket.size()) < slots) {
      bucket.push_back({v, s, 0.0f, false});
    } else {
      auto it = std::min_element(bucket.begin(), bucket.end(),
                                 [](const Entry& x, const Entry& y) { return x.score < y.score; });
      if (it->hot) {
        free.push_back(row.at(it->value));
        row.erase(it->value);
      }
      *it = {v, it->score + s, it->score, false};
    }
  }

  std::vector<std::pair<int32_t, Id>> promote(const std::vector<std::pair<int64_t, Id>>& batch) {
    std::vector<Entry*> candidates;
    for (const auto& [b, v] : batch) {
      Entry* e = find(b, v);
      if (e && !e->hot && e->sure() >= threshold &&
          std::find(candidates.begin(), candidates.end(), e) == candidates.end())
        candidates.push_back(e);
    }
    std::stable_sort(candidates.begin(), candidates.end(), [](Entry* x, Entry* y) { return x->sure() > y->sure(); });
    std::vector<std::pair<int32_t, Id>> out;
    for (Entry* c : candidates) {
      int32_t r = -1;
      if (!free.empty()) {
        r = free.back();
        free.pop_back();
      } else {
        Entry* lowest = nullptr;
        for (auto& bucket : buckets) {
          for (Entry& e : bucket) {
            if (e.hot && (!lowest || e.sure() < lowest->sure())) lowest = &e;
          }
        }
        if (!lowest || lowest->sure() >= c->sure()) break;
        r = row.at(lowest->value);
        row.erase(lowest->value);
        lowest->hot = false;
      }
      c->hot = true;
      row[c->value] = r;
      out.emplace_back(r, c->value);
    }
    return out;
  }
};

// Compares every slot, every hot row and the free rows.
void expect_same(const HotSketch& s, const ReferenceSketch& ref, int step) {
  for (int64_t b = 0; b < s.num_buckets(); ++b) {
    for (int i = 0; i < s.slots_per_bucket(); ++i) {
      const HotSlot& got = s.slots()[b * s.slots_per_bucket() + i];
      if (i >= static_cast<int>(ref.buckets[b].size())) {
        ASSERT_TRUE(got.empty()) << "step " << step << " bucket " << b << " slot " << i;
        continue;
      }
      const auto& e = ref.buckets[b][i];
      ASSERT_EQ(got.value, e.value) << "step " << step << " bucket " << b << " slot " << i;
      ASSERT_EQ(got.score, e.score) << "step " << step;
      ASSERT_EQ(got.error, e.error) << "step " << step;
      ASSERT_EQ(got.row, e.hot ? ref.row.at(e.value) : -1) << "step " << step << " value " << e.value;
    }
  }
  ASSERT_EQ(std::vector<int32_t>(s.free_rows().begin(), s.free_rows().end()), ref.free) << "step " << step;
}

TEST(HotSketch, FollowsABruteForceReferenceOfItsRule) {
  // Few buckets and rows so that every branch runs: hits, empty slots, Space-Saving
  // replacement of hot and cold slots, free rows, taking a lower-scoring neighbour's row.
  for (const auto& [buckets, slots, rows, threshold, counts] :
       {std::tuple{7, 3, 9, 2.5f, true}, std::tuple{3, 4, 20, 0.0f, false}, std::tuple{16, 2, 5, 3.0f, true},
        std::tuple{1, 8, 4, 1.5f, false}}) {
    HotSketch s(buckets, slots, rows, threshold);
    ReferenceSketch ref(buckets, slots, rows, threshold);
    Rng rng(buckets * 31 + slots);
    const ZipfSampler zipf(200, 1.1);
    std::vector<std::pair<int32_t, Id>> promoted;
    int promotions = 0;
    for (int step = 0; step < 800; ++step) {
      std::vector<Id> values;
      std::vector<std::pair<int64_t, Id>> batch;
      const auto size = 1 + rng.below(12);
      for (uint64_t k = 0; k < size; ++k) {
        const auto v = static_cast<Id>(zipf.sample(rng) * 7919 % 1000);
        const float score = counts ? 1.0f : static_cast<float>(rng.uniform(0, 2));
        values.push_back(v);
        batch.emplace_back(s.bucket_of(v), v);
        s.add(v, score);
        ref.add(s.bucket_of(v), v, score);
      }
      promoted.clear();
      s.promote(values, promoted);
      ASSERT_EQ(promoted, ref.promote(batch)) << "step " << step;
      promotions += static_cast<int>(promoted.size());
      ASSERT_NO_FATAL_FAILURE(expect_same(s, ref, step));
    }
    EXPECT_GT(promotions, rows) << "rows changed hands";
  }
}

// Space-Saving with counts: a value's score is at least its true count and its guaranteed
// score (score - error) at most that count, a bucket's scores sum to the occurrences hashed into it, and a value seen
// more often than 1/slots of its bucket's occurrences holds a slot.
TEST(HotSketch, CountScoresKeepSpaceSavingsBounds) {
  const int64_t buckets = 5, slots = 4;
  HotSketch s(buckets, slots, 6, 1.0f);
  Rng rng(3);
  const ZipfSampler zipf(500, 1.0);
  std::map<Id, int64_t> count;
  std::vector<int64_t> per_bucket(buckets, 0);
  for (int i = 0; i < 20000; ++i) {
    const auto v = static_cast<Id>(zipf.sample(rng));
    ++count[v];
    ++per_bucket[s.bucket_of(v)];
    s.add(v, 1.0f);
  }
  for (int64_t b = 0; b < buckets; ++b) {
    double sum = 0;
    for (int i = 0; i < slots; ++i) {
      const HotSlot& slot = s.slots()[b * slots + i];
      sum += slot.score;
      EXPECT_GE(slot.score, count[slot.value]) << "value " << slot.value;
      EXPECT_LE(slot.guaranteed(), count[slot.value]) << "value " << slot.value;
    }
    EXPECT_EQ(sum, per_bucket[b]) << "bucket " << b;
  }
  for (const auto& [v, c] : count) {
    if (c * slots > per_bucket[s.bucket_of(v)]) {
      bool held = false;
      for (int i = 0; i < slots; ++i) held |= s.slots()[s.bucket_of(v) * slots + i].value == v;
      EXPECT_TRUE(held) << "value " << v << " seen " << c << " times of " << per_bucket[s.bucket_of(v)];
    }
  }
}

TEST(HotSketch, SaveLoadRoundTripsAndRefusesADamagedState) {
  HotSketch s(6, 3, 5, 2.0f);
  std::vector<std::pair<int32_t, Id>> promoted;
  Rng rng(4);
  for (int i = 0; i < 30; ++i) {
    std::vector<Id> batch(10);
    for (Id& v : batch) {
      v = static_cast<Id>(rng.below(40));
      s.add(v, 1.0f);
    }
    s.promote(batch, promoted);
  }
  BinaryWriter w;
  s.save(w);
  HotSketch t(6, 3, 5, 2.0f);
  BinaryReader r(w.bytes().data(), w.bytes().size(), "model.ckpt");
  t.load(r);
  r.expect_end();
  for (Id v = 0; v < 40; ++v) EXPECT_EQ(t.row_of(v), s.row_of(v)) << v;
  EXPECT_TRUE(std::equal(t.free_rows().begin(), t.free_rows().end(), s.free_rows().begin(), s.free_rows().end()));

  auto load_error = [](std::string bytes) {
    HotSketch u(6, 3, 5, 2.0f);
    BinaryReader in(bytes.data(), bytes.size(), "model.ckpt");
    return error_of([&] { u.load(in); });
  };
  // Offsets: 3 x i64 header, then slots of 16 bytes (value, row, score, error).
  std::string twice = w.bytes();
  std::vector<int> hot_slots;
  for (int i = 0; i < 18; ++i) {
    if (s.slots()[i].row >= 0) hot_slots.push_back(i);
  }
  ASSERT_GE(hot_slots.size(), 2u);
  const int first_hot = hot_slots[0], second_hot = hot_slots[1];
  std::memcpy(twice.data() + 24 + second_hot * 16 + 4, twice.data() + 24 + first_hot * 16 + 4, 4);
  EXPECT_NE(load_error(twice).find("model.ckpt: hot sketch row"), std::string::npos) << load_error(twice);
  std::string nan = w.bytes();
  const float bad = std::nanf("");
  std::memcpy(nan.data() + 24 + first_hot * 16 + 8, &bad, 4);
  EXPECT_NE(load_error(nan).find("has score nan"), std::string::npos) << load_error(nan);
  EXPECT_NE(load_error(w.bytes().substr(0, 40)).find("truncated while reading hot sketch slots"), std::string::npos);
  HotSketch other(7, 3, 5, 2.0f);
  BinaryReader in(w.bytes().data(), w.bytes().size(), "model.ckpt");
  EXPECT_NE(error_of([&] { other.load(in); }).find("expected 7 x 3 for 5 (spec differs)"), std::string::npos);
}

// One-hot bags of `ids`.
struct OneHot {
  std::vector<Id> ids;
  std::vector<uint32_t> offsets;
  explicit OneHot(std::vector<Id> v) : ids(std::move(v)), offsets(ids.size() + 1) {
    std::iota(offsets.begin(), offsets.end(), 0u);
  }
  BagBatch view() const { return {ids, offsets, {}}; }
};

void step(EmbeddingTable& t, const std::vector<Id>& ids, float lr, uint64_t seed = 1) {
  const OneHot bags(ids);
  Rng rng(seed);
  const auto g = testing::random_vector(rng, ids.size() * t.dim());
  const BagBatch view = bags.view();
  ConstMatrixView grad{g.data(), static_cast<int64_t>(ids.size()), t.dim(), t.dim()};
  t.backward(std::span(&view, 1), Pooling::Sum, std::span(&grad, 1), lr);
}

// Whether v has a row of its own, by behaviour: a step on v alone changes v's vector and no
// other value's (a cold value would move the cold rows it shares with others).
bool has_own_row(EmbeddingTable& t, Id v, int64_t n) {
  std::vector<Id> all(n);
  std::iota(all.begin(), all.end(), Id{0});
  const auto before = vectors_of(t, all);
  BinaryWriter saved;
  t.save(saved);
  step(t, {v}, 0.5f, 99);
  const auto after = vectors_of(t, all);
  BinaryReader r(saved.bytes().data(), saved.bytes().size(), "test");
  t.load(r);  // undo the probe step (and what it did to the sketch)
  bool moved = false, others_moved = false;
  for (int64_t i = 0; i < n; ++i) {
    const bool differs =
        !std::equal(before.begin() + i * t.dim(), before.begin() + (i + 1) * t.dim(), after.begin() + i * t.dim());
    (static_cast<Id>(i) == v ? moved : others_moved) |= differs;
  }
  EXPECT_TRUE(moved) << "value " << v << " did not move";
  return moved && !others_moved;
}

// A heavy hitter planted at a high id (rare by prepare's numbering) in a Zipf stream over
// shuffled ids: the sketch gives it a hot row; prepare's counts (ids 1..rows) do not.
TEST(HotFindSketch, PlantedHeavyHitterInAZipfStreamGetsAHotRow) {
  const int64_t n = 3000, d = 4;
  const Id planted = 2987;
  std::vector<Id> perm(n - 1);
  std::iota(perm.begin(), perm.end(), Id{1});
  Rng shuffle(8);
  for (size_t i = perm.size() - 1; i > 0; --i) std::swap(perm[i], perm[shuffle.below(i + 1)]);
  for (const std::string find : {"sketch", "counts"}) {
    const std::string spec = "hot:rows=16,cold=hash,cold.rows=3,find=" + find;
    auto t = make_table(spec, {d, {n}});
    t->init(1);
    t->set_optimizer({OptimizerKind::Adagrad});
    Rng rng(5);
    const ZipfSampler zipf(n - 1, 1.05);
    for (int batch = 0; batch < 60; ++batch) {
      std::vector<Id> ids;
      for (int i = 0; i < 128; ++i) {
        // 4% the planted value (about the traffic of Zipf rank 5 here); the rest Zipf over
        // shuffled ids, the planted one excluded.
        Id v = rng.uniform() < 0.04 ? planted : perm[zipf.sample(rng) - 1];
        ids.push_back(v);
      }
      step(*t, ids, 0.05f, batch);
    }
    EXPECT_EQ(has_own_row(*t, planted, n), find == "sketch") << spec;
    // The two most frequent values of the stream are hot with the sketch too.
    if (find == "sketch") {
      EXPECT_TRUE(has_own_row(*t, perm[0], n));
      EXPECT_TRUE(has_own_row(*t, perm[1], n));
    }
  }
}

// A value promoted in a backward() starts from its cold vector as it stands after that
// update: with lr 0 the table's output for it does not change; afterwards it has a row of its
// own and its optimizer state restarts.
TEST(HotFindSketch, PromotionCopiesTheColdVector) {
  const int64_t n = 50, d = 6;
  for (const std::string cold : {"qr,cold.collisions=5", "hash,cold.rows=4"}) {
    const std::string spec = "hot:rows=3,find=sketch,threshold=2,cold=" + cold;
    auto t = make_table(spec, {d, {n}});
    t->init(2);
    t->set_optimizer({OptimizerKind::Adagrad, 1e-10f, 0.25f});
    step(*t, {7, 8, 9}, 0.1f);  // counts 1: nothing is hot yet
    EXPECT_FALSE(has_own_row(*t, 7, n)) << spec;
    const auto before = vectors_of(*t, {7});
    step(*t, {7, 30}, 0.0f);  // 7 reaches the threshold
    EXPECT_EQ(vectors_of(*t, {7}), before) << spec;
    EXPECT_TRUE(has_own_row(*t, 7, n)) << spec;
    // Its row (row 0: the first given) has the initial accumulator as its Adagrad state.
    const auto block = t->blocks().at(0);
    for (int64_t j = 0; j < d; ++j) EXPECT_EQ(block.state[j], 0.25f) << spec;
    for (int64_t j = 0; j < d; ++j) EXPECT_EQ(block.weights[j], before[j]) << spec;
  }
}

using testing::probe_loss;

// Once values are hot (the grids of method_cases.h start from an empty sketch), the SGD step
// equals the finite-difference gradient in both tables, multi-hot, weighted, sum and mean.
TEST(HotFindSketch, SgdUpdateEqualsFiniteDifferenceGradientWithHotValues) {
  const int64_t n = 60, d = 5;
  // One bucket that holds every value: nothing is evicted, so the hot set is known.
  const std::string spec = "hot:rows=10,cold=qr,cold.collisions=4,find=sketch,buckets=1,slots=64,threshold=3";
  for (const Pooling pooling : {Pooling::Sum, Pooling::Mean}) {
    for (const bool weighted : {false, true}) {
      auto t = make_table(spec, {d, {n}});
      t->init(3);
      t->set_optimizer({OptimizerKind::Sgd});
      std::vector<Id> warm;
      for (int k = 0; k < 3; ++k) {
        for (Id v = 20; v < 30; ++v) warm.push_back(v);
      }
      step(*t, warm, 0.0f);  // values 20..29 take the 10 rows
      for (Id v : {Id{20}, Id{29}}) ASSERT_TRUE(has_own_row(*t, v, n));
      // Bags mixing hot values (repeated) and cold values (each once: no promotion).
      testing::OwnedBags bags;
      Rng rng(pooling == Pooling::Sum ? 1 : 2);
      Id next_cold = 31;
      for (int b = 0; b < 10; ++b) {
        const int len = static_cast<int>(rng.below(4));
        for (int k = 0; k < len; ++k) {
          bags.ids.push_back(k % 2 == 0 ? static_cast<Id>(20 + rng.below(10)) : next_cold++);
          if (weighted) bags.weights.push_back(rng.uniform(0.5f, 1.5f));
        }
        bags.offsets.push_back(static_cast<uint32_t>(bags.ids.size()));
      }
      ASSERT_LT(next_cold, n);
      const BagBatch view = bags.view();
      const auto r = testing::random_vector(rng, 10 * d);
      auto blocks = t->parameter_blocks();
      std::vector<std::vector<float>> before;
      std::vector<std::vector<double>> fd;
      for (auto& block : blocks) {
        before.emplace_back(block.begin(), block.end());
        fd.emplace_back(block.size());
        for (size_t i = 0; i < block.size(); ++i) {
          fd.back()[i] = testing::finite_difference([&] { return probe_loss(*t, view, pooling, r); }, block[i], 1e-2);
        }
      }
      ConstMatrixView grad{r.data(), 10, d, d};
      t->backward(std::span(&view, 1), pooling, std::span(&grad, 1), 1.0f);
      for (size_t p = 0; p < blocks.size(); ++p) {
        int touched = 0;
        for (size_t i = 0; i < before[p].size(); ++i) {
          const double g = static_cast<double>(before[p][i]) - blocks[p][i];
          ASSERT_TRUE(testing::close(g, fd[p][i], 2e-3, 2e-4)) << "block " << p << " parameter " << i;
          touched += g != 0;
        }
        EXPECT_GT(touched, 0) << "block " << p;
      }
    }
  }
}

// The sketch's bytes are part of the table's parameter bytes, and the budget split pays for
// them: fitted specs never exceed the budget, one more hot row (with its sketch share) would,
// and the built table has the fitted bytes exactly.
TEST(HotFindSketch, BytesIncludeTheSketchAndBudgetsHoldToTheByte) {
  const int64_t n = 1000, d = 16;
  const std::string spec = "hot:rows=40,cold.rows=50,find=sketch";
  // 40 rows of 64 bytes, 50 cold rows, ceil(2 * 40 / 4) = 20 buckets of 4 slots of 16 bytes,
  // 40 free-row entries of 4 bytes.
  const int64_t expected = 40 * 64 + 50 * 64 + 20 * 4 * 16 + 40 * 4;
  EXPECT_EQ(make_table(spec, {d, {n}})->parameter_bytes(), expected);
  EXPECT_EQ(spec_parameter_bytes(Spec::parse(spec), {d, {n}}), expected);
  EXPECT_EQ(make_table("hot:rows=40,cold.rows=50,find=sketch,slots=8,buckets=3", {d, {n}})->parameter_bytes(),
            40 * 64 + 50 * 64 + 3 * 8 * 16 + 40 * 4);
  EXPECT_EQ(make_table("hot:rows=40,cold.rows=50", {d, {n}})->parameter_bytes(), 40 * 64 + 50 * 64);

  Rng rng(6);
  int fitted = 0;
  for (int trial = 0; trial < 30; ++trial) {
    const auto card = static_cast<int64_t>(std::exp(rng.uniform() * std::log(2e5))) + 300;
    const TableShape shape{int64_t{4} << rng.below(3), {card}};
    for (const std::string s :
         {"hot:find=sketch", "hot:find=sketch,slots=2,cold=qr", "hot:find=sketch,buckets=7,cold=robe",
          "hot:find=sketch,share=0.8,slots=16,cold=memcom"}) {
      const Spec unsized = Spec::parse(s);
      for (double ratio : {4.0, 16.0, 64.0, 256.0}) {
        const auto budget = static_cast<int64_t>(static_cast<double>(card * shape.dim * 4) / ratio);
        if (budget < spec_min_bytes(unsized, shape)) continue;
        const Spec sized = fit_spec_to_budget(unsized, shape, budget);
        const int64_t bytes = spec_parameter_bytes(sized, shape);
        ASSERT_LE(bytes, budget) << sized.str();
        EXPECT_EQ(make_table(sized.str(), shape)->parameter_bytes(), bytes) << sized.str();
        const int64_t rows = sized.get_int("rows", 0);
        if (rows < card - 1) {
          Spec more = sized;
          more.set("rows", std::to_string(rows + 1));
          EXPECT_GT(spec_parameter_bytes(more, shape), budget) << sized.str() << " leaves a hot row unused";
        }
        ++fitted;
      }
    }
  }
  EXPECT_GT(fitted, 200);
  // The planner over several features: to the byte, the built tables' bytes are the plan's.
  const std::vector<FeatureInfo> features = {{"small", 50}, {"mid", 20000}, {"big", 300000}};
  for (double ratio : {4.0, 16.0, 64.0}) {
    const MemoryPlan plan = plan_memory("hot:find=sketch,cold=qr", features, 16, Budget::ratio(ratio));
    EXPECT_LE(plan.parameter_bytes(), plan.budget_bytes) << ratio;
    for (const auto& t : plan.tables) {
      TableShape shape{16, {}};
      for (int f : t.features) shape.cardinalities.push_back(features[f].cardinality);
      EXPECT_EQ(make_table(t.spec, shape)->parameter_bytes(), t.parameter_bytes) << t.spec;
    }
  }
}

// The sketch's state is saved with the table: a loaded copy trains on exactly as the original
// (promotions and demotions included).
TEST(HotFindSketch, SaveLoadKeepsTheHotSet) {
  const int64_t n = 400, d = 4;
  const std::string spec = "hot:rows=6,cold=hash,cold.rows=5,find=sketch,slots=2,threshold=2";
  auto a = make_table(spec, {d, {n}});
  a->init(1);
  a->set_optimizer({OptimizerKind::RowwiseAdagrad});
  Rng rng(2);
  const ZipfSampler zipf(n, 1.0);
  auto batch = [&] {
    std::vector<Id> ids(64);
    for (Id& v : ids) v = static_cast<Id>(zipf.sample(rng) - 1);
    return ids;
  };
  for (int i = 0; i < 10; ++i) step(*a, batch(), 0.1f, i);
  BinaryWriter w;
  a->save(w);
  auto b = make_table(spec, {d, {n}});
  b->set_optimizer({OptimizerKind::RowwiseAdagrad});
  BinaryReader r(w.bytes().data(), w.bytes().size(), "test");
  b->load(r);
  r.expect_end();
  std::vector<Id> all(n);
  std::iota(all.begin(), all.end(), Id{0});
  for (int i = 10; i < 30; ++i) {
    const auto ids = batch();
    step(*a, ids, 0.1f, i);
    step(*b, ids, 0.1f, i);
    ASSERT_EQ(vectors_of(*a, all), vectors_of(*b, all)) << "after step " << i;
  }
}

// What an exported model carries (inference.h): the weights of blocks() and the serving data,
// which holds the sketch (which values are hot, in which rows). A table rebuilt from them
// gives the trained table's vectors; a sketch of another size is refused.
TEST(HotFindSketch, ServingDataCarriesTheHotSet) {
  const int64_t n = 300, d = 4;
  const std::string spec = "hot:rows=8,cold=qr,cold.collisions=6,find=sketch,threshold=2";
  auto a = make_table(spec, {d, {n}});
  a->init(4);
  a->set_optimizer({OptimizerKind::Adagrad});
  Rng rng(9);
  const ZipfSampler zipf(n, 1.1);
  for (int i = 0; i < 12; ++i) {
    std::vector<Id> ids(32);
    for (Id& v : ids) v = static_cast<Id>(zipf.sample(rng) - 1);
    step(*a, ids, 0.1f, i);
  }
  BinaryWriter serving;
  a->save_serving_data(serving);
  auto b = make_table(spec, {d, {n}});
  const auto from = a->parameter_blocks();
  auto to = b->parameter_blocks();
  ASSERT_EQ(from.size(), to.size());
  for (size_t p = 0; p < from.size(); ++p) std::copy(from[p].begin(), from[p].end(), to[p].begin());
  BinaryReader r(serving.bytes().data(), serving.bytes().size(), "model.cem");
  b->load_serving_data(r);
  r.expect_end();
  std::vector<Id> all(n);
  std::iota(all.begin(), all.end(), Id{0});
  EXPECT_EQ(vectors_of(*a, all), vectors_of(*b, all));
  auto c = make_table("hot:rows=8,cold=qr,cold.collisions=6,find=sketch,threshold=2,slots=2", {d, {n}});
  BinaryReader r2(serving.bytes().data(), serving.bytes().size(), "model.cem");
  EXPECT_NE(error_of([&] { c->load_serving_data(r2); }).find("model.cem: hot sketch of 4 buckets x 4 slots"),
            std::string::npos);
}

TEST(HotFindSketch, SpecErrorsNameTheField) {
  const TableShape shape{8, {100}};
  auto error = [&](const std::string& spec) { return error_of([&] { make_table(spec, shape); }); };
  EXPECT_NE(error("hot:rows=3,cold.rows=4,find=sketch,slots=0").find("slots must be in [1, 64], got 0"),
            std::string::npos);
  EXPECT_NE(error("hot:rows=3,cold.rows=4,find=sketch,slots=65").find("slots must be in [1, 64], got 65"),
            std::string::npos);
  EXPECT_NE(error("hot:rows=3,cold.rows=4,find=sketch,slots=four").find("'slots=four' is not an integer"),
            std::string::npos);
  EXPECT_NE(error("hot:rows=3,cold.rows=4,find=sketch,buckets=0").find("buckets must be in [1, "), std::string::npos);
  EXPECT_NE(error("hot:rows=3,cold.rows=4,find=sketch,threshold=-1").find("threshold must be a number >= 0"),
            std::string::npos);
  EXPECT_NE(error("hot:rows=3,cold.rows=4,find=sketch,score=norm").find("score must be count or grad, got 'norm'"),
            std::string::npos);
  EXPECT_NE(error("hot:rows=3,cold.rows=4,find=guess").find("find must be counts or sketch, got 'guess'"),
            std::string::npos);
  EXPECT_NE(error("hot:rows=3,cold.rows=4,slots=4").find("slots applies to find=sketch only (find is counts)"),
            std::string::npos);
  // The cold table's size missing, or its method unknown: named.
  EXPECT_NE(error("hot:rows=3,cold=qr,find=sketch").find("spec 'hot:rows=3,cold=qr,find=sketch' has no size"),
            std::string::npos);
  EXPECT_NE(error("hot:rows=3,cold=,cold.rows=4,find=sketch").find("'cold=' is not key=value"), std::string::npos);
  EXPECT_NE(error("hot:rows=3,cold=quux,find=sketch").find("quux"), std::string::npos);
  EXPECT_NE(error_of([] {
              fit_spec_to_budget(Spec::parse("hot:find=sketch,cold=qr"), {8, {100}}, 100);
            }).find("its hot rows, its sketch and the smallest cold table"),
            std::string::npos);
  // An outside optimizer cannot follow rows that change owner inside backward().
  auto t = make_table("hot:rows=3,cold.rows=4,find=sketch", shape);
  EXPECT_NE(error_of([&] { t->set_optimizer({OptimizerKind::Gradient}); }).find("optimizer kind 'gradient'"),
            std::string::npos);
  EXPECT_NO_THROW(make_table("hot:rows=3,cold.rows=4", shape)->set_optimizer({OptimizerKind::Gradient}));
}

}  // namespace
}  // namespace cembed
