#include "cembed/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "cembed/build_info.h"
#include "cembed/errors.h"
#include "cembed/file_format.h"
#include "cembed/metrics.h"
#include "cembed/npy.h"
#include "cembed/output_check.h"
#include "cembed/random.h"
#include "cembed/ranking.h"
#include "cembed/signatures.h"
#include "kernels/dense_kernels.h"
#include "train/proc_files.h"
#include "train/progress.h"

namespace cembed {
namespace {

constexpr char kCheckpointMagic[] = "CEMBCKPT";
constexpr uint32_t kCheckpointVersion = 2;  // 2: lma tables may keep value blocks

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

OptimizerConfig dense_optimizer(const TrainConfig& c) {
  OptimizerConfig o;
  o.kind = parse_optimizer_kind(c.optimizer);
  if (o.kind == OptimizerKind::RowwiseAdagrad) o.kind = OptimizerKind::Adagrad;
  return o;
}

OptimizerConfig table_optimizer(const TrainConfig& c) {
  OptimizerConfig o;
  o.kind = parse_optimizer_kind(c.table_optimizer.empty() ? c.optimizer : c.table_optimizer);
  return o;
}

std::vector<int64_t> epoch_order(int64_t rows, uint64_t seed, int64_t epoch, bool shuffle) {
  std::vector<int64_t> order(rows);
  std::iota(order.begin(), order.end(), 0);
  if (shuffle) {
    Rng rng(derive_seed(seed, 0xE90C, epoch));
    for (int64_t i = rows - 1; i > 0; --i) std::swap(order[i], order[rng.below(static_cast<uint64_t>(i + 1))]);
  }
  return order;
}

// A "Key: N kB" line of /proc/self/status, in bytes (0 when absent).
int64_t proc_status_bytes(const std::string& wanted) {
  return std::max<int64_t>(0, proc_kb_field("/proc/self/status", wanted));
}

int64_t rss_anon_bytes() { return proc_status_bytes("RssAnon:"); }

std::unique_ptr<Dlrm> build_model(const TrainConfig& c, const MemoryPlan& plan) {
  auto model = std::make_unique<Dlrm>(c.model, plan);
  model->init(c.seed);
  model->set_optimizers(dense_optimizer(c), table_optimizer(c));
  return model;
}

// Signatures for the LMA tables of a new model: the sidecar next to the training data when
// `cembed signatures` (or prepare --signatures) wrote one, else computed from the training
// rows now. Returns what was done, for the report.
nlohmann::json attach_signatures(EmbeddingCollection& emb, const Dataset& train_data, bool progress) {
  nlohmann::json out = nlohmann::json::array();
  for (SignatureKind kind : emb.needed_signatures()) {
    const std::string path = signature_path(train_data.path(), kind);
    const auto t0 = Clock::now();
    ValueSignatures sigs;
    std::string source = path;
    if (std::filesystem::exists(path)) {
      sigs = load_signatures(path);
      CEMBED_CHECK(sigs.num_features() == train_data.schema().num_sparse(),
                   "{}: signatures of {} features, the training data {} has {}", path, sigs.num_features(),
                   train_data.path(), train_data.schema().num_sparse());
      for (int f = 0; f < sigs.num_features(); ++f) {
        CEMBED_CHECK(sigs.offset[f + 1] - sigs.offset[f] == train_data.schema().sparse[f].cardinality,
                     "{}: feature {} has {} values, the training data {} has {}", path, f,
                     sigs.offset[f + 1] - sigs.offset[f], train_data.path(), train_data.schema().sparse[f].cardinality);
      }
    } else {
      SignatureConfig sc;
      sc.kind = kind;
      sigs = compute_signatures(train_data, sc);
      source = "computed from " + train_data.path();
    }
    emb.attach_signatures(sigs);
    const double seconds = seconds_since(t0);
    if (progress) fmt::print(stderr, "{} signatures: {} ({:.2f} s)\n", signature_kind_name(kind), source, seconds);
    out.push_back({{"kind", signature_kind_name(kind)}, {"source", source}, {"seconds", seconds},
                   {"num_hashes", sigs.config.num_hashes}, {"sample", sigs.config.sample}});
  }
  return out;
}

}  // namespace

nlohmann::json EvalResult::to_json() const {
  return {{"rows", rows}, {"auc", auc}, {"logloss", logloss}, {"ctr", ctr}, {"seconds", seconds}};
}

EvalResult evaluate(Dlrm& model, const Dataset& data, int64_t batch_size) {
  check_range("eval batch size", static_cast<double>(batch_size), ranges::batch_size);
  const auto start = Clock::now();
  EvalResult r;
  r.rows = data.rows();
  std::vector<float> probs;
  probs.reserve(data.rows());
  Batch batch;
  std::vector<float> logits;
  std::vector<int64_t> rows;
  for (int64_t first = 0; first < data.rows(); first += batch_size) {
    const int64_t n = std::min(batch_size, data.rows() - first);
    rows.resize(n);
    std::iota(rows.begin(), rows.end(), first);
    gather_batch(data, rows, batch);
    model.forward(batch, logits);
    for (float z : logits) probs.push_back(static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(z)))));
  }
  r.auc = roc_auc(probs, data.labels());
  r.logloss = log_loss(probs, data.labels());
  r.ctr = std::accumulate(data.labels().begin(), data.labels().end(), 0.0) / std::max<double>(1.0, static_cast<double>(data.rows()));
  r.seconds = seconds_since(start);
  return r;
}

