// The one table of TrainConfig's settings (visit_train_settings): every setting round-trips
// through JSON, the JSON keys stay those of earlier checkpoints and reports, the resume check
// names the setting that differs, and the layer lists follow TorchRec's convention.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <type_traits>

#include "cembed/train_config.h"
#include "test_helpers.h"
#include "util/check.h"

namespace cembed {
namespace {

// A value unlike the default for each setting (inside its range), set by option or key.
void set_unlike_default(const Setting& s, auto& field) {
  using T = std::decay_t<decltype(field)>;
  if constexpr (std::is_same_v<T, std::string>) {
    field = "x-" + std::string(s.key);
  } else if constexpr (std::is_same_v<T, bool>) {
    field = !field;
  } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
    field = {7, 3};
  } else if constexpr (std::is_same_v<T, Pooling>) {
    field = Pooling::Mean;
  } else if constexpr (std::is_same_v<T, Budget>) {
    field = Budget::ratio(12.5);
  } else if constexpr (std::is_floating_point_v<T>) {
    field = static_cast<T>(0.375);
  } else {
    field = static_cast<T>(field == 3 ? 5 : 3);
  }
}

std::string key_of(const Setting& s) { return std::string(s.key.empty() ? s.option : s.key); }

// The keys the hand-written to_json() had: checkpoints and reports keep exactly these.
const std::set<std::string> kJsonKeys = {
    "train_path",
    "valid_path",
    "test_path",
    "model",
    "embedding",
    "budget_kind",
    "budget_value",
    "small_threshold",
    "optimizer",
    "table_optimizer",
    "lr",
    "warmup_steps",
    "decay_start",
    "decay_steps",
    "min_lr",
    "batch_size",
    "epochs",
    "max_steps",
    "threads",
    "seed",
    "shuffle",
    "eval_every",
    "eval_batch_size",
    "checkpoint_path",
    "checkpoint_every",
    "resume_path",
    "report_path",
    "export_initial_dir",
    "progress",
    "ranking",
    "ranking_k",
    "ranking_negatives",
    "allocation",        // since the frequency rule; files without it read as the default
    "shards",            // since data-parallel training; files without them read as 0 (the job's rank count)
    "exchange",          // and auto
    "fixed_threads",     // since the thread governor; files without it read as false
    "dense_precision"};  // since the bf16 path; files without it read as fp32

TEST(TrainConfigTable, JsonKeysAreThoseOfEarlierCheckpoints) {
  const nlohmann::json j = TrainConfig{}.to_json();
  std::set<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.insert(k);
  EXPECT_EQ(keys, kJsonKeys);
  std::set<std::string> model;
  for (const auto& [k, v] : j["model"].items()) model.insert(k);
  EXPECT_EQ(model, (std::set<std::string>{"num_dense", "dim", "bottom_hidden", "top_hidden", "pooling"}));
  // Values as the hand-written to_json() wrote them (lr a float widened to double).
  EXPECT_EQ(j["budget_kind"], "none");
  EXPECT_EQ(j["model"]["pooling"], "sum");
  EXPECT_EQ(j["lr"].get<double>(), static_cast<double>(0.1f));
  EXPECT_EQ(j["model"]["bottom_hidden"], nlohmann::json({512, 256, 64}));
  EXPECT_TRUE(j["seed"].is_number_unsigned());
}

TEST(TrainConfigTable, EverySettingRoundTripsThroughJson) {
  int settings = 0;
  const TrainConfig defaults;
  visit_train_settings(defaults, [&](const Setting& s, const auto&) {
    if (s.key.empty()) return;
    ++settings;
    TrainConfig c;
    visit_train_settings(c, [&](const Setting& t, auto& f) {
      if (t.key == s.key) set_unlike_default(t, f);
    });
    const nlohmann::json j = c.to_json();
    EXPECT_NE(j, TrainConfig{}.to_json()) << key_of(s) << " is not written";
    const TrainConfig back = TrainConfig::from_json(j);
    EXPECT_EQ(back.to_json(), j) << key_of(s) << " is not read back";
  });
  EXPECT_GE(settings, 35);
}

TEST(TrainConfigTable, OlderFilesLackOnlyTheSettingsThatDefault) {
  nlohmann::json j = TrainConfig{}.to_json();
  for (const char* k : {"export_initial_dir", "ranking", "ranking_k", "ranking_negatives"}) j.erase(k);
  EXPECT_EQ(TrainConfig::from_json(j).to_json(), TrainConfig{}.to_json());
  j.erase("batch_size");
  EXPECT_THROW(TrainConfig::from_json(j), nlohmann::json::out_of_range);
  nlohmann::json m = TrainConfig{}.to_json();
  m["model"].erase("dim");
  EXPECT_THROW(TrainConfig::from_json(m), nlohmann::json::out_of_range);
}

TEST(TrainConfigTable, TheResumeCheckNamesTheSettingThatDiffers) {
  int identity = 0;
  const TrainConfig defaults;
  visit_train_settings(defaults, [&](const Setting& s, const auto&) {
    TrainConfig changed;
    visit_train_settings(changed, [&](const Setting& t, auto& f) {
      if (t.key == s.key && t.option == s.option) set_unlike_default(t, f);
    });
    const auto d = first_identity_difference(TrainConfig{}, changed);
    if (!s.has(kRoleIdentity)) {
      EXPECT_FALSE(d.has_value()) << key_of(s) << " may change on resume";
      return;
    }
    ++identity;
    ASSERT_TRUE(d.has_value()) << key_of(s) << " is not compared";
    if (!s.option.empty() && s.option != "budget") {
      EXPECT_EQ(d->name, "--" + std::string(s.option));
    }
    EXPECT_NE(d->first, d->second);
  });
  EXPECT_GE(identity, 15);
  TrainConfig a, b;
  b.model.dim = 8;
  const auto d = first_identity_difference(a, b);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->name, "--dim");
  EXPECT_EQ(d->first, "16");
  EXPECT_EQ(d->second, "8");
  b = a;
  b.model.bottom_hidden = {32};
  EXPECT_EQ(first_identity_difference(a, b)->second, "32,16");  // as --bottom is written
  b = a;
  b.budget = Budget::ratio(4);
  EXPECT_NE(first_identity_difference(a, b)->name.find("--compression"), std::string::npos);
}

