// DLRM's dot interaction. Input T: B x V x d (V = 1 + number of embedded features; vector 0
// is the bottom MLP's output). Output R: B x (d + V(V-1)/2):
//   R[b, 0:d]     = T[b, 0, :]
//   R[b, d + p]   = <T[b, i, :], T[b, j, :]> for the p-th pair (i, j), j < i, ordered by i
//                   then j (PyTorch DLRM's li/lj order without self-interaction).
// The sums' order, the same on every CPU, is src/kernels/interaction_kernels.h's.
#pragma once

#include <cstdint>

namespace cembed {

class DotInteraction {
 public:
  DotInteraction(int64_t num_vectors, int64_t dim) : v_(num_vectors), d_(dim) {}
  int64_t num_vectors() const { return v_; }
  int64_t dim() const { return d_; }
  int64_t output_dim() const { return d_ + v_ * (v_ - 1) / 2; }

  void forward(const float* t, int64_t batch, float* r) const;
  // dr: B x output_dim. Writes (overwrites) dt: B x V x d.
  void backward(const float* t, const float* dr, int64_t batch, float* dt) const;

 private:
  int64_t v_, d_;
};

}  // namespace cembed
