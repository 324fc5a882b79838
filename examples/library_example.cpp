// cembed as a library: a program written against include/cembed alone (the public API).
//
//   1. One embedding table inside your own training loop: build it from a spec string,
//      pool bags of ids into vectors, hand back the gradient, and the table updates itself.
//   2. The whole job: a synthetic dataset, DLRM with QR embeddings at 16x less memory,
//      trained and evaluated; train() returns the report as JSON.
//
//   build/release/examples/library_example [folder for the synthetic data]
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cembed/errors.h"
#include "cembed/factory.h"
#include "cembed/synthetic.h"
#include "cembed/trainer.h"

namespace {

// Part 1: a hashed table of 1,000 rows of dim 8 for a feature of 100,000 values.
double table_in_your_own_loop() {
  cembed::EmbeddingTablePtr table = cembed::make_table("hash:rows=1000", cembed::TableShape{8, {100000}});
  table->init(/*seed=*/1);
  table->set_optimizer({cembed::OptimizerKind::Adagrad});

  // A batch of 3 bags (CSR): {7, 99999}, {}, {42}.
  const std::vector<cembed::Id> ids = {7, 99999, 42};
  const std::vector<uint32_t> offsets = {0, 2, 2, 3};
  const cembed::BagBatch bags{ids, offsets, {}};
  std::vector<float> out(3 * 8), grad(3 * 8);
  const cembed::MatrixView out_view{out.data(), 3, 8, 8};

  double first_loss = 0, loss = 0;
  for (int step = 0; step < 20; ++step) {
    table->forward({&bags, 1}, cembed::Pooling::Sum, {&out_view, 1});
    // Your loss: pull the pooled vectors of the non-empty bags towards 1 (squared error;
    // the empty bag pools to zeros and has no parameters to move).
    loss = 0;
    for (int b : {0, 2}) {
      for (int j = 0; j < 8; ++j) {
        const float diff = out[b * 8 + j] - 1.0f;
        loss += 0.5 * diff * diff;
        grad[b * 8 + j] = diff;
      }
    }
    if (step == 0) first_loss = loss;
    const cembed::ConstMatrixView grad_view{grad.data(), 3, 8, 8};
    table->backward({&bags, 1}, cembed::Pooling::Sum, {&grad_view, 1}, /*lr=*/0.1f);
  }
  std::printf("table %s: %lld parameter bytes, loss %.4f at the first step, %.4f after 20\n", table->spec().c_str(),
              static_cast<long long>(table->parameter_bytes()), first_loss, loss);
  return loss / first_loss;
}

// Part 2: DLRM on synthetic Criteo-shaped data with QR embeddings at 16x less memory.
double train_a_model(const std::string& folder) {
  cembed::SyntheticConfig data;
  data.train_rows = 20000;
  data.test_rows = 5000;
  cembed::write_synthetic(data, folder, /*threads=*/2);

  cembed::TrainConfig config;
  config.train_path = folder + "/train.cds";
  config.test_path = folder + "/test.cds";
  config.embedding = "qr";
  config.budget = cembed::Budget::ratio(16);
  config.model.bottom_hidden = {64, 32};  // then a layer of dim (16)
  config.model.top_hidden = {64};         // then a layer of 1
  config.optimizer = "adagrad";
  config.lr.base = 0.01f;
  config.progress = false;
  const nlohmann::json report = cembed::train(config);
  const double auc = report["test"]["auc"].get<double>();
  std::printf("DLRM with %s: test AUC %.4f, %lld embedding bytes (full tables: %lld)\n", config.embedding.c_str(), auc,
              report["embedding"]["parameter_bytes"].get<long long>(),
              report["embedding"]["full_bytes"].get<long long>());
  return auc;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const double loss_ratio = table_in_your_own_loop();
    const double auc = train_a_model(argc > 1 ? argv[1] : "example_data");
    // The example is also a test: the table learned and the model beats chance.
    return (std::isfinite(loss_ratio) && loss_ratio < 0.5 && auc > 0.6) ? 0 : 1;
  } catch (const cembed::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
}
