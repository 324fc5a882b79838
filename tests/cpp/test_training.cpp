// Training end to end on tiny synthetic data: determinism, checkpoints and resume.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cembed/synthetic.h"
#include "cembed/trainer.h"
#include "method_cases.h"
#include "test_helpers.h"
#include "train/train_run.h"
#include "util/binary_io.h"
#include "util/check.h"
#include "util/file_format.h"

namespace cembed {
namespace {

namespace fs = std::filesystem;

const std::string& data_dir() {
  static const std::string dir = [] {
    const std::string d = (fs::temp_directory_path() / ("cembed_train_test_" + std::to_string(::getpid()))).string();
    SyntheticConfig c;
    c.train_rows = 3000;
    c.test_rows = 1000;
    c.scale = 0.0005;
    write_synthetic(c, d, 2);
    return d;
  }();
  return dir;
}

TrainConfig small_config() {
  TrainConfig c;
  c.train_path = data_dir() + "/train.cds";
  c.test_path = data_dir() + "/test.cds";
  c.model.dim = 8;
  c.model.bottom_hidden = {16};
  c.model.top_hidden = {16};
  c.embedding = "hash";
  c.budget = Budget::ratio(4);
  c.optimizer = "adagrad";
  c.table_optimizer = "rowwise_adagrad";
  c.lr.base = 0.05f;
  c.batch_size = 64;
  c.epochs = 2;
  c.threads = 1;
  c.progress = false;
  return c;
}

// Where the models of two checkpoints differ, in words (empty when they are bitwise equal):
// the first parameter block that differs and by how much, else the first differing byte of
// the rest of the saved model (optimizer state).
std::string model_difference(const std::string& checkpoint_a, const std::string& checkpoint_b) {
  const auto a = load_checkpoint(checkpoint_a), b = load_checkpoint(checkpoint_b);
  auto blocks = [](Dlrm& m) {
    std::vector<testing::NamedBlock> out;
    auto add_mlp = [&](const std::string& name, Mlp& mlp) {
      const auto params = mlp.parameters();
      for (size_t i = 0; i < params.size(); ++i) {
        out.push_back({name + " layer " + std::to_string(i / 2) + (i % 2 ? " bias" : " weight"), params[i]});
      }
    };
    add_mlp("bottom MLP", m.bottom());
    add_mlp("top MLP", m.top());
    for (int t = 0; t < m.embeddings().num_tables(); ++t) {
      auto& table = m.embeddings().table(t);
      const auto params = table.parameter_blocks();
      for (size_t i = 0; i < params.size(); ++i) {
        out.push_back({"table " + std::to_string(t) + " (" + table.spec() + ") block " + std::to_string(i), params[i]});
      }
    }
    return out;
  };
  const std::string params = testing::describe_difference(blocks(*a.model), blocks(*b.model));
  if (!params.empty()) return params;
  BinaryWriter wa, wb;
  a.model->save(wa);
  b.model->save(wb);
  const std::string &x = wa.bytes(), &y = wb.bytes();
  if (x == y) return {};
  const auto at = std::mismatch(x.begin(), x.end(), y.begin(), y.end()).first - x.begin();
  return "parameters equal, saved models (" + std::to_string(x.size()) + " vs " + std::to_string(y.size()) +
         " bytes) differ from byte " + std::to_string(at) + " (optimizer state)";
}

TEST(Training, ResumeEqualsUninterruptedRun) {
  const std::string dir = data_dir();
  TrainConfig full = small_config();
  full.checkpoint_path = dir + "/full.ckpt";
  const auto report_full = train(full);

  // Stop inside the first epoch, then resume to the end; and stop exactly at an epoch end.
  for (int64_t stop : {13, 47}) {
    TrainConfig part = small_config();
    part.max_steps = stop;
    part.checkpoint_path = dir + "/part.ckpt";
    train(part);
    TrainConfig rest = small_config();
    rest.resume_path = dir + "/part.ckpt";
    rest.checkpoint_path = dir + "/resumed.ckpt";
    const auto report_resumed = train(rest);
    EXPECT_EQ(model_difference(full.checkpoint_path, rest.checkpoint_path), "") << "stopped at " << stop;
    EXPECT_EQ(report_full["test"]["auc"], report_resumed["test"]["auc"]);
  }
  EXPECT_GT(report_full["test"]["auc"].get<double>(), 0.55);
}

// The determinism contract of docs/reliability.md for the run `full` (trained already, to
// full.checkpoint_path): stopped after `stop` steps and resumed, and on 2 and 3 threads
// (1, 2 and 3 on a 2-core machine), it trains to the same model. `what` names the run in
// failures; checkpoints go to dir with `prefix`.
void expect_resumes_and_thread_independent(const TrainConfig& full, int64_t stop, const std::string& dir,
                                           const std::string& prefix, const std::string& what) {
  TrainConfig part = full;
  part.max_steps = stop;
  part.checkpoint_path = dir + "/" + prefix + "_part.ckpt";
  train(part);
  TrainConfig rest = full;
  rest.resume_path = part.checkpoint_path;
  rest.checkpoint_path = dir + "/" + prefix + "_rest.ckpt";
  train(rest);
  EXPECT_EQ(model_difference(full.checkpoint_path, rest.checkpoint_path), "") << what << " resumed";
  for (int threads : {2, 3}) {
    TrainConfig more = full;
    more.threads = threads;
    more.fixed_threads = true;  // on every step, whatever else the machine runs
    more.checkpoint_path = dir + "/" + prefix + "_more.ckpt";
    const auto report = train(more);
    // Every step on the fixed count, as the report says.
    EXPECT_EQ(report["train"]["steps_by_threads"].dump(),
              nlohmann::json({{std::to_string(threads), report["train"]["steps"]}}).dump())
        << what;
    EXPECT_EQ(model_difference(full.checkpoint_path, more.checkpoint_path), "")
        << what << " with " << threads << " threads";
  }
}

// Every method trains, resumes to the same model (LMA's signatures travel in the
// checkpoint), and gives the same model for the same seed whatever the thread count (the
// determinism contract of docs/reliability.md: 1, 2 and 3 threads on a 2-core machine).
TEST(Training, EveryMethodResumesAndIsDeterministic) {
  const std::string dir = data_dir();
  for (const testing::MethodCase& c : testing::method_cases(testing::kTrain)) {
    const std::string method = testing::unsized_spec(c.spec);
    auto config = [&] {
      TrainConfig c = small_config();
      c.embedding = method;
      c.epochs = 1;
      if (method == "full") c.budget = Budget::ratio(1);
      return c;
    };
    TrainConfig full = config();
    full.checkpoint_path = dir + "/m_full.ckpt";
    const auto report = train(full);
    EXPECT_GT(report["test"]["auc"].get<double>(), 0.55) << method;
    EXPECT_LE(report["embedding"]["parameter_bytes"].get<int64_t>(), report["plan"]["budget_bytes"].get<int64_t>());
    expect_resumes_and_thread_independent(full, 20, dir, "m", method);
  }
}

// --dense-precision bf16 keeps the contract of docs/reliability.md on one machine: the same
// model whatever the thread count, and a resumed run equals an uninterrupted one. Layers and
// batch are large enough for its GEMMs to run in parallel blocks.
TEST(Training, Bf16ResumesAndIsDeterministic) {
  const std::string dir = data_dir();
  TrainConfig full = small_config();
  full.dense_precision = "bf16";
  full.model.bottom_hidden = {128};
  full.model.top_hidden = {128};
  full.batch_size = 256;
  full.epochs = 1;
  full.checkpoint_path = dir + "/b_full.ckpt";
  const auto report = train(full);
  EXPECT_GT(report["test"]["auc"].get<double>(), 0.55);
  EXPECT_EQ(report["config"]["dense_precision"], "bf16");
  TrainConfig fp32 = full;
  fp32.dense_precision = "fp32";
  fp32.checkpoint_path = dir + "/b_fp32.ckpt";
  train(fp32);
  EXPECT_NE(model_difference(full.checkpoint_path, fp32.checkpoint_path), "") << "bf16 trains another model";
  expect_resumes_and_thread_independent(full, 5, dir, "b", "bf16");
}

TEST(Training, ResumeWithAnotherConfigIsRefused) {
  const std::string dir = data_dir();
  TrainConfig part = small_config();
  part.max_steps = 5;
  part.checkpoint_path = dir + "/cfg.ckpt";
  train(part);
  TrainConfig other = small_config();
  other.lr.base = 0.5f;
  other.resume_path = part.checkpoint_path;
  EXPECT_THROW(train(other), Error);
}

TEST(Training, DamagedCheckpointsAreRefused) {
  const std::string dir = data_dir();
  TrainConfig c = small_config();
  c.max_steps = 3;
  c.checkpoint_path = dir + "/ok.ckpt";
  train(c);
  const auto size = fs::file_size(c.checkpoint_path);
  auto expect_refused = [&](const std::string& path, const std::string& fragment) {
    try {
      load_checkpoint(path);
      FAIL() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  };
  const std::string trunc = dir + "/trunc.ckpt";
  fs::copy_file(c.checkpoint_path, trunc, fs::copy_options::overwrite_existing);
  fs::resize_file(trunc, size / 2);
  expect_refused(trunc, "truncated");
  const std::string altered = dir + "/altered.ckpt";
  fs::copy_file(c.checkpoint_path, altered, fs::copy_options::overwrite_existing);
  {
    std::fstream f(altered, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size / 2));
    f.put('\x55');
  }
  expect_refused(altered, "checksum mismatch");
  expect_refused(dir + "/train.cds", "wrong magic");
  // No temporary file is left behind by the atomic writes.
  for (const auto& entry : fs::directory_iterator(dir)) {
    EXPECT_EQ(entry.path().string().find(".tmp."), std::string::npos) << entry.path();
  }
}

TEST(Training, SameSeedSameReport) {
  TrainConfig c = small_config();
  c.epochs = 1;
  const auto a = train(c), b = train(c);
  EXPECT_EQ(a["test"]["auc"], b["test"]["auc"]);
  EXPECT_EQ(a["test"]["logloss"], b["test"]["logloss"]);
  c.seed = 2;
  const auto other = train(c);
  EXPECT_NE(a["test"]["logloss"], other["test"]["logloss"]);
}

TEST(Training, ReportHasTheDocumentedKeys) {
  TrainConfig c = small_config();
  c.epochs = 1;
  c.report_path = data_dir() + "/report.json";
  train(c);
  std::ifstream in(c.report_path);
  const auto r = nlohmann::json::parse(in);
  for (const char* key :
       {"/test/auc", "/test/logloss", "/embedding/parameter_bytes", "/embedding/optimizer_bytes",
        "/train/samples_per_second", "/train/steady_samples_per_second", "/train/steady_after_steps", "/config/lr",
        "/plan/tables", "/memory/peak_rss_bytes", "/build/arch", "/build/gemm", "/build/bf16_gemm"}) {
    EXPECT_TRUE(r.contains(nlohmann::json::json_pointer(key))) << key;
  }
  // The warm-up is the first kRateWarmupSteps steps; the steady rate covers the steps after it.
  EXPECT_EQ(r["train"]["steady_after_steps"], train_run::kRateWarmupSteps);
  ASSERT_GT(r["train"]["steps"].get<int64_t>(), train_run::kRateWarmupSteps);
  EXPECT_GT(r["train"]["steady_samples_per_second"].get<double>(), 0.0);
  // Row-wise Adagrad: one float per table row.
  int64_t rows = 0;
  for (const auto& t : r["plan"]["tables"]) rows += t["parameter_bytes"].get<int64_t>() / (8 * 4);
  EXPECT_EQ(r["embedding"]["optimizer_bytes"].get<int64_t>(), rows * 4);
}

// A run no longer than the warm-up has no steady rate: null, not a rate of zero steps.
TEST(Training, RunWithinTheWarmupHasNoSteadyRate) {
  TrainConfig c = small_config();
  c.max_steps = train_run::kRateWarmupSteps - 1;
  c.report_path = data_dir() + "/short_report.json";
  train(c);
  std::ifstream in(c.report_path);
  const auto r = nlohmann::json::parse(in);
  EXPECT_EQ(r["train"]["steps"], train_run::kRateWarmupSteps - 1);
  EXPECT_EQ(r["train"]["steady_after_steps"], train_run::kRateWarmupSteps - 1);
  EXPECT_TRUE(r["train"]["steady_samples_per_second"].is_null()) << r["train"]["steady_samples_per_second"];
  EXPECT_GT(r["train"]["samples_per_second"].get<double>(), 0.0);
}

}  // namespace
}  // namespace cembed
