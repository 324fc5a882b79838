#include "serve/score_service.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

#include "util/check.h"

namespace cembed {

// One score request: its rows parsed, waiting for the scoring thread.
struct ScoreService::Request {
  std::vector<std::string> lines;  // raw rows: line text (with `line_row` their row numbers)
  std::vector<int64_t> line_row;
  std::vector<float> dense;  // id rows: dense values and ids, row by row
  std::vector<Id> ids;
  std::vector<int64_t> id_row;
  int64_t rows = 0;
  // Filled by the scoring thread.
  std::vector<float> probabilities;
  std::string error;
  bool done = false;
};

namespace {

nlohmann::json error_json(const std::string& message) { return {{"error", message}}; }

// Parses the body into `r` or returns the error (400).
std::string parse_request(const InferenceModel& m, std::string_view body, int64_t max_rows, auto& r) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(body);
  } catch (const nlohmann::json::exception& e) {
    return fmt::format("malformed JSON: {}", e.what());
  }
  if (!j.is_object()) return "the body must be a JSON object {\"rows\": [...]}";
  for (const auto& [key, value] : j.items()) {
    if (key != "rows") return fmt::format("unknown field '{}' (the body has one field: rows)", key);
  }
  if (!j.contains("rows") || !j["rows"].is_array()) return "missing field 'rows' (an array of rows)";
  const auto& rows = j["rows"];
  if (static_cast<int64_t>(rows.size()) > max_rows) {
    return fmt::format("{} rows in one request, at most {}", rows.size(), max_rows);
  }
  const int64_t nd = m.num_dense(), nf = m.num_features();
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& row = rows[i];
    if (!row.is_object()) return fmt::format("row {}: not an object", i);
    for (const auto& [key, value] : row.items()) {
      if (key != "dense" && key != "ids" && key != "line") {
        return fmt::format("row {}: unknown field '{}' (dense and ids, or line)", i, key);
      }
    }
    if (row.contains("line")) {
      if (row.size() != 1) return fmt::format("row {}: 'line' comes alone, without dense or ids", i);
      if (!row["line"].is_string()) return fmt::format("row {}: 'line' must be a string", i);
      if (!m.has_vocabulary()) {
        return fmt::format("row {}: the model was exported without a vocabulary: give dense and ids", i);
      }
      r.lines.push_back(row["line"].get<std::string>());
      r.line_row.push_back(static_cast<int64_t>(i));
      continue;
    }
    if (!row.contains("dense") || !row.contains("ids")) return fmt::format("row {}: needs dense and ids, or line", i);
    const auto& dense = row["dense"];
    const auto& ids = row["ids"];
    if (!dense.is_array() || static_cast<int64_t>(dense.size()) != nd) {
      return fmt::format("row {}: dense must be an array of {} numbers", i, nd);
    }
    if (!ids.is_array() || static_cast<int64_t>(ids.size()) != nf) {
      return fmt::format("row {}: ids must be an array of {} ids", i, nf);
    }
    for (int64_t k = 0; k < nd; ++k) {
      if (!dense[k].is_number()) return fmt::format("row {}: dense[{}] is not a number", i, k);
      const auto x = dense[k].get<double>();
      if (!std::isfinite(x) || std::abs(x) > 3.4e38) return fmt::format("row {}: dense[{}] is not finite", i, k);
      r.dense.push_back(static_cast<float>(x));
    }
    for (int64_t f = 0; f < nf; ++f) {
      const int64_t card = m.plan().features[f].cardinality;
      if (!ids[f].is_number_integer() || ids[f].get<int64_t>() < 0 || ids[f].get<int64_t>() >= card) {
        return fmt::format("row {}: ids[{}] must be an id in [0, {}) (feature '{}'), got {}", i, f, card,
                           m.plan().features[f].name, ids[f].dump());
      }
      r.ids.push_back(static_cast<Id>(ids[f].get<int64_t>()));
    }
    r.id_row.push_back(static_cast<int64_t>(i));
  }
  r.rows = static_cast<int64_t>(rows.size());
  return "";
}

// Drops rows of `b` beyond its first `rows` (a request whose line failed to parse).
void truncate_batch(Batch& b, int64_t rows, int64_t num_dense) {
  b.size = rows;
  b.labels.resize(rows);
  b.dense.resize(rows * num_dense);
  for (size_t f = 0; f < b.ids.size(); ++f) {
    b.offsets[f].resize(rows + 1);
    b.ids[f].resize(b.offsets[f].back());
  }
}

}  // namespace

ScoreService::ScoreService(InferenceModel& model, ScoreServiceConfig config)
    : model_(model), config_(config), worker_([this] { run(); }) {}

