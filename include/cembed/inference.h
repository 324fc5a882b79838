// Inference: a trained model exported to a compact file (.cem) and scored from it.
//
// export_model() writes a checkpoint's model without optimizer state: the model config,
// the memory plan, every table's parameter blocks in fp32, fp16 or int8 (int8 in groups of
// whole rows, at least 16 floats, each with an fp32 scale and minimum), the MLPs in fp32,
// what a table needs to serve besides its parameters (lma's block placement) and,
// optionally, the vocabulary prepare wrote (so raw values can be scored). The layout, the
// checksums and every check on open are in docs/inference.md.
//
// InferenceModel::open() maps the file, checks every section's checksum, rebuilds each
// table from its spec through the factory (the same classes that trained it), checks that
// every parameter block has exactly the size the spec implies and every placement entry
// lies in its array; the tables then read their parameters in place from the mapping in the
// file's precision (the file's pages are shared by every process that opens it; fp16 and
// int8 rows are decoded as lookups read them). Lookups run the trained model's code. An
// fp32 export scores exactly as the trained model did; an fp16 or int8 one exactly as the
// same file decoded at load (TableReading::Decoded) does.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cembed/dataset.h"
#include "cembed/dlrm.h"
#include "cembed/weight_view.h"

namespace cembed {

Precision parse_precision(const std::string& name);  // "fp32", "fp16", "int8"
const char* precision_name(Precision p);

struct LoadedCheckpoint;  // trainer.h

struct ExportOptions {
  Precision precision = Precision::Fp32;
  // A folder `cembed prepare` wrote (vocabulary.bin, prepare.json): raw values can then be
  // scored. Empty: ids only.
  std::string vocabulary_dir;
};

// Writes checkpoint's model to `path` (atomically); returns the file's metadata JSON.
nlohmann::json export_model(const LoadedCheckpoint& checkpoint, const std::string& path, const ExportOptions& options);

class InferenceModel {
 public:
  // Opens and validates `path`; throws cembed::Error naming the file and what is wrong.
  // InPlace: tables read the mapping (the default). Decoded: fp16 and int8 tables are
  // decoded at load into the tables' own fp32 memory (the reference the in-place reads are
  // tested against; fp32 tables are read in place either way).
  enum class TableReading { InPlace, Decoded };
  static std::unique_ptr<InferenceModel> open(const std::string& path, TableReading reading = TableReading::InPlace);
  ~InferenceModel();

  const std::string& path() const;
  int64_t file_bytes() const;
  Precision precision() const;
  const DlrmConfig& config() const;
  const MemoryPlan& plan() const;
  int64_t num_dense() const { return config().num_dense; }
  int num_features() const;
  const nlohmann::json& metadata() const;

  // Probabilities sigmoid(logit) of a batch (labels are ignored); ids out of range throw.
  // Not reentrant: one call at a time per model (it uses OpenMP threads inside).
  void score(const Batch& batch, std::vector<float>& probabilities);
  void logits(const Batch& batch, std::vector<float>& logits);

  // Rows into a batch: start_batch() empties it (num_features() empty bags); add_row()
  // appends one row of num_dense() values and one id per feature (ids are checked when
  // scored).
  void start_batch(Batch& batch) const;
  void add_row(Batch& batch, std::span<const float> dense, std::span<const Id> ids) const;
  // Raw rows (needs the exported vocabulary): one line in the training text format of the
  // vocabulary's data (the label field first, as prepare reads it, ignored here), parsed by
  // prepare's parser, values mapped through the vocabulary (unknown values: id 0), dense
  // values transformed as prepare did. A malformed line throws, naming `source`, the line
  // number and the field. Not reentrant (the parser keeps scratch).
  void add_line(Batch& batch, std::string_view line, const std::string& source, int64_t line_number);

  // The exported vocabulary: present when exported with one; the text format of its data
  // ("criteo", "avazu", "libfm"; empty without one).
  bool has_vocabulary() const;
  std::string text_format() const;

 private:
  struct State;
  explicit InferenceModel(std::unique_ptr<State> state);
  std::unique_ptr<State> s_;
};

}  // namespace cembed
