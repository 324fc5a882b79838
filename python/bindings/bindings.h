// The parts of the cembed._cembed extension module, one register function per file.
#pragma once

#include <pybind11/pybind11.h>

namespace cembed::python {

namespace py = pybind11;

void register_tables(py::module_& m);      // table_binding.cpp: Table, Signatures
void register_collection(py::module_& m);  // collection_binding.cpp: Plan, Collection
void register_engine(py::module_& m);      // engine_binding.cpp: train, sweep, prepare, datasets

}  // namespace cembed::python
