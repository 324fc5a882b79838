// Zipf sampler by rejection-inversion (Hörmann & Derflinger 1996): draws k in [1, n] with
// P(k) proportional to k^-s in O(1) expected time and O(1) memory, for any n.
#pragma once

#include <cmath>
#include <cstdint>

#include "util/random.h"

namespace cembed {

class ZipfSampler {
 public:
  ZipfSampler(int64_t n, double exponent) : n_(n), s_(exponent) {
    h_x1_ = h_integral(1.5) - 1.0;
    h_n_ = h_integral(static_cast<double>(n_) + 0.5);
    shift_ = 2.0 - h_integral_inverse(h_integral(2.5) - h(2.0));
  }

  int64_t sample(Rng& rng) const {
    while (true) {
      const double u = h_n_ + rng.uniform() * (h_x1_ - h_n_);
      const double x = h_integral_inverse(u);
      auto k = static_cast<int64_t>(x + 0.5);
      if (k < 1) k = 1;
      if (k > n_) k = n_;
      if (static_cast<double>(k) - x <= shift_ ||
          u >= h_integral(static_cast<double>(k) + 0.5) - h(static_cast<double>(k))) {
        return k;
      }
    }
  }

 private:
  double h(double x) const { return std::exp(-s_ * std::log(x)); }
  // Integral of h from 1 to x (up to a constant): (x^(1-s) - 1) / (1 - s), or log x at s = 1.
  double h_integral(double x) const {
    const double lx = std::log(x);
    return helper_expm1_over_x((1.0 - s_) * lx) * lx;
  }
  double h_integral_inverse(double x) const {
    double t = x * (1.0 - s_);
    if (t < -1.0) t = -1.0;
    return std::exp(helper_log1p_over_x(t) * x);
  }
  static double helper_expm1_over_x(double x) { return std::abs(x) > 1e-8 ? std::expm1(x) / x : 1.0 + x * 0.5; }
  static double helper_log1p_over_x(double x) { return std::abs(x) > 1e-8 ? std::log1p(x) / x : 1.0 - x * 0.5; }

  int64_t n_;
  double s_;
  double h_x1_, h_n_, shift_;
};

}  // namespace cembed
