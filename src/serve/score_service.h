// ScoreService: what `cembed serve` answers, apart from HTTP (tools/cli/cmd_serve.cpp).
//
// POST /score takes {"rows": [row, ...]} where a row is {"dense": [...], "ids": [...]}
// (num_dense numbers and one id per feature) or {"line": "..."} (a raw line in the training
// text format, through the exported vocabulary: inference.h add_line), and answers
// {"probabilities": [...]}, one per row, in order. Requests from concurrent clients are
// queued and scored together by one thread, up to max_batch_rows rows at a time (the model
// uses every OpenMP thread inside a batch).
//
// Answers: 200 with the probabilities; 400 {"error": "..."} for malformed JSON, a missing
// or unknown field, a row of the wrong length, a non-finite number, an id beyond its
// feature's cardinality, a malformed line, or more than max_rows_per_request rows (the
// error names the row and the field); 503 while shutting down. Raw values the vocabulary
// does not know are scored as the out-of-vocabulary id 0, as prepare maps them.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cembed/inference.h"

namespace cembed {

struct ScoreServiceConfig {
  int64_t max_rows_per_request = 10000;
  int64_t max_batch_rows = 4096;
  int64_t latency_window = 100000;  // latencies kept for the quantiles (the most recent)
};

class ScoreService {
 public:
  ScoreService(InferenceModel& model, ScoreServiceConfig config);
  ~ScoreService();  // stop()s
  ScoreService(const ScoreService&) = delete;
  ScoreService& operator=(const ScoreService&) = delete;

  struct Reply {
    int status = 200;
    std::string body;  // JSON
  };
  // Thread-safe; blocks until the request's rows are scored.
  Reply score(std::string_view body);
  // {"status": "ok", "model": ..., "precision": ..., "features": ..., "dense": ...}
  std::string health() const;
  // {"requests", "errors", "rows", "batches", "latency_ms": {"p50", "p90", "p99", "max"}}:
  // latencies of answered score requests, from the body parsed to the reply made.
  std::string metrics() const;
  // Refuses new requests (503), answers the queued ones, stops the scoring thread.
  void stop();

 private:
  struct Request;
  void run();
  void record(double ms, bool error, int64_t rows);

  InferenceModel& model_;
  ScoreServiceConfig config_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Request*> queue_;
  bool stopping_ = false;
  std::thread worker_;
  // Metrics (under mutex_).
  int64_t requests_ = 0, errors_ = 0, rows_ = 0, batches_ = 0;
  std::vector<double> latencies_;  // ring of the last latency_window
  int64_t latency_next_ = 0;
};

}  // namespace cembed