void save_checkpoint(const std::string& path, const TrainConfig& config, const Dlrm& model, const TrainState& state,
                     const nlohmann::json& train_data) {
  BinaryWriter w;
  nlohmann::json header = config.to_json();
  if (!train_data.is_null()) header["train_data"] = train_data;
  w.str(header.dump());
  w.str(model.embeddings().plan().to_json().dump());
  w.i64(state.step);
  w.i64(state.epoch);
  w.i64(state.batch_in_epoch);
  model.save(w);
  write_framed_file(path, kCheckpointMagic, kCheckpointVersion, w.bytes());
}

LoadedCheckpoint load_checkpoint(const std::string& path) {
  const std::string payload = read_framed_file(path, kCheckpointMagic, kCheckpointVersion);
  BinaryReader r(payload.data(), payload.size(), path);
  LoadedCheckpoint out;
  out.path = path;
  try {
    const nlohmann::json header = nlohmann::json::parse(r.str("config"));
    out.config = TrainConfig::from_json(header);
    out.train_data = header.value("train_data", nlohmann::json());
    out.plan = MemoryPlan::from_json(nlohmann::json::parse(r.str("memory plan")));
  } catch (const nlohmann::json::exception& e) {
    fail("{}: corrupt checkpoint header: {}", path, e.what());
  }
  out.state.step = r.i64("step");
  out.state.epoch = r.i64("epoch");
  out.state.batch_in_epoch = r.i64("batch in epoch");
  out.model = build_model(out.config, out.plan);
  out.model->load(r);
  r.expect_end();
  return out;
}

void check_data_fits_model(const LoadedCheckpoint& ck, const Dataset& data) {
  const std::string whose = fmt::format("the model {} was trained on", ck.path);
  if (ck.train_data.is_object() && ck.train_data.contains("schema")) {
    check_same_vocabulary(data, ck.train_data["schema"], whose);
    return;
  }
  // Older checkpoints: the plan's features (names and cardinalities).
  nlohmann::json expected = data.schema().to_json();
  expected.erase("vocabulary_id");
  expected["sparse"] = nlohmann::json::array();
  for (size_t f = 0; f < ck.plan.features.size(); ++f) {
    const bool multi = static_cast<int>(f) < data.schema().num_sparse() && data.schema().multi_hot[f];
    expected["sparse"].push_back(
        {{"name", ck.plan.features[f].name}, {"cardinality", ck.plan.features[f].cardinality}, {"multi_hot", multi}});
  }
  if (!data.schema().vocabulary_id.empty()) expected["vocabulary_id"] = data.schema().vocabulary_id;
  check_same_vocabulary(data, expected, whose);
}

void set_num_threads(int threads) {
  check_range("threads", threads, ranges::threads());
  kernels::set_num_threads(threads);
}

int64_t peak_rss_bytes() { return proc_status_bytes("VmHWM:"); }

