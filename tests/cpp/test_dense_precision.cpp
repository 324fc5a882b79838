// --dense-precision bf16: the MLP's bf16 forward and backward against a double-precision
// reference of the same formula (every GEMM input rounded to bfloat16), DLRM training in
// bf16 against fp32, and the setting's checks.
#include <gtest/gtest.h>

#include <cmath>

#include "cembed/dlrm.h"
#include "cembed/mlp.h"
#include "cembed/train_config.h"
#include "dlrm_batches.h"
#include "kernels/gemm_bf16.h"

namespace cembed {
namespace {

using kernels::round_to_bf16;

// y (rows x out) = round(x) (rows x in) * round(w)^T (w: out x in), in double.
std::vector<double> rounded_product(const std::vector<float>& x, const std::vector<float>& w, int64_t rows, int64_t in,
                                    int64_t out) {
  std::vector<double> y(rows * out, 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t o = 0; o < out; ++o) {
      for (int64_t i = 0; i < in; ++i)
        y[r * out + o] += double{round_to_bf16(x[r * in + i])} * round_to_bf16(w[o * in + i]);
    }
  }
  return y;
}

// A two-layer MLP (ReLU after the first) in bf16: its output, weight gradients and input
// gradient against the formula computed in double from the same fp32 intermediates.
TEST(DensePrecision, Bf16MlpMatchesTheRoundedFormula) {
  SCOPED_TRACE(kernels::bf16_path_name());
  const int64_t batch = 37, in = 29, hidden = 45, out = 3;
  Mlp mlp({in, hidden, out}, false);
  mlp.init(5);
  Rng rng(6);
  const auto x = testing::random_vector(rng, batch * in);
  const auto dy = testing::random_vector(rng, batch * out);
  const float* y = mlp.forward(x.data(), batch, DensePrecision::Bf16);
  std::vector<float> dx(batch * in);
  mlp.backward(dy.data(), dx.data());
  const LinearLayer &l0 = mlp.layer(0), &l1 = mlp.layer(1);
  // Tolerance: fp32 summation of at most 45 exact products, plus the fp32 bias addition.
  auto expect_close = [](const std::vector<double>& ref, const float* got, const std::string& what) {
    for (size_t i = 0; i < ref.size(); ++i) {
      ASSERT_TRUE(testing::close(got[i], ref[i], 1e-5, 1e-5))
          << what << "[" << i << "] = " << got[i] << ", reference " << ref[i];
    }
  };
  // Forward: h = relu(round(x) round(W0)^T + b0), y = round(h) round(W1)^T + b1, h as the
  // MLP computed it (fp32), so that the reference checks each layer on its own input.
  auto h = rounded_product(x, l0.weight, batch, in, hidden);
  for (int64_t r = 0; r < batch; ++r) {
    for (int64_t j = 0; j < hidden; ++j) h[r * hidden + j] = std::max(0.0, h[r * hidden + j] + l0.bias[j]);
  }
  expect_close(h, l0.output.data(), "hidden");
  auto y_ref = rounded_product(l0.output, l1.weight, batch, hidden, out);
  for (int64_t r = 0; r < batch; ++r) {
    for (int64_t j = 0; j < out; ++j) y_ref[r * out + j] += l1.bias[j];
  }
  expect_close(y_ref, y, "output");
  // Backward: dW1 = round(dy)^T round(h); dh = relu'(h) * (round(dy) round(W1));
  // dW0 = round(dh)^T round(x); dx = round(dh) round(W0).
  std::vector<double> dw1(out * hidden, 0.0), dh(batch * hidden, 0.0), dw0(hidden * in, 0.0), dx_ref(batch * in, 0.0);
  for (int64_t r = 0; r < batch; ++r) {
    for (int64_t o = 0; o < out; ++o) {
      const double g = round_to_bf16(dy[r * out + o]);
      for (int64_t j = 0; j < hidden; ++j) {
        dw1[o * hidden + j] += g * round_to_bf16(l0.output[r * hidden + j]);
        dh[r * hidden + j] += g * round_to_bf16(l1.weight[o * hidden + j]);
      }
    }
  }
  std::vector<float> dh32(batch * hidden);
  for (int64_t i = 0; i < batch * hidden; ++i) {
    if (l0.output[i] <= 0.0f) dh[i] = 0.0;
    dh32[i] = static_cast<float>(dh[i]);
  }
  for (int64_t r = 0; r < batch; ++r) {
    for (int64_t j = 0; j < hidden; ++j) {
      const double g = round_to_bf16(dh32[r * hidden + j]);
      for (int64_t i = 0; i < in; ++i) {
        dw0[j * in + i] += g * round_to_bf16(x[r * in + i]);
        dx_ref[r * in + i] += g * round_to_bf16(l0.weight[j * in + i]);
      }
    }
  }
  expect_close(dw1, l1.dweight.data(), "dW1");
  expect_close(dw0, l0.dweight.data(), "dW0");
  expect_close(dx_ref, dx.data(), "dx");
  // And it is not fp32's: the same MLP in fp32 gives another output.
  const std::vector<float> y_bf16(y, y + batch * out);
  const float* y32 = mlp.forward(x.data(), batch);
  EXPECT_NE(testing::describe_difference({{"y", y_bf16}}, {{"y", std::vector<float>(y32, y32 + batch * out)}}), "");
}

// DLRM trained in bf16 follows fp32's loss closely and learns; evaluation computes in fp32.
TEST(DensePrecision, Bf16TrainingFollowsFp32) {
  const std::vector<int64_t> cards = {40, 25};
  const auto features = testing::numbered_features(cards);
  DlrmConfig cfg;
  cfg.num_dense = 4;
  cfg.dim = 8;
  cfg.bottom_hidden = {32};
  cfg.top_hidden = {32};
  auto make = [&](DensePrecision p) {
    auto m = std::make_unique<Dlrm>(cfg, plan_memory("full", features, cfg.dim, Budget::none(), 0));
    m->init(3);
    m->set_optimizers({OptimizerKind::Adagrad}, {OptimizerKind::Adagrad});
    m->set_training_precision(p);
    return m;
  };
  auto fp32 = make(DensePrecision::Fp32), bf16 = make(DensePrecision::Bf16);
  EXPECT_EQ(bf16->training_precision(), DensePrecision::Bf16);
  Rng rng(4);
  std::vector<Batch> batches;
  for (int s = 0; s < 60; ++s)
    batches.push_back(testing::random_dlrm_batch(rng, 64, cfg.num_dense, cards, {.learnable_labels = true}));
  double first32 = 0, first16 = 0, last32 = 0, last16 = 0;
  for (int s = 0; s < 60; ++s) {
    const double l32 = fp32->train_step(batches[s], 0.05f), l16 = bf16->train_step(batches[s], 0.05f);
    if (s == 0) {
      first32 = l32;
      first16 = l16;
      EXPECT_NE(l32, l16) << "the first step's loss is computed in each precision";
      EXPECT_NEAR(l16, l32, 0.01 * l32);
    }
    if (s >= 50) {
      last32 += l32 / 10;
      last16 += l16 / 10;
    }
  }
  EXPECT_LT(last32, 0.7 * first32) << "fp32 training learns";
  EXPECT_LT(last16, 0.7 * first16) << "bf16 training learns";
  EXPECT_NEAR(last16, last32, 0.05 * last32) << "and follows fp32";
  // Evaluation: forward() computes in fp32, whatever the training precision.
  std::vector<float> logits, again;
  bf16->forward(batches[0], logits);
  bf16->set_training_precision(DensePrecision::Fp32);
  bf16->forward(batches[0], again);
  EXPECT_EQ(testing::describe_difference({{"logits", logits}}, {{"logits", again}}), "");
}

TEST(DensePrecision, TheSettingIsCheckedAndNamed) {
  EXPECT_EQ(parse_dense_precision("bf16"), DensePrecision::Bf16);
  EXPECT_EQ(parse_dense_precision("fp32"), DensePrecision::Fp32);
  EXPECT_EQ(dense_precision_name(DensePrecision::Bf16), "bf16");
  EXPECT_EQ(TrainConfig{}.dense_precision, "fp32");
  TrainConfig c;
  c.train_path = "t.cds";
  c.dense_precision = "fp16";
  const std::string message = testing::error_of([&] { c.validate(); });
  EXPECT_NE(message.find("--dense-precision must be fp32 or bf16, got 'fp16'"), std::string::npos) << message;
  // A file written before the setting reads as fp32.
  nlohmann::json j = TrainConfig{}.to_json();
  j.erase("dense_precision");
  EXPECT_EQ(TrainConfig::from_json(j).dense_precision, "fp32");
  // And it is part of the model's identity: a run may not resume in another precision.
  TrainConfig a, b;
  b.dense_precision = "bf16";
  const auto diff = first_identity_difference(a, b);
  ASSERT_TRUE(diff.has_value());
  EXPECT_EQ(diff->name, "--dense-precision");
}

}  // namespace
}  // namespace cembed
