// The report of a training run: what was trained, how, how fast, how well, in how much memory.
#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>
#include <span>

#include "cembed/build_info.h"
#include "cembed/ranking.h"
#include "train/machine_memory.h"
#include "train/train_run.h"

namespace cembed::train_run {
namespace {

// Where a rank's training seconds went (Dlrm::StepPhases, and reading the batches).
constexpr int kPhases = 5;
std::array<double, kPhases> phase_seconds(const LoopRecord& loop, const Dlrm& model) {
  const StepPhases& p = model.step_phases();
  return {loop.batch_seconds, p.forward_backward, p.exchange, p.table_update, p.dense_update};
}

nlohmann::json phases_json(std::span<const double> s) {
  return {
      {"batch", s[0]}, {"forward_backward", s[1]}, {"exchange", s[2]}, {"table_update", s[3]}, {"dense_update", s[4]}};
}

// Samples/s over the steps this run took after its first kRateWarmupSteps; null when it took no
// more (steps before a resume do not count).
nlohmann::json steady_samples_per_second(const LoopRecord& loop) {
  if (loop.steps <= loop.rate_warmup_steps) return nullptr;
  return static_cast<double>(loop.samples - loop.rate_warmup_samples) /
         std::max(loop.seconds - loop.rate_warmup_seconds, 1e-9);
}

// {"1": steps on 1 thread, "2": ...}, the counts that are not zero.
nlohmann::json steps_by_threads_json(const std::vector<int64_t>& steps) {
  nlohmann::json j = nlohmann::json::object();
  for (size_t i = 0; i < steps.size(); ++i)
    if (steps[i] > 0) j[std::to_string(i + 1)] = steps[i];
  return j;
}

}  // namespace

nlohmann::json build_report(const TrainConfig& cfg, const RunData& data, const RunStart& start, const LoopRecord& loop,
                            Communicator& comm) {
  Dlrm& model = *start.model;  // evaluation writes the model's scratch buffers
  const MemoryPlan& plan = start.plan;
  const Dataset& train_data = data.train;
  nlohmann::json report;
  report["config"] = cfg.to_json();
  report["build"] = build_info();
  report["plan"] = plan.to_json();
  const EmbeddingCollection& emb = model.embeddings();
  const int64_t dense_bytes = model.dense_parameter_count() * static_cast<int64_t>(sizeof(float));
  report["embedding"] = {
      {"method", cfg.embedding},
      {"parameter_bytes", emb.parameter_bytes()},
      {"optimizer_bytes", emb.optimizer_bytes()},
      {"auxiliary_bytes", emb.auxiliary_bytes()},
      {"full_bytes", plan.full_bytes()},
      {"signatures", start.signatures},
      {"compression", static_cast<double>(plan.full_bytes()) / static_cast<double>(emb.parameter_bytes())}};
  report["dense"] = {{"parameter_bytes", dense_bytes}, {"optimizer_bytes", model.dense_optimizer().state_bytes()}};
  report["train"] = {{"rows", train_data.rows()},
                     {"steps", start.state.step},
                     {"samples", loop.samples},
                     {"seconds", loop.seconds},
                     {"samples_per_second", static_cast<double>(loop.samples) / std::max(loop.seconds, 1e-9)},
                     {"steady_after_steps", loop.rate_warmup_steps},
                     {"steady_samples_per_second", steady_samples_per_second(loop)},
                     {"phase_seconds", phases_json(phase_seconds(loop, model))},
                     {"steps_by_threads", steps_by_threads_json(loop.steps_by_threads)},
                     {"curve", loop.curve},
                     {"evaluations", loop.evaluations}};
  if (comm.size() > 1) {
    // Each rank's share of the work, gathered before the final evaluations' traffic.
    constexpr size_t kEach = 3 + kPhases;
    std::array<double, kEach> mine = {static_cast<double>(loop.local_samples), loop.seconds,
                                      static_cast<double>(comm.bytes_sent())};
    const auto phases = phase_seconds(loop, model);
    std::copy(phases.begin(), phases.end(), mine.begin() + 3);
    const std::vector<double> all = comm.allgather_values<double>(mine);
    nlohmann::json ranks = nlohmann::json::array();
    for (size_t r = 0; r + kEach <= all.size(); r += kEach) {
      ranks.push_back({{"rank", r / kEach},
                       {"samples", static_cast<int64_t>(all[r])},
                       {"seconds", all[r + 1]},
                       {"samples_per_second", all[r] / std::max(all[r + 1], 1e-9)},
                       {"bytes_sent", static_cast<int64_t>(all[r + 2])},
                       {"bytes_sent_per_step", all[r + 2] / std::max<double>(1.0, static_cast<double>(loop.steps))},
                       {"phase_seconds", phases_json(std::span<const double>(all).subspan(r + 3, kPhases))}});
    }
    report["distributed"] = {{"ranks", comm.size()}, {"shards", cfg.shards}, {"per_rank", ranks}};
  }
  if (data.valid) report["valid"] = evaluate(model, *data.valid, cfg.eval_batch_size, comm).to_json();
  if (data.test) report["test"] = evaluate(model, *data.test, cfg.eval_batch_size, comm).to_json();
  if (cfg.ranking) {
    std::vector<const Dataset*> seen = {&train_data, data.test.get()};
    if (data.valid) seen.push_back(data.valid.get());
    report["ranking"] =
        evaluate_ranking(model, *data.test, seen, {cfg.ranking_k, cfg.ranking_negatives, cfg.seed}).to_json();
  }
  const int64_t model_bytes =
      emb.parameter_bytes() + emb.optimizer_bytes() + 2 * dense_bytes + model.dense_optimizer().state_bytes();
  report["memory"] = {{"peak_rss_bytes", peak_rss_bytes()},
                      {"peak_anonymous_bytes", loop.peak_anonymous_bytes},
                      {"model_and_optimizer_bytes", model_bytes},
                      {"note", "peak_rss counts the memory-mapped dataset pages read; peak_anonymous does not"}};
  for (const char* split : {"train", "valid", "test"}) {
    const Dataset* d = std::string(split) == "train"   ? &train_data
                       : std::string(split) == "valid" ? data.valid.get()
                                                       : data.test.get();
    if (d != nullptr && d->metadata().contains("stats") && d->metadata()["stats"].contains("bayes_auc")) {
      report["data"][split] = d->metadata()["stats"];
    }
  }
  return report;
}

}  // namespace cembed::train_run
