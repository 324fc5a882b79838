// The engine from Python: train, sweep, prepare and .cds datasets read in batches. Thin:
// configs cross as JSON text (the Python layer passes dicts), each call is the C++ function
// the CLI calls.
#include <pybind11/stl.h>

#include <nlohmann/json.hpp>

#include "arrays.h"
#include "bindings.h"
#include "cembed/build_info.h"
#include "cembed/dataset.h"
#include "cembed/prepare.h"
#include "cembed/sweep.h"
#include "cembed/train_config.h"
#include "cembed/trainer.h"

namespace cembed::python {

namespace {

// A batch of `rows` of `data`: labels (B), dense (B x D), values and offsets in the keyed
// layout of cembed.Collection (values of every feature one after the other; F * B + 1 offsets).
py::tuple dataset_batch(const Dataset& data, const py::array& rows_in) {
  if (!py::isinstance<py::array_t<int64_t>>(rows_in) || rows_in.ndim() != 1 ||
      !(rows_in.flags() & py::array::c_style)) {
    throw py::type_error("rows: expected a contiguous 1-D int64 array");
  }
  const std::span<const int64_t> rows(static_cast<const int64_t*>(rows_in.data()), static_cast<size_t>(rows_in.size()));
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i] < 0 || rows[i] >= data.rows()) {
      throw py::index_error("rows: entry " + std::to_string(i) + " is " + std::to_string(rows[i]) + ", outside [0, " +
                            std::to_string(data.rows()) + ") of " + data.path());
    }
  }
  Batch b;
  {
    py::gil_scoped_release release;
    gather_batch(data, rows, b);
  }
  const int64_t B = b.size, D = data.schema().num_dense(), F = data.schema().num_sparse();
  py::array_t<float> labels(B), dense({B, D});
  std::copy(b.labels.begin(), b.labels.end(), labels.mutable_data());
  std::copy(b.dense.begin(), b.dense.end(), dense.mutable_data());
  int64_t total = 0;
  for (const auto& ids : b.ids) total += static_cast<int64_t>(ids.size());
  py::array_t<uint32_t> values(total), offsets(F * B + 1);
  uint32_t* v = values.mutable_data();
  uint32_t* o = offsets.mutable_data();
  uint32_t base = 0;
  for (int64_t f = 0; f < F; ++f) {
    v = std::copy(b.ids[f].begin(), b.ids[f].end(), v);
    for (int64_t r = 0; r < B; ++r) o[f * B + r] = base + b.offsets[f][r];
    base += static_cast<uint32_t>(b.ids[f].size());
  }
  o[F * B] = base;
  return py::make_tuple(labels, dense, values, offsets);
}

}  // namespace

void register_engine(py::module_& m) {
  m.def("build_info", [] { return build_info().dump(); });
  m.def("default_train_config", [] { return TrainConfig{}.to_json().dump(); });
  m.def(
      "parse_bytes", [](const std::string& text) { return Budget::parse_bytes(text).value; }, py::arg("text"),
      "Bytes of \"64MiB\", \"1.5GB\", \"1000000\" (the CLI's --embedding-budget).");
  m.def("train", [](const std::string& config) {
    const TrainConfig c = TrainConfig::from_json(nlohmann::json::parse(config));
    py::gil_scoped_release release;
    return train(c).dump();
  });
  m.def(
      "sweep",
      [](const std::string& base, std::vector<std::string> methods, std::vector<double> ratios,
         std::vector<uint64_t> seeds, const std::string& out_dir, bool progress) {
        SweepConfig c;
        c.base = TrainConfig::from_json(nlohmann::json::parse(base));
        c.methods = std::move(methods);
        c.ratios = std::move(ratios);
        c.seeds = std::move(seeds);
        c.out_dir = out_dir;
        c.progress = progress;
        py::gil_scoped_release release;
        return run_sweep(c).dump();
      },
      py::arg("base"), py::arg("methods"), py::arg("ratios"), py::arg("seeds"), py::arg("out_dir"),
      py::arg("progress"));
  m.def(
      "prepare",
      [](const std::string& format, std::vector<std::string> train_files, std::vector<std::string> valid_files,
         std::vector<std::string> test_files, const std::string& out_dir, int64_t min_count, bool skip_bad_lines,
         const std::string& schema, int64_t hash_buckets, const std::string& split, double valid_fraction,
         double test_fraction, uint64_t seed, int threads) {
        PrepareConfig c;
        c.format = parse_text_format(format);
        c.train_files = std::move(train_files);
        c.valid_files = std::move(valid_files);
        c.test_files = std::move(test_files);
        c.out_dir = out_dir;
        c.min_count = min_count;
        c.skip_bad_lines = skip_bad_lines;
        c.schema_path = schema;
        c.hash_buckets = hash_buckets;
        c.split = split;
        c.valid_fraction = valid_fraction;
        c.test_fraction = test_fraction;
        c.seed = seed;
        c.threads = threads;
        py::gil_scoped_release release;
        return prepare_dataset(c).dump();
      },
      py::arg("format"), py::arg("train_files"), py::arg("valid_files"), py::arg("test_files"), py::arg("out_dir"),
      py::arg("min_count"), py::arg("skip_bad_lines"), py::arg("schema"), py::arg("hash_buckets"), py::arg("split"),
      py::arg("valid_fraction"), py::arg("test_fraction"), py::arg("seed"), py::arg("threads"));

  py::class_<Dataset>(m, "Dataset", "A .cds dataset, memory-mapped (Dataset::open).")
      .def(py::init([](const std::string& path, bool verify) { return Dataset::open(path, verify); }), py::arg("path"),
           py::arg("verify") = true)
      .def_property_readonly("path", &Dataset::path)
      .def_property_readonly("rows", &Dataset::rows)
      .def_property_readonly("schema_json", [](const Dataset& d) { return d.schema().to_json().dump(); })
      .def("batch", &dataset_batch, py::arg("rows"),
           "(labels, dense, values, offsets) of these rows; values/offsets in the keyed layout.");
}

}  // namespace cembed::python
