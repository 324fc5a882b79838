// The method registry: one entry per embedding method. To add a method, write its file in
// this folder with a `MethodEntry name_method()` function and add `CEMBED_METHOD(name)` to
// methods.def (which declares it below and registers it in registry.cpp).
#pragma once

#include <vector>

#include "cembed/factory.h"

namespace cembed {

struct MethodEntry {
  MethodInfo info;
  EmbeddingTablePtr (*build)(const Spec& spec, const TableShape& shape);
  int64_t (*parameter_bytes)(const Spec& spec, const TableShape& shape);
  Spec (*fit)(const Spec& spec, const TableShape& shape, int64_t budget_bytes);
  bool (*is_sized)(const Spec& spec);
  // Smallest parameter bytes the method can take for `shape` (any size).
  int64_t (*min_bytes)(const Spec& spec, const TableShape& shape);
  // How the planner shares a budget among features: in proportion to this weight (null:
  // the feature's full-table bytes). Mixed dimensions use n^(1 - alpha).
  double (*share_weight)(const Spec& spec, const TableShape& shape) = nullptr;
};

const std::vector<MethodEntry>& method_registry();

#define CEMBED_METHOD(name) MethodEntry name##_method();
#include "embedding/methods.def"
#undef CEMBED_METHOD

}  // namespace cembed
