// Checkpoints: config + memory plan + position + model parameters and optimizer state,
// framed and checksummed (file_format.h), written atomically; and the check that a dataset
// can be scored by a checkpoint's model.
#include "util/binary_io.h"

#include <nlohmann/json.hpp>
#include "cembed/trainer.h"
#include "train/train_run.h"
#include "util/check.h"
#include "util/file_format.h"

namespace cembed {
namespace {

constexpr char kCheckpointMagic[] = "CEMBCKPT";
constexpr uint32_t kCheckpointVersion = 2;  // 2: lma tables may keep value blocks

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

}  // namespace

std::unique_ptr<Dlrm> train_run::build_model(const TrainConfig& c, const MemoryPlan& plan) {
  auto model = std::make_unique<Dlrm>(c.model, plan);
  model->init(c.seed);
  model->set_optimizers(dense_optimizer(c), table_optimizer(c));
  model->set_training_precision(parse_dense_precision(c.dense_precision));
  return model;
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
  out.model = train_run::build_model(out.config, out.plan);
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

}  // namespace cembed
