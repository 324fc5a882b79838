// The C API (include/cembed/c_api.h) over InferenceModel: every exception stops here and
// becomes -1 and a per-thread message.
#include "cembed/c_api.h"

#include <algorithm>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cembed/inference.h"
#include "cembed/trainer.h"

struct cembed_model {
  std::unique_ptr<cembed::InferenceModel> model;
  std::mutex mutex;  // one call at a time: the model keeps scratch
  cembed::Batch batch;
  std::vector<float> scores;
};

namespace {

thread_local std::string last_error;

// Runs f, turning any exception into -1 and last_error.
template <typename F>
int guarded(F&& f) noexcept {
  try {
    last_error.clear();
    f();
    return 0;
  } catch (const std::exception& e) {
    last_error = e.what();
  } catch (...) {
    last_error = "unknown error";
  }
  return -1;
}

}  // namespace

extern "C" {

int cembed_model_open(const char* path, cembed_model** out) {
  if (out != nullptr) *out = nullptr;
  return guarded([&] {
    if (path == nullptr || out == nullptr) throw std::invalid_argument("cembed_model_open: null argument");
    auto m = std::make_unique<cembed_model>();
    m->model = cembed::InferenceModel::open(path);
    *out = m.release();
  });
}

void cembed_model_close(cembed_model* model) { delete model; }

int64_t cembed_model_num_dense(const cembed_model* model) { return model ? model->model->num_dense() : -1; }
int64_t cembed_model_num_features(const cembed_model* model) { return model ? model->model->num_features() : -1; }
int cembed_model_has_vocabulary(const cembed_model* model) { return model && model->model->has_vocabulary() ? 1 : 0; }

int cembed_model_score(cembed_model* model, int64_t rows, const float* dense, const uint32_t* ids, float* out) {
  return guarded([&] {
    if (model == nullptr || rows < 0 || (rows > 0 && (dense == nullptr || ids == nullptr || out == nullptr))) {
      throw std::invalid_argument("cembed_model_score: null argument or negative row count");
    }
    if (rows == 0) return;
    std::lock_guard lock(model->mutex);
    cembed::InferenceModel& m = *model->model;
    const int64_t nd = m.num_dense(), nf = m.num_features();
    m.start_batch(model->batch);
    for (int64_t r = 0; r < rows; ++r)
      m.add_row(model->batch, {dense + r * nd, size_t(nd)}, {ids + r * nf, size_t(nf)});
    m.score(model->batch, model->scores);
    std::copy(model->scores.begin(), model->scores.end(), out);
  });
}

int cembed_model_score_lines(cembed_model* model, int64_t rows, const char* const* lines, float* out) {
  return guarded([&] {
    if (model == nullptr || rows < 0 || (rows > 0 && (lines == nullptr || out == nullptr))) {
      throw std::invalid_argument("cembed_model_score_lines: null argument or negative row count");
    }
    if (rows == 0) return;
    std::lock_guard lock(model->mutex);
    cembed::InferenceModel& m = *model->model;
    m.start_batch(model->batch);
    for (int64_t r = 0; r < rows; ++r) {
      if (lines[r] == nullptr) throw std::invalid_argument("cembed_model_score_lines: null line");
      m.add_line(model->batch, lines[r], "lines", r + 1);
    }
    m.score(model->batch, model->scores);
    std::copy(model->scores.begin(), model->scores.end(), out);
  });
}

void cembed_set_threads(int threads) {
  guarded(
      [&] { cembed::set_num_threads(threads > 0 ? threads : static_cast<int>(std::thread::hardware_concurrency())); });
}

const char* cembed_last_error(void) { return last_error.c_str(); }

}  // extern "C"
