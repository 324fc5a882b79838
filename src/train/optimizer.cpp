#include "cembed/optimizer.h"

#include "util/check.h"

namespace cembed {

OptimizerKind parse_optimizer_kind(const std::string& name, bool allow_gradient) {
  if (name == "sgd") return OptimizerKind::Sgd;
  if (name == "adagrad") return OptimizerKind::Adagrad;
  if (name == "rowwise_adagrad" || name == "rowwise-adagrad") return OptimizerKind::RowwiseAdagrad;
  if (allow_gradient && name == "gradient") return OptimizerKind::Gradient;
  fail("unknown optimizer '{}' (valid: sgd, adagrad, rowwise_adagrad{})", name, allow_gradient ? ", gradient" : "");
}

std::string optimizer_kind_name(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::Sgd:
      return "sgd";
    case OptimizerKind::Adagrad:
      return "adagrad";
    case OptimizerKind::RowwiseAdagrad:
      return "rowwise_adagrad";
    case OptimizerKind::Gradient:
      return "gradient";
  }
  return "?";
}

int64_t optimizer_state_floats(OptimizerKind kind, int64_t rows, int64_t dim) {
  switch (kind) {
    case OptimizerKind::Sgd:
      return 0;
    case OptimizerKind::Adagrad:
      return rows * dim;
    case OptimizerKind::RowwiseAdagrad:
      return rows;
    case OptimizerKind::Gradient:
      return rows * dim;
  }
  return 0;
}

}  // namespace cembed
