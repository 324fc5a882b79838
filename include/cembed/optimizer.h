// Optimizer settings shared by dense layers and embedding tables.
//
// Embedding tables apply their update inside backward (fused), so no dense gradient of a
// table is ever built. The update rules, for a parameter w with gradient g (for tables, g
// is the sum of the gradients of every occurrence of a row in the batch):
//   sgd:              w -= lr * g
//   adagrad:          s += g*g;                  w -= lr * g / (sqrt(s) + eps)   (per element)
//   rowwise_adagrad:  s_row += mean_j(g_j*g_j);  w -= lr * g / (sqrt(s_row) + eps)
//   gradient:         s += lr * g                (per element; w is left as it is)
// rowwise_adagrad keeps one float of state per row; dense layers treat it as adagrad.
// gradient is not a training rule: it accumulates each table's gradient into its state, so
// that an outside optimizer (PyTorch's, through the Python package: docs/python.md) can
// apply it. Tables only; parse_optimizer_kind accepts it only when asked to.
#pragma once

#include <cstdint>
#include <string>

namespace cembed {

enum class OptimizerKind { Sgd, Adagrad, RowwiseAdagrad, Gradient };

struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::Sgd;
  float eps = 1e-10f;  // adagrad denominators (PyTorch's default)
  float initial_accumulator = 0.0f;
};

// "sgd", "adagrad", "rowwise_adagrad"; "gradient" too when allow_gradient.
OptimizerKind parse_optimizer_kind(const std::string& name, bool allow_gradient = false);
std::string optimizer_kind_name(OptimizerKind kind);

// Floats of optimizer state for a table of `rows` x `dim` parameters.
int64_t optimizer_state_floats(OptimizerKind kind, int64_t rows, int64_t dim);

}  // namespace cembed
