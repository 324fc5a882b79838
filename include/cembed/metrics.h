// Evaluation metrics for binary labels (0/1).
#pragma once

#include <span>

namespace cembed {

// Area under the ROC curve; tied scores count one half (average ranks), as sklearn's
// roc_auc_score. Returns NaN when only one class is present.
double roc_auc(std::span<const float> scores, std::span<const float> labels);

// Mean log loss of probabilities p against labels, p clipped to [eps, 1 - eps].
double log_loss(std::span<const float> probabilities, std::span<const float> labels, double eps = 1e-7);

}  // namespace cembed
