// cembed.Table (one EmbeddingTable from the factory, numpy level) and cembed.Signatures.
#include <pybind11/stl.h>

#include "bag_input.h"
#include "bindings.h"
#include "cembed/dataset.h"
#include "cembed/factory.h"
#include "cembed/signatures.h"
#include "cembed/train_config.h"
#include "table_access.h"
#include "util/binary_io.h"
#include "util/file_format.h"

namespace cembed::python {

namespace {

// The signature settings of Signatures.from_columns and Signatures.compute, from their arguments.
SignatureConfig signature_config(const std::string& kind, int num_hashes, double sample, uint64_t seed) {
  SignatureConfig config;
  config.kind = parse_signature_kind(kind);
  config.num_hashes = num_hashes;
  config.sample = sample;
  config.seed = seed;
  return config;
}

constexpr char kTableMagic[] = "CEMBTABL";
constexpr uint32_t kTableVersion = 1;

// The bags of a call on a table of `num_features` features: arrays for one feature,
// sequences of arrays (one per feature) for several.
void read_bags(BagInput& in, int num_features, const py::object& ids, const py::object& offsets,
               const py::object& weights, bool include_last) {
  if (num_features == 1 && py::isinstance<py::array>(ids)) {
    in.add(ids.cast<py::array>(), offsets.cast<py::array>(), weights, include_last);
    return;
  }
  const auto id_list = ids.cast<py::sequence>(), off_list = offsets.cast<py::sequence>();
  if (static_cast<int>(id_list.size()) != num_features || static_cast<int>(off_list.size()) != num_features) {
    throw py::value_error("ids/offsets: one array per feature expected (" + std::to_string(num_features) + ")");
  }
  for (int f = 0; f < num_features; ++f) {
    const py::object w = weights.is_none() ? py::none() : py::object(weights.cast<py::sequence>()[f]);
    in.add(id_list[f].cast<py::array>(), off_list[f].cast<py::array>(), w, include_last);
  }
}

// The output views of a table call: B x dim for one feature, B x F x dim for several.
std::vector<int64_t> output_shape(int64_t batch, int features, int64_t dim) {
  if (features == 1) return {batch, dim};
  return {batch, features, dim};
}

}  // namespace

py::array_t<float> table_forward(EmbeddingTable& t, const py::object& ids, const py::object& offsets,
                                 const py::object& weights, const std::string& mode, bool include_last,
                                 py::object out) {
  BagInput in;
  read_bags(in, t.num_features(), ids, offsets, weights, include_last);
  const Pooling pooling = parse_pooling(mode, "mode");
  const int64_t batch = in.batch_size();
  const auto shape = output_shape(batch, t.num_features(), t.dim());
  if (out.is_none()) out = py::array_t<float>(shape);
  const auto arr = out.cast<py::array>();
  if (!arr.writeable()) throw py::value_error("out: array is read-only");
  float* data = float_data(arr, "out", shape);
  std::vector<MatrixView> views;
  for (int f = 0; f < t.num_features(); ++f) {
    views.push_back({data + f * t.dim(), batch, t.dim(), t.num_features() * t.dim()});
  }
  {
    py::gil_scoped_release release;
    t.forward(in.bags(), pooling, views);
  }
  return arr;
}

void table_backward(EmbeddingTable& t, const py::object& ids, const py::object& offsets, const py::array& grad,
                    const py::object& weights, const std::string& mode, bool include_last, float lr) {
  BagInput in;
  read_bags(in, t.num_features(), ids, offsets, weights, include_last);
  const Pooling pooling = parse_pooling(mode, "mode");
  const int64_t batch = in.batch_size();
  const float* data = float_data(grad, "grad", output_shape(batch, t.num_features(), t.dim()));
  std::vector<ConstMatrixView> views;
  for (int f = 0; f < t.num_features(); ++f) {
    views.emplace_back(data + f * t.dim(), batch, t.dim(), t.num_features() * t.dim());
  }
  py::gil_scoped_release release;
  t.backward(in.bags(), pooling, views, lr);
}

py::list table_blocks(EmbeddingTable& t, const py::object& owner) {
  py::list out;
  for (const auto& b : t.blocks()) {
    py::object state = py::none();
    if (!b.state.empty()) {
      const int64_t cols = static_cast<int64_t>(b.state.size()) / b.rows;
      state = float_view(b.state.data(), b.rows, cols, owner);
    }
    out.append(py::make_tuple(float_view(b.weights.data(), b.rows, b.width, owner), state));
  }
  return out;
}

OptimizerConfig optimizer_config(const std::string& kind, float eps, float initial_accumulator) {
  OptimizerConfig c;
  c.kind = parse_optimizer_kind(kind, true);
  c.eps = eps;
  c.initial_accumulator = initial_accumulator;
  return c;
}

py::bytes table_state_bytes(const EmbeddingTable& t) {
  BinaryWriter w;
  t.save(w);
  return py::bytes(w.bytes());
}

void table_load_state_bytes(EmbeddingTable& t, const std::string& bytes, const std::string& context) {
  BinaryReader r(bytes.data(), bytes.size(), context);
  t.load(r);
  r.expect_end();
}

void register_tables(py::module_& m) {
  py::class_<ValueSignatures>(m, "Signatures", R"(Minhash signatures of categorical values, for LMA tables.

Signatures.from_columns(columns, cardinalities, kind="rows", num_hashes=16, sample=1.0, seed=0x5c3a)
builds them from training data in memory: columns[f] is one integer array of ids (one id per
row) or an (ids, offsets) pair of CSR bags (B + 1 offsets); every feature has the same rows.
Signatures.load(path) reads a .sig file (cembed signatures / prepare --signatures);
Signatures.compute(dataset_path, ...) makes them from a .cds dataset.)")
      .def_static(
          "from_columns",
          [](const py::sequence& columns, std::vector<int64_t> cardinalities, const std::string& kind, int num_hashes,
             double sample, uint64_t seed) {
            BagInput in;
            std::vector<std::vector<uint32_t>> ones;
            for (size_t f = 0; f < columns.size(); ++f) {
              const py::object c = columns[f];
              if (py::isinstance<py::array>(c)) {
                const auto ids = c.cast<py::array>();
                py::array_t<int64_t> offsets(ids.size() + 1);
                auto o = offsets.mutable_unchecked<1>();
                for (py::ssize_t i = 0; i <= ids.size(); ++i) o(i) = i;
                in.add(ids, offsets, py::none(), true);
              } else {
                const auto pair = c.cast<py::sequence>();
                in.add(pair[0].cast<py::array>(), pair[1].cast<py::array>(), py::none(), true);
              }
            }
            const SignatureConfig config = signature_config(kind, num_hashes, sample, seed);
            py::gil_scoped_release release;
            return signatures_from_bags(in.bags(), cardinalities, config);
          },
          py::arg("columns"), py::arg("cardinalities"), py::arg("kind") = "rows", py::arg("num_hashes") = 16,
          py::arg("sample") = 1.0, py::arg("seed") = SignatureConfig{}.seed)
      .def_static("load", &load_signatures, py::arg("path"))
      .def_static(
          "compute",
          [](const std::string& path, const std::string& kind, int num_hashes, double sample, uint64_t seed) {
            const SignatureConfig config = signature_config(kind, num_hashes, sample, seed);
            py::gil_scoped_release release;
            return compute_signatures(Dataset::open(path), config);
          },
          py::arg("dataset_path"), py::arg("kind") = "rows", py::arg("num_hashes") = 16, py::arg("sample") = 1.0,
          py::arg("seed") = SignatureConfig{}.seed)
      .def(
          "save", [](const ValueSignatures& s, const std::string& path) { save_signatures(path, s); }, py::arg("path"))
      .def_property_readonly("kind", [](const ValueSignatures& s) { return signature_kind_name(s.config.kind); })
      .def_property_readonly("num_hashes", [](const ValueSignatures& s) { return s.config.num_hashes; })
      .def_property_readonly("num_features", &ValueSignatures::num_features)
      .def_property_readonly("num_values", &ValueSignatures::num_values)
      .def_property_readonly("minhashes",
                             [](const ValueSignatures& s) {
                               py::array_t<uint16_t> a({s.num_values(), static_cast<int64_t>(s.config.num_hashes)});
                               std::copy(s.minhash.begin(), s.minhash.end(), a.mutable_data());
                               return a;
                             })
      .def_property_readonly("present", [](const ValueSignatures& s) {
        py::array_t<bool> a(s.num_values());
        std::copy(s.present.begin(), s.present.end(), a.mutable_data());
        return a;
      });

  py::class_<TableHandle>(m, "Table", R"(One embedding table from a factory spec (cembed methods), numpy level.

Table(spec, num_values, dim): spec is sized ("hash:rows=4096"; cembed.fit_spec sizes one to a
budget), num_values an int or one int per feature for methods that share one array.)")
      .def(py::init([](const std::string& spec, const py::object& num_values, int64_t dim) {
             std::vector<int64_t> cards;
             if (py::isinstance<py::int_>(num_values)) {
               cards.push_back(num_values.cast<int64_t>());
             } else {
               cards = num_values.cast<std::vector<int64_t>>();
             }
             return TableHandle(make_table(spec, {dim, cards}));
           }),
           py::arg("spec"), py::arg("num_values"), py::arg("dim"))
      .def_property_readonly("spec", [](TableHandle& h) { return h.get().spec(); })
      .def_property_readonly("method", [](TableHandle& h) { return h.get().method(); })
      .def_property_readonly("dim", [](TableHandle& h) { return h.get().dim(); })
      .def_property_readonly("num_features", [](TableHandle& h) { return h.get().num_features(); })
      .def_property_readonly("cardinalities", [](TableHandle& h) { return h.get().shape().cardinalities; })
      .def("parameter_bytes", [](TableHandle& h) { return h.get().parameter_bytes(); })
      .def("optimizer_bytes", [](TableHandle& h) { return h.get().optimizer_bytes(); })
      .def("auxiliary_bytes", [](TableHandle& h) { return h.get().auxiliary_bytes(); })
      .def_property_readonly("signature_kind",
                             [](TableHandle& h) -> py::object {
                               const auto k = h.get().signature_kind();
                               if (!k) return py::none();
                               return py::str(signature_kind_name(*k));
                             })
      .def(
          "attach_signatures",
          [](TableHandle& h, const ValueSignatures& sigs, std::optional<std::vector<int>> features) {
            std::vector<int> f = features.value_or(std::vector<int>{});
            if (!features) {
              for (int i = 0; i < h.get().num_features(); ++i) f.push_back(i);
            }
            h.get().attach_signatures(sigs, f);
          },
          py::arg("signatures"), py::arg("features") = py::none())
      .def(
          "init", [](TableHandle& h, uint64_t seed) { h.get().init(seed); }, py::arg("seed"))
      .def(
          "set_optimizer",
          [](TableHandle& h, const std::string& kind, float eps, float init) {
            h.get().set_optimizer(optimizer_config(kind, eps, init));
          },
          py::arg("kind"), py::arg("eps") = OptimizerConfig{}.eps, py::arg("initial_accumulator") = 0.0f)
      .def(
          "forward",
          [](TableHandle& h, const py::object& ids, const py::object& offsets, const py::object& weights,
             const std::string& mode, bool include_last, py::object out) {
            return table_forward(h.get(), ids, offsets, weights, mode, include_last, std::move(out));
          },
          py::arg("ids"), py::arg("offsets"), py::arg("per_sample_weights") = py::none(), py::arg("mode") = "sum",
          py::arg("include_last_offset") = true, py::arg("out") = py::none())
      .def(
          "backward",
          [](TableHandle& h, const py::object& ids, const py::object& offsets, const py::array& grad,
             const py::object& weights, const std::string& mode, bool include_last,
             float lr) { table_backward(h.get(), ids, offsets, grad, weights, mode, include_last, lr); },
          py::arg("ids"), py::arg("offsets"), py::arg("grad"), py::arg("per_sample_weights") = py::none(),
          py::arg("mode") = "sum", py::arg("include_last_offset") = true, py::arg("lr") = 1.0f)
      .def(
          "blocks", [](py::object self) { return table_blocks(self.cast<TableHandle&>().get(), self); },
          "[(weights, state)] per parameter matrix: float32 views (rows x width) of the table's own memory; "
          "state is None for SGD. set_optimizer() reallocates the state: take the views again after it.")
      .def("state_bytes", [](TableHandle& h) { return table_state_bytes(h.get()); })
      .def(
          "load_state_bytes",
          [](TableHandle& h, const std::string& b) { table_load_state_bytes(h.get(), b, "table state"); },
          py::arg("data"))
      .def(
          "save",
          [](TableHandle& h, const std::string& path) {
            BinaryWriter w;
            h.get().save(w);
            write_framed_file(path, kTableMagic, kTableVersion, w.bytes());
          },
          py::arg("path"))
      .def(
          "load",
          [](TableHandle& h, const std::string& path) {
            const std::string bytes = read_framed_file(path, kTableMagic, kTableVersion);
            table_load_state_bytes(h.get(), bytes, path);
          },
          py::arg("path"));

  m.def(
      "fit_spec",
      [](const std::string& spec, const py::object& num_values, int64_t dim, int64_t budget_bytes) {
        std::vector<int64_t> cards;
        if (py::isinstance<py::int_>(num_values)) {
          cards.push_back(num_values.cast<int64_t>());
        } else {
          cards = num_values.cast<std::vector<int64_t>>();
        }
        return fit_spec_to_budget(Spec::parse(spec), {dim, cards}, budget_bytes).str();
      },
      py::arg("spec"), py::arg("num_values"), py::arg("dim"), py::arg("budget_bytes"),
      "The spec with its size keys set so that its parameters take at most budget_bytes.");
  m.def("spec_is_sized", [](const std::string& spec) { return spec_is_sized(Spec::parse(spec)); });
  m.def("methods", [] {
    py::list out;
    for (const auto& mi : list_methods()) out.append(py::make_tuple(mi.name, mi.summary, mi.keys));
    return out;
  });
}

}  // namespace cembed::python
