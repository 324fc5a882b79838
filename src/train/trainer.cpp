// train(): a run's phases in order. Each phase lives in its own file (train_run.h):
// run_data.cpp, model_start.cpp (with checkpoint.cpp and signature_attach.cpp),
// training_loop.cpp, train_report.cpp; evaluation.cpp scores a model.
#include "cembed/trainer.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "kernels/dense_kernels.h"
#include "train/train_run.h"
#include "util/check.h"
#include "util/file_format.h"
#include "util/output_check.h"

namespace cembed {

nlohmann::json train(const TrainConfig& cfg) {
  SingleProcess one;
  return train(cfg, one);
}

nlohmann::json train(const TrainConfig& cfg_in, Communicator& comm) {
  using namespace train_run;
  TrainConfig cfg = cfg_in;
  cfg.validate();
  const bool job = comm.size() > 1, writer = comm.rank() == 0;
  if (cfg.shards == 0) cfg.shards = comm.size();
  parse_exchange(cfg.exchange);
  CEMBED_CHECK(!job || cfg.shards == comm.size(),
               "train: --shards {} under {} ranks: each rank reads one shard (leave --shards out, or give {})",
               cfg.shards, comm.size(), comm.size());
  CEMBED_CHECK(!job || !cfg.ranking,
               "train: --ranking runs in one process (score the final checkpoint without mpirun)");
  // Every output is checked writable before the first step: a typo must not cost the run.
  if (writer) {
    check_file_writable(cfg.checkpoint_path, "checkpoint");
    check_file_writable(cfg.report_path, "report");
    check_dir_writable(cfg.export_initial_dir, "export-initial");
  }
  CEMBED_CHECK(!cfg.ranking || !cfg.test_path.empty(), "train: ranking needs test data (--test)");
  kernels::set_num_threads(cfg.threads);

  const RunData data = open_run_data(cfg, !job);
  cfg.model.num_dense = data.train.schema().num_dense();
  if (job) check_same_job(cfg, data, comm);
  if (!writer) {  // rank 0 alone prints and writes
    cfg.export_initial_dir.clear();
    cfg.progress = false;
  }
  RunStart start = start_model(cfg, data);
  if (cfg.progress && writer) fmt::print(stderr, "{}", start.plan.describe());
  const LoopRecord loop = run_training_loop(cfg, data, *start.model, start.state, comm);
  const nlohmann::json report = build_report(cfg, data, start, loop, comm);
  if (!cfg.report_path.empty() && writer) write_file_atomically(cfg.report_path, report.dump(2) + "\n");
  return report;
}

void set_num_threads(int threads) {
  check_range("threads", threads, ranges::threads());
  kernels::set_num_threads(threads);
}

}  // namespace cembed
