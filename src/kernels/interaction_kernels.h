// The dot interaction's per-sample kernels (cembed/dot_interaction.h), in Highway with
// run-time dispatch (interaction_simd.cpp), and their scalar references. The rule (the bits),
// the same on every target:
//   pairs[i (i - 1) / 2 + j] = <T_i, T_j> for j < i: one chain of fmas over k = 0, 1, ...,
//     started at zero;
//   dT[x, k] = one chain of fmas over the other vectors y = 0, 1, ... (y != x) of
//     g(x, y) * T[y, k], started at dr's dense part (x = 0) or at zero, where g(x, y) is the
//     gradient of the pair (max(x, y), min(x, y)).
#pragma once

#include <cstdint>

namespace cembed::kernels {

// One sample: t is v x dim; pairs gets v (v - 1) / 2 sums.
void dot_pairs(const float* t, int64_t v, int64_t dim, float* pairs);
void dot_pairs_reference(const float* t, int64_t v, int64_t dim, float* pairs);

// One sample: dr is the gradient of its output row (dim dense entries, then the pairs); dt
// (v x dim) is overwritten.
void pair_grads(const float* t, const float* dr, int64_t v, int64_t dim, float* dt);
void pair_grads_reference(const float* t, const float* dr, int64_t v, int64_t dim, float* dt);

}  // namespace cembed::kernels
