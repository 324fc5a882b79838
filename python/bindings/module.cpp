// cembed._cembed: the Python extension over cembed_core (docs/python.md). The pure-Python
// package (python/cembed) imports it; engine errors arrive as cembed.Error (a ValueError)
// carrying the C++ message.
#include "bindings.h"
#include "cembed/build_info.h"
#include "cembed/errors.h"
#include "cembed/trainer.h"

PYBIND11_MODULE(_cembed, m) {
  namespace py = pybind11;
  m.doc() = "cembed: compressed embedding tables (C++ core)";
  static py::exception<cembed::Error> error(m, "Error", PyExc_ValueError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const cembed::Error& e) {
      error(e.what());
    }
  });
  m.def("set_num_threads", &cembed::set_num_threads, py::arg("threads"),
        "Threads of the engine's OpenMP loops (tables in parallel, kernels).");
  cembed::python::register_tables(m);
  cembed::python::register_collection(m);
  cembed::python::register_engine(m);
}
