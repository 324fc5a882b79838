// The model a training run starts from: resumed from a checkpoint of the same data and
// configuration, or new (planned, checked to fit in memory, signatures attached).
#include <fmt/format.h>

#include <algorithm>

#include "train/machine_memory.h"
#include "train/train_run.h"
#include "util/check.h"
#include "util/npy.h"

namespace cembed::train_run {
namespace {

RunStart resume(const TrainConfig& cfg, const RunData& data) {
  LoadedCheckpoint ck = load_checkpoint(cfg.resume_path);
  if (ck.train_data.is_object()) {
    CEMBED_CHECK(ck.train_data == data.train_identity,
                 "{}: the checkpoint was trained on other data than {} (checkpoint: {} rows, checksum {}; this "
                 "data: {} rows, checksum {})",
                 cfg.resume_path, cfg.train_path, ck.train_data.value("rows", int64_t{-1}),
                 ck.train_data.value("checksum", std::string("?")), data.train_identity["rows"].get<int64_t>(),
                 data.train_identity["checksum"].get<std::string>());
  } else {
    CEMBED_CHECK(ck.config.train_path == cfg.train_path,
                 "{}: the checkpoint was trained on {} (it predates data identities: give the same path), not {}",
                 cfg.resume_path, ck.config.train_path, cfg.train_path);
  }
  if (const auto d = first_identity_difference(ck.config, cfg)) {
    fail(
        "{}: the checkpoint was made with another configuration: {} is {} there, {} in this run; resume with "
        "the same data, model, method, optimizer, batch size and seed",
        cfg.resume_path, d->name, d->first, d->second);
  }
  RunStart s;
  s.model = std::move(ck.model);
  s.plan = ck.plan;
  s.state = ck.state;
  fmt::print(stderr, "resumed from {} at step {} (epoch {}, batch {})\n", cfg.resume_path, s.state.step, s.state.epoch,
             s.state.batch_in_epoch);
  return s;
}

RunStart start_new(const TrainConfig& cfg, const RunData& data) {
  const auto& schema = data.train.schema();
  RunStart s;
  s.plan = plan_memory(cfg.embedding, measure_value_frequencies(data.train), cfg.model.dim, cfg.budget,
                       cfg.small_threshold, parse_allocation(cfg.allocation));
  const int64_t eval_rows = std::max(data.valid ? data.valid->rows() : 0, data.test ? data.test->rows() : 0);
  check_memory_fits(estimate_training_memory(cfg, s.plan, schema.num_dense(), data.train.rows(), eval_rows),
                    available_memory_bytes());
  s.model = build_model(cfg, s.plan);
  s.signatures = attach_signatures(s.model->embeddings(), data.train, cfg.progress);
  if (!cfg.export_initial_dir.empty()) export_dlrm_parameters(*s.model, cfg.export_initial_dir);
  return s;
}

}  // namespace

RunStart start_model(const TrainConfig& cfg, const RunData& data) {
  return cfg.resume_path.empty() ? start_new(cfg, data) : resume(cfg, data);
}

}  // namespace cembed::train_run
