// A table owned by Python (cembed.Table), and the calls shared with the collection's tables.
#pragma once

#include <string>

#include "arrays.h"
#include "cembed/embedding_table.h"

namespace cembed::python {

class TableHandle {
 public:
  explicit TableHandle(EmbeddingTablePtr table) : table_(std::move(table)) {}
  EmbeddingTable& get() { return *table_; }

 private:
  EmbeddingTablePtr table_;
};

// [(weights, state or None)] views of every parameter matrix, kept alive by `owner`.
py::list table_blocks(EmbeddingTable& t, const py::object& owner);
OptimizerConfig optimizer_config(const std::string& kind, float eps, float initial_accumulator);
py::bytes table_state_bytes(const EmbeddingTable& t);
void table_load_state_bytes(EmbeddingTable& t, const std::string& bytes, const std::string& context);

}  // namespace cembed::python
