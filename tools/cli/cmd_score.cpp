#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cembed/inference.h"
#include "cembed/metrics.h"
#include "commands.h"
#include "util/atomic_file.h"
#include "util/check.h"
#include "util/output_check.h"

namespace cembed::cli {
namespace {

// The dataset's features and dense count must be the model's (its plan's names and
// cardinalities; the training data's vocabulary identity when the model kept it).
void check_fits(const InferenceModel& m, const Dataset& d) {
  const nlohmann::json& train = m.metadata().at("source").at("train_data");
  if (train.is_object() && train.contains("schema")) {
    check_same_vocabulary(d, train["schema"], "the data the model " + m.path() + " was trained on");
    return;
  }
  CEMBED_CHECK(d.schema().num_dense() == m.num_dense() && d.schema().num_sparse() == m.num_features(),
               "{}: {} dense and {} categorical features, the model {} takes {} and {}", d.path(),
               d.schema().num_dense(), d.schema().num_sparse(), m.path(), m.num_dense(), m.num_features());
  for (int f = 0; f < m.num_features(); ++f) {
    CEMBED_CHECK(d.schema().sparse[f].cardinality == m.plan().features[f].cardinality,
                 "{}: feature {} has {} values, the model's {}", d.path(), f, d.schema().sparse[f].cardinality,
                 m.plan().features[f].cardinality);
  }
}

// One "dense... ids..." row of whitespace-separated numbers.
void parse_id_row(const InferenceModel& m, const std::string& line, int64_t number, std::vector<float>& dense,
                  std::vector<Id>& ids) {
  dense.resize(m.num_dense());
  ids.resize(m.num_features());
  const char* p = line.c_str();
  auto field = [&](int64_t i) {
    while (*p == ' ' || *p == '\t') ++p;
    CEMBED_CHECK(*p != '\0', "stdin:{}: {} fields, expected {} dense values then {} ids", number, i, m.num_dense(),
                 m.num_features());
  };
  for (int64_t i = 0; i < m.num_dense(); ++i) {
    field(i);
    char* end = nullptr;
    dense[i] = std::strtof(p, &end);
    CEMBED_CHECK(end != p && std::isfinite(dense[i]), "stdin:{}: dense field {} is not a finite number", number, i + 1);
    p = end;
  }
  for (int f = 0; f < m.num_features(); ++f) {
    field(m.num_dense() + f);
    char* end = nullptr;
    const unsigned long long v = std::strtoull(p, &end, 10);
    CEMBED_CHECK(end != p && *p != '-' && v < (1ull << 32), "stdin:{}: id field {} is not an id", number, f + 1);
    ids[f] = static_cast<Id>(v);
    p = end;
  }
  while (*p == ' ' || *p == '\t' || *p == '\r') ++p;
  CEMBED_CHECK(*p == '\0', "stdin:{}: more than {} fields", number, m.num_dense() + m.num_features());
}

}  // namespace

void add_score_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("score", "score rows with an exported model (.cem): one probability per row");
  auto model = std::make_shared<std::string>();
  auto data = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto input = std::make_shared<std::string>("lines");
  auto batch = std::make_shared<int64_t>(4096);
  auto shared = std::make_shared<TrainOptions>();
  shared->config.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  cmd->add_option("model", *model, "exported model (cembed export)")->required();
  cmd->add_option("--data", *data, "dataset (.cds) to score; without it, rows from stdin");
  cmd->add_option("--input", *input,
                  "stdin rows: lines (the training text format; needs the exported vocabulary) or ids (dense "
                  "values then one id per feature, whitespace-separated)")
      ->check(CLI::IsMember({"lines", "ids"}))
      ->capture_default_str();
  cmd->add_option("--out", *out, "write the probabilities here (default: stdout)");
  add_ranged(*cmd, "batch-size", *batch, ranges::batch_size, "rows scored at once");
  shared->add_only(*cmd, {"threads"});
  cmd->callback([=] {
    check_file_writable(*out, "scores");
    set_num_threads(shared->config.threads);
    const auto m = InferenceModel::open(*model);
    std::string text;
    std::vector<float> probs, all, labels;
    Batch b;
    auto flush = [&] {
      if (b.size == 0) return;
      m->score(b, probs);
      for (float p : probs) fmt::format_to(std::back_inserter(text), "{:.9g}\n", p);
      if (out->empty()) {
        std::fwrite(text.data(), 1, text.size(), stdout);
        text.clear();
      }
      all.insert(all.end(), probs.begin(), probs.end());
    };
    if (!data->empty()) {
      const Dataset d = Dataset::open(*data);
      check_fits(*m, d);
      std::vector<int64_t> rows;
      for (int64_t start = 0; start < d.rows(); start += *batch) {
        rows.clear();
        for (int64_t r = start; r < std::min(d.rows(), start + *batch); ++r) rows.push_back(r);
        gather_batch(d, rows, b);
        labels.insert(labels.end(), b.labels.begin(), b.labels.end());
        flush();
      }
    } else {
      std::string line;
      std::vector<float> dense;
      std::vector<Id> ids;
      m->start_batch(b);
      for (int64_t number = 1; std::getline(std::cin, line); ++number) {
        if (*input == "lines") {
          m->add_line(b, line, "stdin", number);
        } else {
          parse_id_row(*m, line, number, dense, ids);
          m->add_row(b, dense, ids);
        }
        if (b.size == *batch) {
          flush();
          m->start_batch(b);
        }
      }
      flush();
    }
    if (!out->empty()) write_file_atomically(*out, text);
    std::fflush(stdout);
    if (!data->empty() && !all.empty()) {
      fmt::print(stderr, "{}: {} rows  AUC {:.5f}  log loss {:.5f}\n", *data, all.size(), roc_auc(all, labels),
                 log_loss(all, labels));
    }
  });
}

}  // namespace cembed::cli
