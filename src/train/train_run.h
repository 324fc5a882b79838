// The phases of train() (trainer.cpp), each in its own file: the run's data, a new or
// resumed model, the training loop and the report. Internal to the library.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "cembed/communicator.h"
#include "cembed/dataset.h"
#include "cembed/trainer.h"

namespace cembed::train_run {

using Clock = std::chrono::steady_clock;
inline double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The datasets of a run, opened and checked to share the training data's vocabulary.
struct RunData {
  Dataset train;
  std::unique_ptr<Dataset> valid, test;
  nlohmann::json train_identity;  // Dataset::identity() of the training data
  const Dataset* monitor() const { return valid ? valid.get() : test.get(); }  // for --eval-every
};
// A job of several ranks opens the datasets without the checksum pass (each rank reads only
// its own rows; ids are still checked against the cardinalities when looked up).
RunData open_run_data(const TrainConfig& config, bool verify = true);  // run_data.cpp

// Under a job of several ranks: throws on a rank whose configuration (settings with an effect
// on the model) or data differs from rank 0's, naming the first difference. job_check.cpp.
void check_same_job(const TrainConfig& config, const RunData& data, Communicator& comm);

// A model with its initial parameters (from `config.seed`) and optimizers (checkpoint.cpp).
std::unique_ptr<Dlrm> build_model(const TrainConfig& config, const MemoryPlan& plan);

// The model a run starts from: a new one (planned, checked to fit in memory, signatures
// attached, initial parameters exported when asked) or the checkpoint's it resumes
// (checked to be of the same data and configuration). model_start.cpp.
struct RunStart {
  std::unique_ptr<Dlrm> model;
  MemoryPlan plan;
  TrainState state;
  nlohmann::json signatures = nlohmann::json::array();  // what attach_signatures did
};
RunStart start_model(const TrainConfig& config, const RunData& data);

// Signatures for the LMA tables of a new model: the sidecar next to the training data when
// `cembed signatures` (or prepare --signatures) wrote one, else computed from the training
// rows now. Returns what was done, for the report. signature_attach.cpp.
nlohmann::json attach_signatures(EmbeddingCollection& emb, const Dataset& train_data, bool progress);

// The first steps of a run, which train.steady_samples_per_second leaves out (the report's
// train.steady_after_steps; unrelated to the learning rate's --warmup-steps): they first
// touch the batch buffers and GEMM scratch (page faults) and find the caches cold. As many
// as bench/dlrm_vs_torch.py leaves out of PyTorch's loop (it reads this from the report).
inline constexpr int64_t kRateWarmupSteps = 3;

// What the training loop measured, for the report.
struct LoopRecord {
  nlohmann::json curve = nlohmann::json::array(), evaluations = nlohmann::json::array();
  double seconds = 0;
  double batch_seconds = 0;   // of `seconds`, reading this rank's rows into batches
  int64_t samples = 0;        // of the global batches (every rank's)
  int64_t local_samples = 0;  // this rank's share
  int64_t steps = 0;          // steps this run took (not those before a resume)
  // `seconds` and `samples` after this run's first min(steps, kRateWarmupSteps) steps.
  int64_t rate_warmup_steps = 0;
  double rate_warmup_seconds = 0;
  int64_t rate_warmup_samples = 0;
  int64_t peak_anonymous_bytes = 0;
  std::vector<int64_t> steps_by_threads;  // steps trained on 1, 2, ... threads (thread_governor.h)
};
// Trains from `state` to the configured step count, evaluating and checkpointing as
// configured; writes the final checkpoint. training_loop.cpp.
// Under a job of several ranks, every rank trains on its shard of each batch (epoch_order.h)
// and only rank 0 prints progress and writes checkpoints.
LoopRecord run_training_loop(const TrainConfig& config, const RunData& data, Dlrm& model, TrainState& state,
                             Communicator& comm);

// The report of a finished run (config, build, plan, bytes, training, final evaluations,
// ranking, memory, data statistics). train_report.cpp.
// Every rank builds it (evaluations are collective); "distributed" holds each rank's samples/s
// and bytes sent when the job has several ranks.
nlohmann::json build_report(const TrainConfig& config, const RunData& data, const RunStart& start,
                            const LoopRecord& loop, Communicator& comm);

// Anonymous resident memory of this process (RssAnon), in bytes. process_memory.cpp.
int64_t rss_anon_bytes();

}  // namespace cembed::train_run