nlohmann::json train(const TrainConfig& cfg_in) {
  TrainConfig cfg = cfg_in;
  cfg.validate();
  // Every output is checked writable before the first step: a typo must not cost the run.
  check_file_writable(cfg.checkpoint_path, "checkpoint");
  check_file_writable(cfg.report_path, "report");
  check_dir_writable(cfg.export_initial_dir, "export-initial");
  CEMBED_CHECK(!cfg.ranking || !cfg.test_path.empty(), "train: ranking needs test data (--test)");
  kernels::set_num_threads(cfg.threads);

  const Dataset train_data = Dataset::open(cfg.train_path);
  std::unique_ptr<Dataset> valid_data, test_data;
  if (!cfg.valid_path.empty()) valid_data = std::make_unique<Dataset>(Dataset::open(cfg.valid_path));
  if (!cfg.test_path.empty()) test_data = std::make_unique<Dataset>(Dataset::open(cfg.test_path));
  const auto& schema = train_data.schema();
  for (const Dataset* d : {valid_data.get(), test_data.get()}) {
    if (d == nullptr) continue;
    check_same_vocabulary(*d, schema.to_json(), "the training data " + train_data.path());
  }
  cfg.model.num_dense = schema.num_dense();
  const nlohmann::json train_identity = train_data.identity();

  std::unique_ptr<Dlrm> model;
  MemoryPlan plan;
  TrainState state;
  nlohmann::json signatures_report = nlohmann::json::array();
  if (!cfg.resume_path.empty()) {
    LoadedCheckpoint ck = load_checkpoint(cfg.resume_path);
    if (ck.train_data.is_object()) {
      CEMBED_CHECK(ck.train_data == train_identity,
                   "{}: the checkpoint was trained on other data than {} (checkpoint: {} rows, checksum {}; this "
                   "data: {} rows, checksum {})",
                   cfg.resume_path, cfg.train_path, ck.train_data.value("rows", int64_t{-1}),
                   ck.train_data.value("checksum", std::string("?")), train_identity["rows"].get<int64_t>(),
                   train_identity["checksum"].get<std::string>());
    } else {
      CEMBED_CHECK(ck.config.train_path == cfg.train_path,
                   "{}: the checkpoint was trained on {} (it predates data identities: give the same path), not {}",
                   cfg.resume_path, ck.config.train_path, cfg.train_path);
    }
    if (const auto d = first_identity_difference(ck.config, cfg)) {
      fail("{}: the checkpoint was made with another configuration: {} is {} there, {} in this run; resume with "
           "the same data, model, method, optimizer, batch size and seed",
           cfg.resume_path, d->name, d->first, d->second);
    }
    model = std::move(ck.model);
    plan = ck.plan;
    state = ck.state;
    fmt::print(stderr, "resumed from {} at step {} (epoch {}, batch {})\n", cfg.resume_path, state.step, state.epoch,
               state.batch_in_epoch);
  } else {
    plan = plan_memory(cfg.embedding, schema.sparse, cfg.model.dim, cfg.budget, cfg.small_threshold);
    const int64_t eval_rows = std::max(valid_data ? valid_data->rows() : 0, test_data ? test_data->rows() : 0);
    check_memory_fits(estimate_training_memory(cfg, plan, schema.num_dense(), train_data.rows(), eval_rows),
                      available_memory_bytes());
    model = build_model(cfg, plan);
    signatures_report = attach_signatures(model->embeddings(), train_data, cfg.progress);
    if (!cfg.export_initial_dir.empty()) export_dlrm_parameters(*model, cfg.export_initial_dir);
  }
  if (cfg.progress) fmt::print(stderr, "{}", plan.describe());

  const int64_t steps_per_epoch = (train_data.rows() + cfg.batch_size - 1) / cfg.batch_size;
  int64_t total_steps = steps_per_epoch * std::max<int64_t>(cfg.epochs, 1);
  if (cfg.max_steps > 0) total_steps = cfg.epochs > 0 ? std::min(total_steps, cfg.max_steps) : cfg.max_steps;
  const int64_t epochs = (total_steps + steps_per_epoch - 1) / steps_per_epoch;

  nlohmann::json curve = nlohmann::json::array(), evals = nlohmann::json::array();
  Progress progress(total_steps, cfg.progress);
  Batch batch;
  double train_seconds = 0, running = 0, loss_sum = 0;
  int64_t samples = 0, loss_count = 0, peak_anon = rss_anon_bytes();
  const Dataset* monitor = valid_data ? valid_data.get() : test_data.get();
  const int64_t curve_every = std::max<int64_t>(1, total_steps / 200);
  auto checkpoint = [&] {
    if (!cfg.checkpoint_path.empty()) save_checkpoint(cfg.checkpoint_path, cfg, *model, state, train_identity);
  };

  for (; state.epoch < epochs && state.step < total_steps; ++state.epoch, state.batch_in_epoch = 0) {
    const auto order = epoch_order(train_data.rows(), cfg.seed, state.epoch, cfg.shuffle);
    for (; state.batch_in_epoch < steps_per_epoch && state.step < total_steps;) {
      const auto t0 = Clock::now();
      const int64_t first = state.batch_in_epoch * cfg.batch_size;
      const int64_t n = std::min(cfg.batch_size, train_data.rows() - first);
      gather_batch(train_data, std::span(order).subspan(first, n), batch);
      const float lr = cfg.lr.at(state.step);
      const double loss = model->train_step(batch, lr);
      train_seconds += seconds_since(t0);
      samples += n;
      ++state.step;
      ++state.batch_in_epoch;
      running = loss_count == 0 ? loss : 0.98 * running + 0.02 * loss;
      loss_sum += loss;
      ++loss_count;
      if (state.step % curve_every == 0 || state.step == total_steps) {
        curve.push_back({{"step", state.step}, {"loss", loss_sum / loss_count}, {"lr", lr}});
        loss_sum = 0;
        loss_count = 0;
        peak_anon = std::max(peak_anon, rss_anon_bytes());
      }
      progress.update(state.step, static_cast<double>(samples) / std::max(train_seconds, 1e-9), running);
      if (cfg.eval_every > 0 && monitor != nullptr && state.step % cfg.eval_every == 0 && state.step < total_steps) {
        const EvalResult e = evaluate(*model, *monitor, cfg.eval_batch_size);
        nlohmann::json ej = e.to_json();
        ej["step"] = state.step;
        evals.push_back(ej);
        if (cfg.progress) fmt::print(stderr, "\nstep {}: {} auc {:.5f} logloss {:.5f}\n", state.step, monitor->path(), e.auc, e.logloss);
      }
      if (cfg.checkpoint_every > 0 && state.step % cfg.checkpoint_every == 0) checkpoint();
    }
    if (state.batch_in_epoch < steps_per_epoch) break;  // stopped inside the epoch (max_steps)
  }
  progress.finish();
  checkpoint();
  peak_anon = std::max(peak_anon, rss_anon_bytes());

  nlohmann::json report;
  report["config"] = cfg.to_json();
  report["build"] = build_info();
  report["plan"] = plan.to_json();
  const EmbeddingCollection& emb = model->embeddings();
  const int64_t dense_bytes = model->dense_parameter_count() * static_cast<int64_t>(sizeof(float));
  report["embedding"] = {{"method", cfg.embedding},
                         {"parameter_bytes", emb.parameter_bytes()},
                         {"optimizer_bytes", emb.optimizer_bytes()},
                         {"auxiliary_bytes", emb.auxiliary_bytes()},
                         {"full_bytes", plan.full_bytes()},
                         {"signatures", signatures_report},
                         {"compression", static_cast<double>(plan.full_bytes()) / static_cast<double>(emb.parameter_bytes())}};
  report["dense"] = {{"parameter_bytes", dense_bytes}, {"optimizer_bytes", model->dense_optimizer().state_bytes()}};
  report["train"] = {{"rows", train_data.rows()},
                     {"steps", state.step},
                     {"samples", samples},
                     {"seconds", train_seconds},
                     {"samples_per_second", static_cast<double>(samples) / std::max(train_seconds, 1e-9)},
                     {"curve", curve},
                     {"evaluations", evals}};
  if (valid_data) report["valid"] = evaluate(*model, *valid_data, cfg.eval_batch_size).to_json();
  if (test_data) report["test"] = evaluate(*model, *test_data, cfg.eval_batch_size).to_json();
  if (cfg.ranking) {
    std::vector<const Dataset*> seen = {&train_data, test_data.get()};
    if (valid_data) seen.push_back(valid_data.get());
    report["ranking"] = evaluate_ranking(*model, *test_data, seen, {cfg.ranking_k, cfg.ranking_negatives, cfg.seed}).to_json();
  }
  const int64_t model_bytes = emb.parameter_bytes() + emb.optimizer_bytes() + 2 * dense_bytes +
                              model->dense_optimizer().state_bytes();
  report["memory"] = {{"peak_rss_bytes", peak_rss_bytes()},
                      {"peak_anonymous_bytes", peak_anon},
                      {"model_and_optimizer_bytes", model_bytes},
                      {"note", "peak_rss counts the memory-mapped dataset pages read; peak_anonymous does not"}};
  for (const char* split : {"train", "valid", "test"}) {
    const Dataset* d = std::string(split) == "train" ? &train_data : std::string(split) == "valid" ? valid_data.get() : test_data.get();
    if (d != nullptr && d->metadata().contains("stats") && d->metadata()["stats"].contains("bayes_auc")) {
      report["data"][split] = d->metadata()["stats"];
    }
  }
  if (!cfg.report_path.empty()) write_file_atomically(cfg.report_path, report.dump(2) + "\n");
  return report;
}

}  // namespace cembed
