// The datasets of a training run: training, validation and test, one vocabulary.
#include "train/train_run.h"
#include "util/check.h"

namespace cembed::train_run {

RunData open_run_data(const TrainConfig& cfg, bool verify) {
  RunData d{Dataset::open(cfg.train_path, verify), nullptr, nullptr, nullptr};
  if (!cfg.valid_path.empty()) d.valid = std::make_unique<Dataset>(Dataset::open(cfg.valid_path, verify));
  if (!cfg.test_path.empty()) d.test = std::make_unique<Dataset>(Dataset::open(cfg.test_path, verify));
  for (const Dataset* other : {d.valid.get(), d.test.get()}) {
    if (other == nullptr) continue;
    check_same_vocabulary(*other, d.train.schema().to_json(), "the training data " + d.train.path());
  }
  d.train_identity = d.train.identity();
  return d;
}

}  // namespace cembed::train_run
