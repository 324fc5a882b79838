// Settings, outputs, memory and data identities checked before a run starts
// (docs/reliability.md lists which test checks which guarantee).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <type_traits>

#include "cembed/dataset.h"
#include "cembed/ranges.h"
#include "cembed/ranking.h"
#include "cembed/synthetic.h"
#include "cembed/trainer.h"
#include "test_helpers.h"
#include "train/machine_memory.h"
#include "util/check.h"
#include "util/output_check.h"

namespace cembed {
namespace {

namespace fs = std::filesystem;

#define EXPECT_ERROR_HAS(expr, fragment)                                         \
  do {                                                                           \
    const std::string message_ = testing::error_of([&] { expr; });               \
    EXPECT_NE(message_.find(fragment), std::string::npos)                        \
        << #expr << " gave '" << message_ << "', expected '" << fragment << "'"; \
  } while (0)

// Two synthetic datasets of the same shape (feature count and cardinalities) whose value
// ids mean different things (another generator seed): another vocabulary.
struct Data {
  std::string dir, other;
};
const Data& data() {
  static const Data d = [] {
    Data out;
    out.dir = (fs::temp_directory_path() / ("cembed_flags_test_" + std::to_string(::getpid()))).string();
    out.other = out.dir + "/other";
    SyntheticConfig c;
    c.train_rows = 2000;
    c.test_rows = 500;
    c.scale = 0.0005;
    write_synthetic(c, out.dir, 2);
    c.seed = 43;
    write_synthetic(c, out.other, 2);
    return out;
  }();
  return d;
}

TrainConfig small_config() {
  TrainConfig c;
  c.train_path = data().dir + "/train.cds";
  c.test_path = data().dir + "/test.cds";
  c.model.dim = 4;
  c.model.bottom_hidden = {8};
  c.model.top_hidden = {8};
  c.embedding = "hash";
  c.budget = Budget::ratio(4);
  c.batch_size = 64;
  c.threads = 1;
  c.progress = false;
  return c;
}

TEST(Ranges, DescribeAndContain) {
  EXPECT_EQ(Range({1, 10}).describe(), "1 to 10");
  EXPECT_EQ(Range({0}).describe(), "at least 0");
  EXPECT_EQ(Range({0, 100, true}).describe(), "above 0, at most 100");
  EXPECT_EQ(Range({1, Range::kNoLimit, false, -1, "all epochs"}).describe(), "at least 1, or -1 (all epochs)");
  EXPECT_EQ(Range({0, 1, false, std::nullopt, "", true}).describe(), "at least 0, below 1");
  const Range r{1, 10, false, -1, "none"};
  EXPECT_TRUE(r.contains(-1));
  EXPECT_TRUE(r.contains(1));
  EXPECT_TRUE(r.contains(10));
  EXPECT_FALSE(r.contains(0));
  EXPECT_FALSE(r.contains(11));
  EXPECT_FALSE(r.contains(std::nan("")));
  EXPECT_ERROR_HAS(check_range("threads", 0, ranges::threads()), "threads must be 1 to");
}

// Every numeric setting of TrainConfig (as declared in visit_train_settings): just
// outside each end is refused naming the setting; each end itself (and a special value) is
// accepted by validate().
TEST(Ranges, EveryTrainSettingRefusesOutsideItsRangeAndTakesItsEnds) {
  int settings = 0;
  TrainConfig probe = small_config();
  visit_train_settings(probe, [&](const Setting& s, auto& field) {
    using T = std::decay_t<decltype(field)>;
    if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {
      if (!s.range) return;
      const Range range = *s.range;
      const std::string name(s.option);
      ++settings;
      auto with = [&](double v) {
        TrainConfig c = small_config();
        c.epochs = 1;
        visit_train_settings(c, [&](const Setting& t, auto& f) {
          if constexpr (std::is_arithmetic_v<std::decay_t<decltype(f)>>) {
            if (t.option == s.option) f = static_cast<std::decay_t<decltype(f)>>(v);
          }
        });
        return c;
      };
      const double step = std::is_integral_v<T> ? 1.0 : 1e-3;
      // Below the minimum (or the minimum itself when open), unless that is the special value.
      double below = range.min_open ? range.min : range.min - step;
      if (range.special && below == *range.special) below -= 1;
      EXPECT_ERROR_HAS(with(below).validate(), name + " must be");
      if (range.max != Range::kNoLimit && range.max < 1e12) {
        EXPECT_ERROR_HAS(with(range.max + step).validate(), name + " must be");
        EXPECT_NO_THROW(with(range.max).validate()) << name << " = " << range.max;
      }
      const double lowest = range.min_open ? range.min + step : range.min;
      if (name != "epochs") {
        EXPECT_NO_THROW(with(lowest).validate()) << name << " = " << lowest;
      }
      if (range.special) {
        EXPECT_NO_THROW(with(*range.special).validate()) << name << " = " << *range.special;
      }
    }
  });
  EXPECT_GE(settings, 15);
}

// The values the issue found accepted without a word, each with the message it now gets.
TEST(Ranges, TableOfBadTrainSettings) {
  struct Case {
    std::function<void(TrainConfig&)> set;
    std::string fragment;
  };
  const std::vector<Case> cases = {
      {[](TrainConfig& c) { c.lr.base = -1; }, "lr must be above 0"},
      {[](TrainConfig& c) { c.threads = 0; }, "threads must be 1 to"},
      {[](TrainConfig& c) { c.threads = -1; }, "threads must be 1 to"},
      {[](TrainConfig& c) { c.threads = 100000; }, "threads must be 1 to"},
      {[](TrainConfig& c) { c.lr.warmup_steps = -5; }, "warmup-steps must be at least 0"},
      {[](TrainConfig& c) { c.checkpoint_every = -1; }, "checkpoint-every must be at least 0"},
      {[](TrainConfig& c) { c.small_threshold = -1; }, "small-threshold must be at least 0"},
      {[](TrainConfig& c) { c.max_steps = 0; }, "max-steps must be at least 1, or -1 (all epochs), got 0"},
      {[](TrainConfig& c) { c.ranking_negatives = -5; }, "ranking-negatives must be 0 to"},
      {[](TrainConfig& c) { c.eval_batch_size = 0; }, "eval-batch-size must be 1 to 16777216, got 0"},
      {[](TrainConfig& c) { c.eval_batch_size = -1; }, "eval-batch-size must be 1 to"},
      {[](TrainConfig& c) { c.batch_size = 0; }, "batch-size must be 1 to"},
      {[](TrainConfig& c) { c.model.dim = 0; }, "dim must be 1 to"},
      {[](TrainConfig& c) {
         c.model.bottom_hidden = {8, 0};
       },
       "bottom (each layer) must be 1 to"},
      {[](TrainConfig& c) { c.lr.decay_start = -2; }, "decay-start must be at least 0, or -1 (no decay)"},
      {[](TrainConfig& c) { c.ranking_k = 0; }, "ranking-k must be 1 to"},
      {[](TrainConfig& c) { c.epochs = 0; }, "epochs is 0"},
      {[](TrainConfig& c) { c.budget = Budget::ratio(-4); }, "budget must be positive"},
      {[](TrainConfig& c) { c.optimizer = "adam"; }, "adam"},
  };
  for (const auto& k : cases) {
    TrainConfig c = small_config();
    k.set(c);
    EXPECT_ERROR_HAS(c.validate(), k.fragment);
    // The library entry point refuses the same, before any work.
    EXPECT_ERROR_HAS(train(c), k.fragment);
  }
}

TEST(Ranges, EvaluationAndRankingRefuseBadSizesInTheLibrary) {
  TrainConfig c = small_config();
  c.max_steps = 1;
  c.checkpoint_path = data().dir + "/eval.ckpt";
  train(c);
  LoadedCheckpoint ck = load_checkpoint(c.checkpoint_path);
  const Dataset test = Dataset::open(c.test_path);
  EXPECT_ERROR_HAS(evaluate(*ck.model, test, 0), "eval batch size must be 1 to");  // spun forever before
  EXPECT_ERROR_HAS(evaluate(*ck.model, test, -1), "eval batch size must be 1 to");
  std::vector<const Dataset*> seen = {&test};
  EXPECT_ERROR_HAS(evaluate_ranking(*ck.model, test, seen, {10, -5, 1}), "ranking-negatives must be");
  EXPECT_ERROR_HAS(evaluate_ranking(*ck.model, test, seen, {0, 100, 1}), "ranking-k must be");
  EXPECT_ERROR_HAS(set_num_threads(0), "threads must be");
}

TEST(MemoryCheck, ARunThatCannotFitIsRefusedSayingNeedAndAvailable) {
  TrainConfig c = small_config();
  c.embedding = "hash:rows=1000000000000";  // 1e12 rows (32 TB): 1e10 ended in std::bad_alloc before
  c.budget = Budget::none();
  const std::string e = testing::error_of([&] { train(c); });
  EXPECT_NE(e.find("needs about"), std::string::npos) << e;
  EXPECT_NE(e.find("GiB available"), std::string::npos) << e;

  // The estimate counts parameters, optimizer state and buffers; the check compares.
  const Dataset d = Dataset::open(c.train_path);
  TrainConfig a = small_config();
  a.optimizer = "adagrad";
  a.table_optimizer = "adagrad";
  const MemoryPlan plan = plan_memory("hash", d.schema().sparse, a.model.dim, a.budget);
  const MemoryNeed need = estimate_training_memory(a, plan, d.schema().num_dense(), d.rows(), 500);
  EXPECT_EQ(need.embedding_parameters, plan.parameter_bytes());
  EXPECT_EQ(need.embedding_optimizer, plan.parameter_bytes());
  EXPECT_GT(need.dense, 0);
  EXPECT_GT(need.buffers, a.batch_size * a.model.dim * 4);
  EXPECT_NO_THROW(check_memory_fits(need, need.total()));
  EXPECT_ERROR_HAS(check_memory_fits(need, need.total() - 1), "the machine has");
  EXPECT_GT(available_memory_bytes(), 0);
}

TEST(MemoryPlanFlags, AnExplicitSizeAndABudgetTogetherAreRefused) {
  const std::vector<FeatureInfo> f = {{"a", 1000}, {"b", 5000}};
  EXPECT_ERROR_HAS(plan_memory("hash:rows=10", f, 8, Budget::ratio(4)), "gives its size and a memory budget");
  EXPECT_ERROR_HAS(plan_memory("qr:collisions=4", f, 8, Budget::bytes(1e5)), "give one or the other");
  EXPECT_NO_THROW(plan_memory("hash:rows=10", f, 8, Budget::none()));
  EXPECT_NO_THROW(plan_memory("hash", f, 8, Budget::ratio(4)));
  EXPECT_NO_THROW(plan_memory("full", f, 8, Budget::ratio(1)));
}

TEST(OutputCheck, UnwritableOutputsAreRefusedBeforeTheFirstStep) {
  const std::string dir = data().dir;
  EXPECT_ERROR_HAS(check_file_writable(dir + "/no-such-folder/model.ckpt", "checkpoint"), "does not exist");
  EXPECT_ERROR_HAS(check_file_writable(dir, "report"), "is a folder");
  EXPECT_NO_THROW(check_file_writable(dir + "/fine.json", "report"));
  EXPECT_FALSE(fs::exists(dir + "/fine.json"));
  EXPECT_NO_THROW(check_dir_writable(dir + "/new/deeper", "export-initial"));
  EXPECT_FALSE(fs::exists(dir + "/new"));
  EXPECT_ERROR_HAS(check_dir_writable(dir + "/train.cds/x", "export-initial"), "is not a folder");
  if (::geteuid() != 0) {  // root writes anywhere
    const std::string ro = dir + "/read-only";
    fs::create_directories(ro);
    ::chmod(ro.c_str(), 0555);
    EXPECT_ERROR_HAS(check_file_writable(ro + "/r.json", "report"), "cannot write into the folder");
    ::chmod(ro.c_str(), 0755);
  }
  for (auto set : std::vector<std::function<void(TrainConfig&)>>{
           [&](TrainConfig& c) { c.report_path = dir + "/typo/report.json"; },
           [&](TrainConfig& c) { c.checkpoint_path = dir + "/typo/model.ckpt"; },
           [&](TrainConfig& c) { c.export_initial_dir = dir + "/train.cds/init"; }}) {
    TrainConfig c = small_config();
    c.epochs = 50;  // would take long: the check comes first
    c.checkpoint_path = dir + "/before.ckpt";
    set(c);
    EXPECT_THROW(train(c), Error);
    EXPECT_FALSE(fs::exists(dir + "/before.ckpt"));
  }
}

TEST(DataIdentity, ADatasetIsKnownByItsContentNotItsPath) {
  const std::string a = data().dir + "/train.cds", copy = data().dir + "/copy-of-train.cds";
  fs::copy_file(a, copy, fs::copy_options::overwrite_existing);
  const Dataset d1 = Dataset::open(a), d2 = Dataset::open(copy), other = Dataset::open(data().other + "/train.cds");
  EXPECT_EQ(d1.identity(), d2.identity());
  EXPECT_NE(d1.identity(), other.identity());
  EXPECT_FALSE(d1.schema().vocabulary_id.empty());
  EXPECT_NE(d1.schema().vocabulary_id, other.schema().vocabulary_id);
  // Same shape, another vocabulary: refused, naming both.
  EXPECT_ERROR_HAS(check_same_vocabulary(other, d1.schema().to_json(), "x"), "prepared with another vocabulary");
}

TEST(DataIdentity, ResumeAcceptsTheSameDataByAnotherPathAndRefusesOtherData) {
  const std::string dir = data().dir;
  const std::string copy = dir + "/resume-copy.cds";
  fs::copy_file(dir + "/train.cds", copy, fs::copy_options::overwrite_existing);
  TrainConfig part = small_config();
  part.max_steps = 5;
  part.checkpoint_path = dir + "/id_part.ckpt";
  train(part);

  TrainConfig by_copy = small_config();
  by_copy.max_steps = 10;
  by_copy.train_path = copy;
  by_copy.resume_path = part.checkpoint_path;
  EXPECT_EQ(train(by_copy)["train"]["steps"], 10);

  TrainConfig relative = by_copy;
  relative.train_path = fs::relative(dir + "/train.cds").string();
  EXPECT_EQ(train(relative)["train"]["steps"], 10);

  TrainConfig other = by_copy;
  other.train_path = data().other + "/train.cds";
  other.test_path = data().other + "/test.cds";
  EXPECT_ERROR_HAS(train(other), "trained on other data");
}

TEST(DataIdentity, EvalAndHistoryRefuseAnotherVocabulary) {
  TrainConfig c = small_config();
  c.max_steps = 3;
  c.checkpoint_path = data().dir + "/vocab.ckpt";
  train(c);
  const LoadedCheckpoint ck = load_checkpoint(c.checkpoint_path);
  const Dataset mine = Dataset::open(c.test_path), theirs = Dataset::open(data().other + "/test.cds");
  EXPECT_NO_THROW(check_data_fits_model(ck, mine));
  EXPECT_ERROR_HAS(check_data_fits_model(ck, theirs), "prepared with another vocabulary");
  // A ranking history numbered by another vocabulary is refused before any scoring.
  std::vector<const Dataset*> seen = {&mine, &theirs};
  EXPECT_ERROR_HAS(evaluate_ranking(*ck.model, mine, seen, {}), "prepared with another vocabulary");
  // Training refuses a test set of another vocabulary, as before.
  TrainConfig t = small_config();
  t.test_path = data().other + "/test.cds";
  EXPECT_ERROR_HAS(train(t), "prepared with another vocabulary");
}

}  // namespace
}  // namespace cembed
