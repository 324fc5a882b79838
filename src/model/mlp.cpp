#include "cembed/mlp.h"

#include <cmath>

#include "kernels/dense_kernels.h"
#include "util/check.h"
#include "util/random.h"

namespace cembed {

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

const float* Mlp::forward(const float* x, int64_t batch) {
  input_ = x;
  batch_ = batch;
  const float* in = x;
  for (size_t i = 0; i < layers_.size(); ++i) {
    auto& l = layers_[i];
    l.output.resize(batch * l.out);
    kernels::gemm(false, true, batch, l.out, l.in, 1.0f, in, l.in, l.weight.data(), l.in, 0.0f, l.output.data(), l.out);
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
    grad_a_.resize(n);
    if (relu) {
      kernels::relu_backward(l.output.data(), g, grad_a_.data(), n);
    } else {
      std::copy(g, g + n, grad_a_.begin());
    }
    const float* in = i == 0 ? input_ : layers_[i - 1].output.data();
    kernels::gemm(true, false, l.out, l.in, batch_, 1.0f, grad_a_.data(), l.out, in, l.in, 0.0f, l.dweight.data(),
                  l.in);
    kernels::column_sums(grad_a_.data(), batch_, l.out, l.dbias.data());
    float* target = dx;
    if (i > 0) {
      grad_b_.resize(batch_ * l.in);
      target = grad_b_.data();
    }
    if (target != nullptr) {
      kernels::gemm(false, false, batch_, l.in, l.out, 1.0f, grad_a_.data(), l.out, l.weight.data(), l.in, 0.0f, target,
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