ScoreService::~ScoreService() { stop(); }

void ScoreService::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
}

ScoreService::Reply ScoreService::score(std::string_view body) {
  const auto t0 = std::chrono::steady_clock::now();
  Request r;
  const std::string error = parse_request(model_, body, config_.max_rows_per_request, r);
  auto finish = [&](int status, const nlohmann::json& j) {
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    record(ms, status != 200, status == 200 ? r.rows : 0);
    return Reply{status, j.dump()};
  };
  if (!error.empty()) return finish(400, error_json(error));
  {
    std::unique_lock lock(mutex_);
    if (stopping_) return Reply{503, error_json("the server is shutting down").dump()};
    queue_.push_back(&r);
    wake_.notify_all();
    wake_.wait(lock, [&] { return r.done; });
  }
  if (!r.error.empty()) return finish(400, error_json(r.error));
  return finish(200, {{"probabilities", r.probabilities}});
}

void ScoreService::run() {
  Batch batch;
  std::vector<float> probs;
  std::vector<Request*> taken;
  std::vector<float> row_dense;
  while (true) {
    taken.clear();
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left to answer
      int64_t rows = 0;
      // Whole requests, up to max_batch_rows rows (at least one request).
      while (!queue_.empty() && (taken.empty() || rows + queue_.front()->rows <= config_.max_batch_rows)) {
        rows += queue_.front()->rows;
        taken.push_back(queue_.front());
        queue_.pop_front();
      }
    }
    // Rows of each request in its order; a request whose line fails is answered alone.
    model_.start_batch(batch);
    std::vector<int64_t> first;  // per taken request, its first row in the batch (-1: failed)
    for (Request* r : taken) {
      const int64_t start = batch.size;
      try {
        size_t li = 0, ii = 0;
        for (int64_t i = 0; i < r->rows; ++i) {
          if (li < r->line_row.size() && r->line_row[li] == i) {
            model_.add_line(batch, r->lines[li], "row", i);
            ++li;
          } else {
            const int64_t nd = model_.num_dense(), nf = model_.num_features();
            model_.add_row(batch, {r->dense.data() + ii * nd, size_t(nd)}, {r->ids.data() + ii * nf, size_t(nf)});
            ++ii;
          }
        }
        first.push_back(start);
      } catch (const std::exception& e) {
        truncate_batch(batch, start, model_.num_dense());
        r->error = e.what();
        first.push_back(-1);
      }
    }
    std::string batch_error;
    if (batch.size > 0) {
      try {
        model_.score(batch, probs);
      } catch (const std::exception& e) {
        batch_error = e.what();
      }
    }
    {
      std::lock_guard lock(mutex_);
      if (batch.size > 0) ++batches_;
      for (size_t k = 0; k < taken.size(); ++k) {
        Request* r = taken[k];
        if (first[k] >= 0 && batch_error.empty()) {
          r->probabilities.assign(probs.begin() + first[k], probs.begin() + first[k] + r->rows);
        } else if (r->error.empty()) {
          r->error = batch_error;
        }
        r->done = true;
      }
    }
    wake_.notify_all();
  }
}

void ScoreService::record(double ms, bool error, int64_t rows) {
  std::lock_guard lock(mutex_);
  ++requests_;
  errors_ += error;
  rows_ += rows;
  if (static_cast<int64_t>(latencies_.size()) < config_.latency_window) {
    latencies_.push_back(ms);
  } else {
    latencies_[latency_next_] = ms;
    latency_next_ = (latency_next_ + 1) % config_.latency_window;
  }
}

std::string ScoreService::health() const {
  return nlohmann::json{{"status", "ok"},
                        {"model", model_.path()},
                        {"precision", precision_name(model_.precision())},
                        {"dense", model_.num_dense()},
                        {"features", model_.num_features()},
                        {"vocabulary", model_.has_vocabulary()}}
      .dump();
}

std::string ScoreService::metrics() const {
  std::vector<double> l;
  nlohmann::json j;
  {
    std::lock_guard lock(mutex_);
    l = latencies_;
    j = {{"requests", requests_}, {"errors", errors_}, {"rows", rows_}, {"batches", batches_}};
  }
  std::sort(l.begin(), l.end());
  auto q = [&](double p) {
    if (l.empty()) return 0.0;
    return l[std::min(l.size() - 1, static_cast<size_t>(std::ceil(p * static_cast<double>(l.size()))) - (p > 0))];
  };
  j["latency_ms"] = {{"p50", q(0.5)}, {"p90", q(0.9)}, {"p99", q(0.99)}, {"max", l.empty() ? 0.0 : l.back()}};
  return j.dump();
}

}  // namespace cembed
