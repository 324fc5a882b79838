// The training loop: epochs of shuffled batches, the loss curve, evaluations every N steps
// and checkpoints every N steps and at the end.
#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <numeric>
#include <span>

#include "kernels/dense_kernels.h"
#include "train/epoch_order.h"
#include "train/progress.h"
#include "train/thread_governor.h"
#include "train/train_run.h"

namespace cembed::train_run {

LoopRecord run_training_loop(const TrainConfig& cfg, const RunData& data, Dlrm& model, TrainState& state,
                             Communicator& comm) {
  const Dataset& train_data = data.train;
  // One process serves every shard; rank r of a job serves shard r (epoch_order.h).
  const bool job = comm.size() > 1;
  const Exchange exchange = parse_exchange(cfg.exchange);
  const int first_shard = job ? comm.rank() : 0, last_shard = job ? comm.rank() + 1 : cfg.shards;
  const int64_t steps_per_epoch = batches_per_epoch(train_data.rows(), cfg.batch_size, cfg.shards);
  int64_t total_steps = steps_per_epoch * std::max<int64_t>(cfg.epochs, 1);
  if (cfg.max_steps > 0) total_steps = cfg.epochs > 0 ? std::min(total_steps, cfg.max_steps) : cfg.max_steps;
  const int64_t epochs = (total_steps + steps_per_epoch - 1) / steps_per_epoch;

  LoopRecord rec;
  ThreadGovernor governor(cfg.threads, !cfg.fixed_threads);
  Progress progress(total_steps, cfg.progress && comm.rank() == 0);
  Batch batch;
  double running = 0, loss_sum = 0;
  int64_t loss_count = 0;
  rec.peak_anonymous_bytes = rss_anon_bytes();
  const Dataset* monitor = data.monitor();
  const int64_t curve_every = std::max<int64_t>(1, total_steps / 200);
  auto checkpoint = [&] {
    if (!cfg.checkpoint_path.empty() && comm.rank() == 0)
      save_checkpoint(cfg.checkpoint_path, cfg, model, state, data.train_identity);
  };

  for (; state.epoch < epochs && state.step < total_steps; ++state.epoch, state.batch_in_epoch = 0) {
    const EpochOrder order(train_data.rows(), cfg.batch_size, cfg.shards, cfg.seed, state.epoch, cfg.shuffle,
                           first_shard, last_shard);
    for (; state.batch_in_epoch < steps_per_epoch && state.step < total_steps;) {
      const auto t0 = Clock::now();
      const std::vector<int64_t> rows = order.batch(state.batch_in_epoch);
      gather_batch(train_data, rows, batch);
      rec.batch_seconds += seconds_since(t0);
      const float lr = cfg.lr.at(state.step);
      const double loss = job ? model.train_step(batch, lr, comm, exchange) : model.train_step(batch, lr);
      rec.seconds += seconds_since(t0);
      rec.samples += order.global_batch_size(state.batch_in_epoch);
      rec.local_samples += static_cast<int64_t>(rows.size());
      ++rec.steps;
      if (rec.steps <= kRateWarmupSteps) {
        rec.rate_warmup_steps = rec.steps;
        rec.rate_warmup_seconds = rec.seconds;
        rec.rate_warmup_samples = rec.samples;
      }
      governor.step_done();
      governor.between_steps();
      ++state.step;
      ++state.batch_in_epoch;
      running = loss_count == 0 ? loss : 0.98 * running + 0.02 * loss;
      loss_sum += loss;
      ++loss_count;
      if (state.step % curve_every == 0 || state.step == total_steps) {
        rec.curve.push_back({{"step", state.step}, {"loss", loss_sum / loss_count}, {"lr", lr}});
        loss_sum = 0;
        loss_count = 0;
        rec.peak_anonymous_bytes = std::max(rec.peak_anonymous_bytes, rss_anon_bytes());
      }
      progress.update(state.step, static_cast<double>(rec.samples) / std::max(rec.seconds, 1e-9), running);
      if (cfg.eval_every > 0 && monitor != nullptr && state.step % cfg.eval_every == 0 && state.step < total_steps) {
        const EvalResult e = evaluate(model, *monitor, cfg.eval_batch_size, comm);
        nlohmann::json ej = e.to_json();
        ej["step"] = state.step;
        rec.evaluations.push_back(ej);
        if (cfg.progress && comm.rank() == 0)
          fmt::print(stderr, "\nstep {}: {} auc {:.5f} logloss {:.5f}\n", state.step, monitor->path(), e.auc,
                     e.logloss);
      }
      if (cfg.checkpoint_every > 0 && state.step % cfg.checkpoint_every == 0) checkpoint();
    }
    if (state.batch_in_epoch < steps_per_epoch) break;  // stopped inside the epoch (max_steps)
  }
  progress.finish();
  rec.steps_by_threads = governor.steps_by_threads();
  kernels::set_num_threads(cfg.threads);  // evaluation and what follows: as configured
  checkpoint();
  rec.peak_anonymous_bytes = std::max(rec.peak_anonymous_bytes, rss_anon_bytes());
  return rec;
}

}  // namespace cembed::train_run
