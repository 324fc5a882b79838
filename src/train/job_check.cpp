// The start of a data-parallel job: every rank must train the same model on the same data.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "train/train_run.h"
#include "util/check.h"

namespace cembed::train_run {
namespace {

// What must agree across the ranks: every setting with an effect on the model (paths aside:
// the data is compared by its content) and the datasets' identities.
nlohmann::json job_identity(const TrainConfig& cfg, const RunData& data) {
  nlohmann::json config = sweep_identity(cfg, {});
  for (const char* path : {"train_path", "valid_path", "test_path"}) config.erase(path);
  nlohmann::json j = {{"config", config}, {"train_data", data.train_identity}};
  if (data.valid) j["valid_data"] = data.valid->identity();
  if (data.test) j["test_data"] = data.test->identity();
  return j;
}

// A setting's name as the user wrote it: "--lr" for the key "lr".
std::string setting_name(const std::string& key) {
  std::string name = key;
  TrainConfig probe;
  visit_train_settings(probe, [&](const Setting& s, auto&) {
    if (s.key == key && !s.option.empty()) name = "--" + std::string(s.option);
  });
  return name;
}

// A value as the user wrote it: floats rounded to float precision (0.05, not 0.0500000007).
std::string shown(const nlohmann::json& v) {
  if (v.is_number_float()) return fmt::format("{:g}", static_cast<float>(v.get<double>()));
  return v.dump();
}

}  // namespace

void check_same_job(const TrainConfig& cfg, const RunData& data, Communicator& comm) {
  const nlohmann::json mine = job_identity(cfg, data);
  const nlohmann::json first = nlohmann::json::parse(comm.broadcast(mine.dump(), 0));
  if (first == mine) return;
  for (const auto& [part, value] : first.items()) {
    const nlohmann::json here = mine.value(part, nlohmann::json());
    if (value == here) continue;
    if (part == "config") {
      for (const auto& [key, v] : value.items()) {
        const nlohmann::json h = here.value(key, nlohmann::json());
        if (v != h) {
          fail("rank {} was started with another configuration than rank 0: {} is {} on rank 0, {} here", comm.rank(),
               setting_name(key), shown(v), shown(h));
        }
      }
    }
    fail("rank {} opened other data than rank 0: its {} is {}, rank 0's {}", comm.rank(), part, here.dump(),
         value.dump());
  }
  fail("rank {} was started with another configuration than rank 0", comm.rank());
}

}  // namespace cembed::train_run