TEST(TrainConfigTable, LayerListsFollowTorchRecsConvention) {
  EXPECT_EQ(hidden_sizes(LayerList::Bottom, {512, 256, 64, 16}, 16), (std::vector<int64_t>{512, 256, 64}));
  EXPECT_EQ(hidden_sizes(LayerList::Bottom, {16}, 16), (std::vector<int64_t>{}));
  EXPECT_EQ(hidden_sizes(LayerList::Top, {512, 256, 1}, 16), (std::vector<int64_t>{512, 256}));
  EXPECT_EQ(layer_sizes(LayerList::Bottom, {512, 256, 64}, 16), (std::vector<int64_t>{512, 256, 64, 16}));
  EXPECT_EQ(layer_sizes(LayerList::Top, {512, 256}, 16), (std::vector<int64_t>{512, 256, 1}));
  const std::string bottom = testing::error_of([] { hidden_sizes(LayerList::Bottom, {512, 256, 64}, 16); });
  EXPECT_NE(bottom.find("--bottom 512,256,64: the last size is the bottom MLP's output and must equal --dim 16 "
                        "(TorchRec's dense_arch_layer_sizes); write --bottom 512,256,64,16"),
            std::string::npos)
      << bottom;
  const std::string top = testing::error_of([] { hidden_sizes(LayerList::Top, {512, 256}, 16); });
  EXPECT_NE(top.find("must be 1"), std::string::npos) << top;
  EXPECT_NE(top.find("write --top 512,256,1"), std::string::npos) << top;
}

TEST(TrainConfigTable, TheResumeCheckComparesExactValuesNotTheirRoundedText) {
  TrainConfig a, b;
  a.budget = Budget::ratio(3.1415926);
  b.budget = Budget::ratio(3.14159);  // the same text in "{:g}x less than full"
  ASSERT_EQ(a.budget.str(), b.budget.str());
  const auto d = first_identity_difference(a, b);
  ASSERT_TRUE(d.has_value());
  EXPECT_NE(d->first, d->second);
  EXPECT_NE(d->first.find("3.1415926"), std::string::npos) << d->first;
  b.budget = a.budget;
  EXPECT_FALSE(first_identity_difference(a, b).has_value());
}

TEST(TrainConfigTable, SweepResultsRecordEverySettingWithAnEffectExceptThoseTheSweepVaries) {
  TrainConfig c;
  const nlohmann::json all = c.to_json();
  const nlohmann::json kept = sweep_identity(c, {"embedding", "budget", "seed"});
  // The keys results.json has always recorded: to_json() without these.
  std::set<std::string> dropped = {"embedding",       "budget_kind",      "budget_value", "seed",
                                   "threads",         "fixed_threads",    "progress",     "report_path",
                                   "checkpoint_path", "checkpoint_every", "resume_path",  "export_initial_dir"};
  for (const auto& [key, value] : all.items()) {
    EXPECT_EQ(kept.contains(key), dropped.count(key) == 0) << key;
    if (kept.contains(key)) {
      EXPECT_EQ(kept[key], value) << key;
    }
  }
  TrainConfig other = c;
  other.threads = 1;
  other.report_path = "elsewhere.json";
  other.seed = 7;
  EXPECT_EQ(sweep_identity(other, {"embedding", "budget", "seed"}), kept);
  other.lr.base = 0.5;
  EXPECT_NE(sweep_identity(other, {"embedding", "budget", "seed"}), kept);
}

}  // namespace
}  // namespace cembed
