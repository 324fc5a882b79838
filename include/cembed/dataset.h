// The cembed dataset file (.cds): a versioned, checksummed, memory-mapped columnar file.
//
// Layout (little-endian; every section starts at a multiple of 64 bytes):
//   "CEMBDSET" | u32 version | u32 header length | header JSON | padding
//   labels     float32[rows]
//   dense      float32[rows * num_dense]           row-major (one row's dense features together)
//   per categorical feature f:
//     one-hot:   ids uint32[rows]
//     multi-hot: offsets uint64[rows + 1], ids uint32[offsets[rows]]
//   trailer:   u64 XXH64 of every byte before the trailer | "CEMBDEND"
// The header JSON holds the schema (names, cardinalities, multi-hot flags), the section
// offsets, and free-form metadata (statistics, the generator's settings).
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "cembed/bags.h"
#include "cembed/memory_plan.h"

namespace cembed {

struct DatasetSchema {
  std::vector<std::string> dense_names;
  std::vector<FeatureInfo> sparse;  // name and cardinality (ids lie in [0, cardinality))
  std::vector<bool> multi_hot;      // per sparse feature
  // Identity of the vocabulary that numbered the ids (e.g. "xxh64:..." of prepare's
  // vocabulary.bin, or the synthetic generator's settings); empty when the writer gave none.
  // Part of the schema: datasets, models and histories only mix under the same one.
  std::string vocabulary_id;

  int num_dense() const { return static_cast<int>(dense_names.size()); }
  int num_sparse() const { return static_cast<int>(sparse.size()); }
  nlohmann::json to_json() const;
  static DatasetSchema from_json(const nlohmann::json& j);
};

class Dataset {
 public:
  // Maps `path`; verifies its framing, version and (when verify) checksum and id ranges.
  static Dataset open(const std::string& path, bool verify = true);
  Dataset(Dataset&&) noexcept;
  Dataset& operator=(Dataset&&) noexcept;
  ~Dataset();

  const std::string& path() const { return path_; }
  int64_t rows() const { return rows_; }
  const DatasetSchema& schema() const { return schema_; }
  const nlohmann::json& metadata() const { return metadata_; }
  // The XXH64 of the file's content, as stored in its trailer: the data's identity,
  // whatever path it is opened by.
  uint64_t checksum() const { return checksum_; }
  // {"rows", "checksum" (hex), "schema"}: what a checkpoint records of its training data.
  nlohmann::json identity() const;

  float label(int64_t r) const { return labels_[r]; }
  const float* dense_row(int64_t r) const { return dense_ + r * schema_.num_dense(); }
  std::span<const Id> bag(int f, int64_t r) const {
    const auto& c = columns_[f];
    if (c.offsets == nullptr) return {c.ids + r, 1};
    return {c.ids + c.offsets[r], static_cast<size_t>(c.offsets[r + 1] - c.offsets[r])};
  }
  std::span<const float> labels() const { return {labels_, static_cast<size_t>(rows_)}; }

 private:
  Dataset() = default;
  struct Column {
    const uint64_t* offsets = nullptr;
    const Id* ids = nullptr;
  };
  std::string path_;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  int64_t rows_ = 0;
  DatasetSchema schema_;
  nlohmann::json metadata_;
  uint64_t checksum_ = 0;
  const float* labels_ = nullptr;
  const float* dense_ = nullptr;
  std::vector<Column> columns_;
};

// A batch gathered from a dataset: per feature the bags in CSR form.
struct Batch {
  int64_t size = 0;
  std::vector<float> labels;                   // size
  std::vector<float> dense;                    // size x num_dense
  std::vector<std::vector<Id>> ids;            // per feature
  std::vector<std::vector<uint32_t>> offsets;  // per feature, size + 1
  std::vector<BagBatch> bags() const;
};

// Throws unless `data` was numbered by the vocabulary of `expected` (a schema's JSON: the
// same features, cardinalities, multi-hot flags and vocabulary id), naming the first
// difference; `expected_what` says whose schema it is ("the model's training data").
void check_same_vocabulary(const Dataset& data, const nlohmann::json& expected, const std::string& expected_what);

void gather_batch(const Dataset& data, std::span<const int64_t> rows, Batch& out);

// The schema's features with FeatureInfo::effective_values and label_information measured
// from the rows of `data` (one pass over each feature's ids), as the memory planner's
// frequency rule reads them.
std::vector<FeatureInfo> measure_value_frequencies(const Dataset& data);

}  // namespace cembed
