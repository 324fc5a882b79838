// The method registry: one entry per embedding method. To add a method, write its file in
// this folder with a `MethodEntry xxx_method()` function, declare it below and add one line
// to method_registry() in registry.cpp.
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

MethodEntry full_table_method();
MethodEntry hash_table_method();
MethodEntry qr_table_method();
MethodEntry cp_table_method();
MethodEntry path_table_method();
MethodEntry memcom_table_method();
MethodEntry robe_table_method();
MethodEntry lma_table_method();
MethodEntry md_table_method();

}  // namespace cembed
