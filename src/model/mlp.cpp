#include "cembed/mlp.h"

#include <cmath>

#include "kernels/dense_kernels.h"
#include "kernels/gemm_bf16.h"
#include "util/check.h"
#include "util/random.h"

namespace cembed {
namespace {

// kernels::gemm or kernels::gemm_bf16 (the same arguments).
void layer_gemm(DensePrecision p, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a,
                int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc) {
  if (p == DensePrecision::Bf16) {
    kernels::gemm_bf16(trans_a, trans_b, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
  } else {
    kernels::gemm(trans_a, trans_b, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
  }
}

// At least n elements. The backward's scratch serves layers of every width in turn: grown
// once to the widest, never shrunk, so that no step fills it again (resize() zeroed each
// layer's growth at every step).
void grow(std::vector<float>& v, int64_t n) {
  if (v.size() < static_cast<size_t>(n)) v.resize(n);
}

}  // namespace

std::string dense_precision_name(DensePrecision p) { return p == DensePrecision::Bf16 ? "bf16" : "fp32"; }

DensePrecision parse_dense_precision(const std::string& name, std::string_view what) {
  CEMBED_CHECK(name == "fp32" || name == "bf16", "{} must be fp32 or bf16, got '{}'", what, name);
  return name == "bf16" ? DensePrecision::Bf16 : DensePrecision::Fp32;
}

Mlp::Mlp(std::vector<int64_t> sizes, bool relu_on_last) : sizes_(std::move(sizes)), relu_on_last_(relu_on_last) {
  CEMBED_CHECK(sizes_.size() >= 2, "an MLP needs at least an input and an output size");
  for (size_t l = 0; l + 1 < sizes_.size(); ++l) {
    CEMBED_CHECK(sizes_[l] > 0 && sizes_[l + 1] > 0, "MLP layer sizes must be positive");
    LinearLayer layer;
    layer.in = sizes_[l];
    layer.out = sizes_[l + 1];
    layer.weight.resize(layer.out * layer.in);
    layer.dweight.resize(layer.out * layer.in);
    layer.bias.resize(layer.out);
    layer.dbias.resize(layer.out);
    layers_.push_back(std::move(layer));
  }
}

void Mlp::init(uint64_t seed) {
  Rng rng(seed);
  for (auto& l : layers_) {
    const double w_std = std::sqrt(2.0 / static_cast<double>(l.in + l.out));
    const double b_std = std::sqrt(1.0 / static_cast<double>(l.out));
    for (float& w : l.weight) w = static_cast<float>(rng.normal() * w_std);
    for (float& b : l.bias) b = static_cast<float>(rng.normal() * b_std);
  }
}

const float* Mlp::forward(const float* x, int64_t batch, DensePrecision precision) {
  input_ = x;
  batch_ = batch;
  precision_ = precision;
  const float* in = x;
  for (size_t i = 0; i < layers_.size(); ++i) {
    auto& l = layers_[i];
    l.output.resize(batch * l.out);
    layer_gemm(precision, false, true, batch, l.out, l.in, in, l.in, l.weight.data(), l.in, l.output.data(), l.out);
    const bool relu = i + 1 < layers_.size() || relu_on_last_;
    kernels::add_bias_activation(l.output.data(), l.bias.data(), batch, l.out, relu);
    in = l.output.data();
  }
  return in;
}

void Mlp::backward(const float* dy, float* dx) {
  CEMBED_CHECK(input_ != nullptr, "Mlp::backward() called before forward()");
  // g: d loss / d output of layer i (dy, then grad_b_); grad_a_: d loss / d pre-activation.
  const float* g = dy;
  for (int i = static_cast<int>(layers_.size()) - 1; i >= 0; --i) {
    auto& l = layers_[i];
    const int64_t n = batch_ * l.out;
    const bool relu = i + 1 < static_cast<int>(layers_.size()) || relu_on_last_;
    grow(grad_a_, n);
    if (relu) {
      kernels::relu_backward(l.output.data(), g, grad_a_.data(), n);
    } else {
      std::copy(g, g + n, grad_a_.data());
    }
    const float* in = i == 0 ? input_ : layers_[i - 1].output.data();
    layer_gemm(precision_, true, false, l.out, l.in, batch_, grad_a_.data(), l.out, in, l.in, l.dweight.data(), l.in);
    kernels::column_sums(grad_a_.data(), batch_, l.out, l.dbias.data());
    float* target = dx;
    if (i > 0) {
      grow(grad_b_, batch_ * l.in);
      target = grad_b_.data();
    }
    if (target != nullptr) {
      layer_gemm(precision_, false, false, batch_, l.in, l.out, grad_a_.data(), l.out, l.weight.data(), l.in, target,
                 l.in);
    }
    g = grad_b_.data();
  }
}

std::vector<std::span<float>> Mlp::parameters() {
  std::vector<std::span<float>> out;
  for (auto& l : layers_) {
    out.emplace_back(l.weight);
    out.emplace_back(l.bias);
  }
  return out;
}

std::vector<std::span<float>> Mlp::gradients() {
  std::vector<std::span<float>> out;
  for (auto& l : layers_) {
    out.emplace_back(l.dweight);
    out.emplace_back(l.dbias);
  }
  return out;
}

int64_t Mlp::parameter_count() const {
  int64_t n = 0;
  for (const auto& l : layers_) n += l.out * l.in + l.out;
  return n;
}

}  // namespace cembed
