// cembed.Plan (the memory planner) and cembed.Collection (every feature's tables, built
// from a plan, run in parallel): the layer under cembed.torch.EmbeddingBagCollection.
#include <pybind11/stl.h>

#include <nlohmann/json.hpp>

#include "bag_input.h"
#include "bindings.h"
#include "cembed/collection.h"
#include "cembed/memory_plan.h"
#include "cembed/train_config.h"
#include "table_access.h"
#include "util/binary_io.h"

namespace cembed::python {

namespace {

Budget budget_of(const py::object& budget, const py::object& compression) {
  if (!budget.is_none() && !compression.is_none()) throw py::value_error("give budget or compression, not both");
  if (!compression.is_none()) return Budget::ratio(compression.cast<double>());
  if (budget.is_none()) return Budget::none();
  if (py::isinstance<py::str>(budget)) return Budget::parse_bytes(budget.cast<std::string>());
  return Budget::bytes(budget.cast<double>());
}

// Output / gradient views of B x F x dim.
template <typename View, typename Ptr>
std::vector<View> slot_views(Ptr data, int64_t batch, int features, int64_t dim) {
  std::vector<View> out;
  for (int f = 0; f < features; ++f) out.push_back(View(data + f * dim, batch, dim, features * dim));
  return out;
}

}  // namespace

void register_collection(py::module_& m) {
  py::class_<MemoryPlan>(m, "Plan", "A memory plan: per-feature sized specs and their exact bytes (cembed plan).")
      .def_readonly("method", &MemoryPlan::method)
      .def_readonly("dim", &MemoryPlan::dim)
      .def_readonly("budget_bytes", &MemoryPlan::budget_bytes)
      .def_property_readonly("feature_names",
                             [](const MemoryPlan& p) {
                               std::vector<std::string> out;
                               for (const auto& f : p.features) out.push_back(f.name);
                               return out;
                             })
      .def_property_readonly("cardinalities",
                             [](const MemoryPlan& p) {
                               std::vector<int64_t> out;
                               for (const auto& f : p.features) out.push_back(f.cardinality);
                               return out;
                             })
      .def_property_readonly("tables",
                             [](const MemoryPlan& p) {
                               py::list out;
                               for (const auto& t : p.tables) {
                                 out.append(py::make_tuple(t.spec, t.features, t.parameter_bytes));
                               }
                               return out;
                             })
      .def("full_bytes", &MemoryPlan::full_bytes)
      .def("parameter_bytes", &MemoryPlan::parameter_bytes)
      .def("describe", &MemoryPlan::describe)
      .def("__str__", &MemoryPlan::describe)
      .def("to_json", [](const MemoryPlan& p) { return p.to_json().dump(); })
      .def_static("from_json",
                  [](const std::string& text) { return MemoryPlan::from_json(nlohmann::json::parse(text)); });

  m.def(
      "plan",
      [](const std::string& method, const std::vector<std::pair<std::string, int64_t>>& features, int64_t dim,
         const py::object& budget, const py::object& compression, int64_t small_threshold) {
        std::vector<FeatureInfo> info;
        for (const auto& [name, card] : features) info.push_back({name, card});
        return plan_memory(method, info, dim, budget_of(budget, compression), small_threshold);
      },
      py::arg("method"), py::arg("features"), py::arg("dim"), py::arg("budget") = py::none(),
      py::arg("compression") = py::none(), py::arg("small_threshold") = 200,
      R"(Plans the tables of every feature: features is [(name, cardinality)], budget bytes
("4MiB" or a number) or compression a ratio of the full tables; neither: sized specs as given.)");

  py::class_<EmbeddingCollection>(m, "Collection", "The tables of every feature of a plan (EmbeddingCollection).")
      .def(py::init<MemoryPlan>(), py::arg("plan"))
      .def_property_readonly("plan", &EmbeddingCollection::plan)
      .def_property_readonly("num_features", &EmbeddingCollection::num_features)
      .def_property_readonly("num_tables", &EmbeddingCollection::num_tables)
      .def_property_readonly("dim", &EmbeddingCollection::dim)
      .def("parameter_bytes", &EmbeddingCollection::parameter_bytes)
      .def("optimizer_bytes", &EmbeddingCollection::optimizer_bytes)
      .def("auxiliary_bytes", &EmbeddingCollection::auxiliary_bytes)
      .def("needed_signatures",
           [](const EmbeddingCollection& c) {
             std::vector<std::string> out;
             for (auto k : c.needed_signatures()) out.push_back(signature_kind_name(k));
             return out;
           })
      .def("attach_signatures", &EmbeddingCollection::attach_signatures, py::arg("signatures"))
      .def("init", &EmbeddingCollection::init, py::arg("seed"))
      .def(
          "set_optimizer",
          [](EmbeddingCollection& c, const std::string& kind, float eps, float init) {
            c.set_optimizer(optimizer_config(kind, eps, init));
          },
          py::arg("kind"), py::arg("eps") = OptimizerConfig{}.eps, py::arg("initial_accumulator") = 0.0f)
      .def("table_spec", [](EmbeddingCollection& c, int t) { return c.table(t).spec(); })
      .def(
          "blocks",
          [](py::object self, int t) {
            auto& c = self.cast<EmbeddingCollection&>();
            if (t < 0 || t >= c.num_tables()) throw py::index_error("table " + std::to_string(t) + " out of range");
            return table_blocks(c.table(t), self);
          },
          py::arg("table"))
      .def(
          "forward",
          [](EmbeddingCollection& c, const py::array& values, const py::array& offsets, const py::object& weights,
             const std::string& mode, bool include_last, py::object out) {
            BagInput in;
            in.add_keyed(values, offsets, weights, c.num_features(), include_last);
            const Pooling pooling = parse_pooling(mode, "mode");
            const int64_t batch = in.batch_size();
            if (out.is_none()) out = py::array_t<float>({batch, static_cast<int64_t>(c.num_features()), c.dim()});
            const auto arr = out.cast<py::array>();
            if (!arr.writeable()) throw py::value_error("out: array is read-only");
            float* data = float_data(arr, "out", {batch, c.num_features(), c.dim()});
            const auto views = slot_views<MatrixView>(data, batch, c.num_features(), c.dim());
            {
              py::gil_scoped_release release;
              c.forward(in.bags(), pooling, views);
            }
            return arr;
          },
          py::arg("values"), py::arg("offsets"), py::arg("per_sample_weights") = py::none(), py::arg("mode") = "sum",
          py::arg("include_last_offset") = true, py::arg("out") = py::none(),
          "Pooled vectors B x F x dim of a keyed input: values of every feature one after the other, offsets "
          "F * B (+1 with include_last_offset) bag starts into values.")
      .def(
          "backward",
          [](EmbeddingCollection& c, const py::array& values, const py::array& offsets, const py::array& grad,
             const py::object& weights, const std::string& mode, bool include_last, float lr) {
            BagInput in;
            in.add_keyed(values, offsets, weights, c.num_features(), include_last);
            const Pooling pooling = parse_pooling(mode, "mode");
            const int64_t batch = in.batch_size();
            const float* data = float_data(grad, "grad", {batch, c.num_features(), c.dim()});
            const auto views = slot_views<ConstMatrixView>(data, batch, c.num_features(), c.dim());
            py::gil_scoped_release release;
            c.backward(in.bags(), pooling, views, lr);
          },
          py::arg("values"), py::arg("offsets"), py::arg("grad"), py::arg("per_sample_weights") = py::none(),
          py::arg("mode") = "sum", py::arg("include_last_offset") = true, py::arg("lr") = 1.0f)
      .def("state_bytes",
           [](const EmbeddingCollection& c) {
             BinaryWriter w;
             c.save(w);
             return py::bytes(w.bytes());
           })
      .def(
          "load_state_bytes",
          [](EmbeddingCollection& c, const std::string& bytes) {
            BinaryReader r(bytes.data(), bytes.size(), "collection state");
            c.load(r);
            r.expect_end();
          },
          py::arg("data"));
}

}  // namespace cembed::python
