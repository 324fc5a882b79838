// DatasetWriter: how cembed writes .cds files (synth, prepare). Internal: a library user reads
// datasets through include/cembed/dataset.h and makes them with cembed's prepare or synth.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "cembed/dataset.h"

namespace cembed {

// Streams rows into a dataset file with bounded memory (each column spills to a temporary
// file beside the output); finish() assembles the file and renames it into place.
//
// Ids may also be provisional (numbered as values are first seen, before a vocabulary
// exists): the writer's schema then only bounds them, and finish_remapped() writes any
// range of rows with each id replaced through a per-feature table.
class DatasetWriter {
 public:
  DatasetWriter(std::string path, DatasetSchema schema);
  ~DatasetWriter();
  DatasetWriter(const DatasetWriter&) = delete;
  DatasetWriter& operator=(const DatasetWriter&) = delete;

  // dense has num_dense() values; bags has num_sparse() entries (one id each for one-hot).
  void add_row(float label, std::span<const float> dense, std::span<const std::span<const Id>> bags);
  // n rows at once, every feature one-hot: labels (n), dense (n x num_dense, row-major),
  // columns (num_sparse() spans of n ids). The block is copied and written on a background
  // thread while the caller goes on (one write per column); the next call waits for it.
  void add_block(std::span<const float> labels, std::span<const float> dense,
                 std::span<const std::span<const Id>> columns);
  void set_metadata(nlohmann::json metadata) { metadata_ = std::move(metadata); }
  // Threads that copy (and remap) the columns when a file is finished.
  void set_threads(int threads) { threads_ = threads < 1 ? 1 : threads; }
  int64_t rows() const { return rows_; }
  void finish();

  // Writes rows [begin, end) to `path` (atomically) under `schema` (the writer's, with its
  // final cardinalities), each id of feature f replaced by remap[f][id] (remap empty: ids
  // as written). Every feature must be one-hot unless the range is all rows. May be called
  // once per range; no rows can be added after.
  struct Written {
    int64_t rows = 0;
    double label_sum = 0;
    std::vector<int64_t> unmapped;  // per feature: non-zero ids that became 0
  };
  Written finish_remapped(const std::string& path, const DatasetSchema& schema, std::span<const std::vector<Id>> remap,
                          int64_t begin, int64_t end);
  // What finish_remapped() would report, without writing (for statistics in the metadata).
  Written measure(std::span<const std::vector<Id>> remap, int64_t begin, int64_t end) const;

 private:
  struct Spill;
  class BlockWriter;  // add_block()'s writes on a background thread
  void check_open() const;
  std::string path_;
  DatasetSchema schema_;
  nlohmann::json metadata_ = nlohmann::json::object();
  int64_t rows_ = 0;
  std::vector<std::unique_ptr<Spill>> spills_;  // labels, dense, then offsets+ids per feature
  std::unique_ptr<BlockWriter> behind_;         // after spills_: stops before they close
  std::vector<uint64_t> nnz_;
  bool finished_ = false, closed_ = false;  // finished: no more rows; closed: no more files
  int threads_ = 1;
};

}  // namespace cembed
