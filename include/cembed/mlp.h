// Mlp: a stack of fully connected layers, y = act(x W^T + b), with ReLU after every layer
// or after all but the last. Shapes: input B x sizes[0], layer l maps sizes[l] -> sizes[l+1],
// W_l is sizes[l+1] x sizes[l] row-major (PyTorch's nn.Linear layout).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cembed {

// The arithmetic of an MLP's GEMMs: fp32, or bf16 (inputs and weights rounded to bfloat16,
// products summed in fp32: kernels/gemm_bf16.h). Weights, biases, activations and every
// other operation stay fp32 either way.
enum class DensePrecision { Fp32, Bf16 };
// "fp32", "bf16", and back (throws cembed::Error naming `what` on anything else).
std::string dense_precision_name(DensePrecision p);
DensePrecision parse_dense_precision(const std::string& name, std::string_view what = "dense precision");

struct LinearLayer {
  int64_t in = 0, out = 0;
  std::vector<float> weight, bias;    // out x in, out
  std::vector<float> dweight, dbias;  // gradients of the last backward()
  std::vector<float> output;          // B x out, after the activation
};

class Mlp {
 public:
  Mlp(std::vector<int64_t> sizes, bool relu_on_last);

  int64_t input_dim() const { return sizes_.front(); }
  int64_t output_dim() const { return sizes_.back(); }
  const std::vector<int64_t>& sizes() const { return sizes_; }
  int num_layers() const { return static_cast<int>(layers_.size()); }
  LinearLayer& layer(int l) { return layers_[l]; }
  const LinearLayer& layer(int l) const { return layers_[l]; }

  // DLRM's initialisation: W ~ N(0, 2/(in+out)), b ~ N(0, 1/out).
  void init(uint64_t seed);
  // x: B x input_dim. Keeps a pointer to x and every layer's output for backward().
  // Returns the B x output_dim output (owned by the Mlp).
  const float* forward(const float* x, int64_t batch, DensePrecision precision = DensePrecision::Fp32);
  // dy: B x output_dim. Fills every layer's dweight/dbias; writes dx (B x input_dim) when
  // dx is not null. Its GEMMs run in the precision of the last forward().
  void backward(const float* dy, float* dx);

  // Parameters and their gradients, in order W_0, b_0, W_1, b_1, ...
  std::vector<std::span<float>> parameters();
  std::vector<std::span<float>> gradients();
  int64_t parameter_count() const;

 private:
  std::vector<int64_t> sizes_;
  bool relu_on_last_;
  std::vector<LinearLayer> layers_;
  const float* input_ = nullptr;
  int64_t batch_ = 0;
  DensePrecision precision_ = DensePrecision::Fp32;
  std::vector<float> grad_a_, grad_b_;
};

}  // namespace cembed
